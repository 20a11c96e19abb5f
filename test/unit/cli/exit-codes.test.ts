/**
 * The exit-code table of `serflow` (cli/exit-codes.ts): one distinct code per failure class, and every error class
 * SERFLOW raises mapped to its class, by the real classes (a renamed class would fall back to "internal" and fail
 * here), through `cause` chains and inside InferenceFailedError.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommanderError, InvalidArgumentError } from 'commander';
import { MissingOrchestrationCostError, UnknownInstanceTypeError } from '../../../billing/prices';
import { StreamNotFoundError, StreamReadTimeoutError } from '../../../billing/reader';
import { InvalidProfileError, MissingProfileError, ProfileOptionError } from '../../../autoscaler/profile';
import {
  EXIT_CLASS_BY_ERROR_NAME,
  EXIT_CLASSES,
  EXIT_CODE,
  errorJson,
  exitClassOf,
  exitClassOfFailures,
  exitCodeOf,
  exitCodesHelp,
  type ExitClass,
} from '../../../cli/exit-codes';
import { statusProblem } from '../../../cli/stack-commands';
import { InferenceFailedError } from '../../../client';
import {
  ConfigError,
  InvalidInputError,
  MissingActivationError,
  ModelOutputError,
  QUERY_DEADLINE_EXCEEDED,
  STAGE_UNAVAILABLE_ERROR,
  UnknownModelError,
  UnknownStageError,
} from '../../../common/errors';
import { InvalidPlanSpecError, InvalidRoutingPlanError } from '../../../common/routing';
import { UserDataError } from '../../../deploy/aws/user-data';
import { FunctionInstanceLostError, FunctionInvocationError } from '../../../deploy/local/serverless-platform';
import { MissingToolError } from '../../../deploy/local/tools';
import { ScheduleError } from '../../../eval/workload/schedules';
import { TraceError } from '../../../eval/workload/traces';
import { TraceNotFoundError } from '../../../eval/report/trace-waterfall';
import { NatsAuthError } from '../../../infra/nats-auth';
import { NoPoolAgentError, PoolsApiError } from '../../../infra/pools-api';
import { KubernetesNameError } from '../../../deploy/kubernetes/names';
import { NoStackError, StackUnreachableError } from '../../../infra/stack-state';
import { InvalidManifestError } from '../../../models/manifest';

describe('exit codes', () => {
  test('one distinct code per class, 0 for ok, documented in the help table', () => {
    const codes = Object.values(EXIT_CLASSES).map((c) => c.code);
    assert.equal(new Set(codes).size, codes.length, `codes repeat: ${codes.join(', ')}`);
    assert.deepEqual(
      codes.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.equal(EXIT_CODE.ok, 0);
    assert.equal(EXIT_CODE.usage, 2);
    assert.equal(EXIT_CODE.noStack, 4);
    const help = exitCodesHelp();
    for (const { code, meaning } of Object.values(EXIT_CLASSES)) {
      assert.match(help, new RegExp(`^  ${code} +${meaning.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    }
  });

  // Each SERFLOW error class, constructed for real, and the class it must end the CLI with.
  const cases: [Error, ExitClass][] = [
    [new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"), 'usage'],
    [new InvalidArgumentError('expected a positive integer'), 'usage'],
    [new InvalidInputError('dims'), 'badInput'],
    [new UnknownModelError('nope'), 'badInput'],
    [new UnknownStageError('9'), 'badInput'],
    [new ConfigError('queries.deadlineMs'), 'badInput'],
    [new NatsAuthError('NATS_CREDS'), 'badInput'],
    [new InvalidManifestError('stages'), 'badInput'],
    [new InvalidRoutingPlanError('vmShare'), 'badInput'],
    [new InvalidPlanSpecError('spec'), 'badInput'],
    [new InvalidProfileError('stages'), 'badInput'],
    [new MissingProfileError('no profile'), 'badInput'],
    [new ProfileOptionError('memory'), 'badInput'],
    [new ScheduleError('at'), 'badInput'],
    [new TraceError('file'), 'badInput'],
    [new TraceNotFoundError('no span of query q'), 'badInput'],
    [new UnknownInstanceTypeError('x9.huge', []), 'badInput'],
    [new MissingOrchestrationCostError('cpuMsPerAction'), 'badInput'],
    [new PoolsApiError('vms'), 'badInput'],
    [new KubernetesNameError('namespace'), 'badInput'],
    [new UserDataError('model'), 'badInput'],
    [new NoStackError('no Temporal address'), 'noStack'],
    [new StackUnreachableError('Temporal at 127.0.0.1:1: not ready'), 'noStack'],
    [new NoPoolAgentError('no cloud agent'), 'noStack'],
    [new StreamNotFoundError('BILLING'), 'noStack'],
    [new MissingToolError('nats-server'), 'noStack'],
    [new MissingActivationError('gone'), 'queryFailed'],
    [new ModelOutputError('no activation'), 'queryFailed'],
    [new FunctionInvocationError({ type: 'Error', message: 'boom', nonRetryable: false }), 'queryFailed'],
    [new FunctionInstanceLostError('killed'), 'queryFailed'],
    [new StreamReadTimeoutError('slow'), 'timeout'],
    [new Error('anything else'), 'internal'],
    [new TypeError('x is undefined'), 'internal'],
  ];
  for (const [err, expected] of cases) {
    test(`${err.name} → ${expected} (${EXIT_CLASSES[expected].code})`, () => {
      assert.equal(exitClassOf(err), expected);
      assert.equal(exitCodeOf(err), EXIT_CLASSES[expected].code);
    });
  }

  test('every name in the table is a real error class above (or a failure type)', () => {
    const constructed = new Set(cases.map(([e]) => e.name));
    const failureTypes = new Set([QUERY_DEADLINE_EXCEEDED, STAGE_UNAVAILABLE_ERROR]);
    for (const name of Object.keys(EXIT_CLASS_BY_ERROR_NAME)) {
      assert.ok(constructed.has(name) || failureTypes.has(name), `${name} is not tested`);
    }
  });

  test('a failed query by its failure type', () => {
    const failed = (type: string) => new InferenceFailedError('q1', type, 'm');
    assert.equal(exitClassOf(failed('InvalidInputError')), 'badInput');
    assert.equal(exitClassOf(failed('UnknownModelError')), 'badInput');
    assert.equal(exitClassOf(failed(QUERY_DEADLINE_EXCEEDED)), 'timeout');
    assert.equal(exitClassOf(failed(STAGE_UNAVAILABLE_ERROR)), 'timeout');
    assert.equal(exitClassOf(failed('ModelOutputError')), 'queryFailed');
    assert.equal(exitClassOf(failed('WorkflowFailed')), 'queryFailed');
  });

  test('through cause chains, and by gRPC and NATS codes', () => {
    assert.equal(exitClassOf(new Error('--trace: bad', { cause: new TraceError('x') })), 'badInput');
    assert.equal(
      exitClassOf(new Error('outer', { cause: new Error('middle', { cause: new NoStackError('x') }) })),
      'noStack',
    );
    const grpc = (code: number) => Object.assign(new Error('rpc'), { name: 'ServiceError', cause: { code } });
    assert.equal(exitClassOf(grpc(14)), 'noStack');
    assert.equal(exitClassOf(grpc(4)), 'timeout');
    assert.equal(exitClassOf(grpc(13)), 'internal');
    const nats = (code: string) => Object.assign(new Error('nats'), { name: 'NatsError', code });
    assert.equal(exitClassOf(new Error('wrapped', { cause: nats('CONNECTION_REFUSED') })), 'noStack');
    assert.equal(exitClassOf(nats('TIMEOUT')), 'timeout');
    assert.equal(exitClassOf(undefined), 'internal');
    assert.equal(exitClassOf('a string'), 'internal');
  });

  test('--help and --version (commander exit code 0) are ok; help after no command is usage', () => {
    assert.equal(exitClassOf(new CommanderError(0, 'commander.version', '0.1.0')), 'ok');
    assert.equal(exitClassOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), 'ok');
    assert.equal(exitClassOf(new CommanderError(1, 'commander.help', '(outputHelp)')), 'usage');
  });

  test('a workload ends with the class its failures share', () => {
    assert.equal(exitClassOfFailures(0, []), 'ok');
    assert.equal(exitClassOfFailures(3, [QUERY_DEADLINE_EXCEEDED]), 'timeout');
    assert.equal(exitClassOfFailures(3, ['InvalidInputError', 'UnknownStageError']), 'badInput');
    assert.equal(exitClassOfFailures(3, ['InvalidInputError', QUERY_DEADLINE_EXCEEDED]), 'queryFailed');
    assert.equal(exitClassOfFailures(1, ['Error']), 'queryFailed');
    assert.equal(exitClassOfFailures(2, ['StackUnreachableError']), 'noStack');
  });

  test('the JSON error names the class, the code, the type and the message', () => {
    assert.deepEqual(JSON.parse(errorJson(new NoStackError('no Temporal address'))), {
      error: { exitCode: 4, class: 'noStack', type: 'NoStackError', message: 'no Temporal address' },
    });
    assert.deepEqual(JSON.parse(errorJson(new InferenceFailedError('q', QUERY_DEADLINE_EXCEEDED, 'late'))), {
      error: { exitCode: 6, class: 'timeout', type: QUERY_DEADLINE_EXCEEDED, message: 'late' },
    });
  });
});

describe('status problem', () => {
  const up = { temporalAddress: 't:7233', temporalReachable: true, natsUrl: 'nats://n:4222', natsReachable: true };
  test('null when both servers answer; otherwise names what is missing or down', () => {
    assert.equal(statusProblem(up, '/h/state.json'), null);
    assert.match(
      statusProblem({ ...up, temporalAddress: null, natsUrl: null }, '/h/state.json') ?? '',
      /^no stack: .*\/h\/state\.json.*serflow up --detach/,
    );
    assert.match(statusProblem({ ...up, natsReachable: false }, '') ?? '', /NATS at nats:\/\/n:4222 does not answer/);
    assert.match(statusProblem({ ...up, temporalAddress: null }, '') ?? '', /no Temporal address/);
  });
});
