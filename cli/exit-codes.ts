/**
 * The exit codes of `serflow`, one per failure class, and the one mapping from an error to its class. Everything the
 * CLI ends with goes through here: the top-level error handler (cli/main.ts), commander's usage errors, `status`
 * when the stack is down and `infer` when queries failed. A script can tell "fix the command line" (2) from "fix
 * the input" (3), "start the stack" (4), "the query failed" (5) and "try again later / give it longer" (6).
 *
 * Errors are matched by `name` (every SERFLOW error class sets it; `InferenceFailedError` by its failure `type`),
 * walking the `cause` chain, so this file needs none of the error classes (only the failure-type names of
 * common/errors.ts) and a wrapped error keeps its class.
 */
import { QUERY_DEADLINE_EXCEEDED, STAGE_UNAVAILABLE_ERROR } from '../common/errors';

/** The failure classes, each with its exit code and what it means (the `serflow --help` table). */
export const EXIT_CLASSES = {
  ok: { code: 0, meaning: 'success' },
  internal: { code: 1, meaning: 'internal error (a bug, or a failure not classified below)' },
  usage: { code: 2, meaning: 'usage: unknown command or flag, bad or missing flag value' },
  badInput: {
    code: 3,
    meaning: 'bad input: invalid tensor, unknown model or stage, invalid configuration, manifest, plan or profile',
  },
  noStack: {
    code: 4,
    meaning:
      'no stack: none recorded or configured (`serflow up --detach`), unreachable (down, wrong address or ' +
      'credentials), or unable to start (server binaries missing: `npm run setup`)',
  },
  queryFailed: { code: 5, meaning: 'a query failed (in a stage, a model output, a lost activation)' },
  timeout: { code: 6, meaning: "timeout: a query's deadline passed, or no worker took a stage in time" },
} as const satisfies Record<string, { code: number; meaning: string }>;

export type ExitClass = keyof typeof EXIT_CLASSES;

/** Exit code of each class, e.g. `EXIT_CODE.noStack` = 4. */
export const EXIT_CODE = Object.fromEntries(Object.entries(EXIT_CLASSES).map(([k, v]) => [k, v.code])) as {
  readonly [K in ExitClass]: (typeof EXIT_CLASSES)[K]['code'];
};

/** Error classes (by `name`) and their failure class. */
export const EXIT_CLASS_BY_ERROR_NAME: Readonly<Record<string, ExitClass>> = {
  // commander: unknown option or command, missing or invalid argument (also thrown by option parsers and actions)
  CommanderError: 'usage',
  InvalidArgumentError: 'usage',
  // the input, the configuration or a file the command was pointed at is wrong
  InvalidInputError: 'badInput',
  UnknownModelError: 'badInput',
  UnknownStageError: 'badInput',
  ConfigError: 'badInput',
  NatsAuthError: 'badInput',
  InvalidManifestError: 'badInput',
  InvalidRoutingPlanError: 'badInput',
  InvalidPlanSpecError: 'badInput',
  InvalidProfileError: 'badInput',
  MissingProfileError: 'badInput',
  ProfileOptionError: 'badInput',
  ScheduleError: 'badInput',
  TraceError: 'badInput',
  TraceNotFoundError: 'badInput',
  UnknownInstanceTypeError: 'badInput',
  MissingOrchestrationCostError: 'badInput',
  PoolsApiError: 'badInput',
  KubernetesNameError: 'badInput',
  UserDataError: 'badInput',
  // nothing to talk to
  NoStackError: 'noStack',
  StackUnreachableError: 'noStack',
  NoPoolAgentError: 'noStack',
  StreamNotFoundError: 'noStack',
  MissingToolError: 'noStack',
  // a query ran and failed
  MissingActivationError: 'queryFailed',
  ModelOutputError: 'queryFailed',
  FunctionInvocationError: 'queryFailed',
  FunctionInstanceLostError: 'queryFailed',
  // waited too long
  StreamReadTimeoutError: 'timeout',
  [QUERY_DEADLINE_EXCEEDED]: 'timeout',
  [STAGE_UNAVAILABLE_ERROR]: 'timeout',
};

/**
 * The class of a query's failure type (an `InferenceFailedError`'s `type`, or the name of another error a query
 * rejected with): bad input, timeout or no stack as listed above; anything else (`WorkflowFailed`, an unlisted
 * stage error) is `queryFailed`.
 */
export function exitClassOfFailureType(type: string): ExitClass {
  const c = EXIT_CLASS_BY_ERROR_NAME[type];
  return c === 'badInput' || c === 'timeout' || c === 'noStack' ? c : 'queryFailed';
}

/** gRPC status codes (a Temporal `ServiceError`'s cause) with a class of their own. */
const EXIT_CLASS_BY_GRPC_CODE: Readonly<Record<number, ExitClass>> = {
  3: 'badInput', // INVALID_ARGUMENT
  4: 'timeout', // DEADLINE_EXCEEDED
  14: 'noStack', // UNAVAILABLE
};

/** NATS error codes with a class of their own. */
const EXIT_CLASS_BY_NATS_CODE: Readonly<Record<string, ExitClass>> = {
  CONNECTION_REFUSED: 'noStack',
  CONNECTION_CLOSED: 'noStack',
  CONNECTION_TIMEOUT: 'noStack',
  DISCONNECT: 'noStack',
  NO_RESPONDERS: 'noStack',
  TIMEOUT: 'timeout',
};

/** How deep the `cause` chain is followed. */
const MAX_CAUSE_DEPTH = 8;

function classOfOne(err: unknown): ExitClass | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { name?: unknown; code?: unknown; exitCode?: unknown; type?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  if (name === 'InferenceFailedError' && typeof e.type === 'string') return exitClassOfFailureType(e.type);
  // commander's --help and --version end through the same path, with exit code 0
  if ((name === 'CommanderError' || name === 'InvalidArgumentError') && e.exitCode === 0) return 'ok';
  const byName = EXIT_CLASS_BY_ERROR_NAME[name];
  if (byName) return byName;
  if (name === 'ServiceError' || name === 'TransportError') {
    const grpc = (err as { cause?: { code?: unknown } }).cause?.code ?? e.code;
    return typeof grpc === 'number' ? EXIT_CLASS_BY_GRPC_CODE[grpc] : undefined;
  }
  if (name === 'NatsError' && typeof e.code === 'string') return EXIT_CLASS_BY_NATS_CODE[e.code];
  return undefined;
}

/** The failure class of `err`: of the first error along its `cause` chain whose class is known, else internal. */
export function exitClassOf(err: unknown): ExitClass {
  let e: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && e; depth++) {
    const c = classOfOne(e);
    if (c) return c;
    e = (e as { cause?: unknown }).cause;
  }
  return 'internal';
}

/** The exit code `serflow` ends with on `err`. */
export function exitCodeOf(err: unknown): number {
  return EXIT_CLASSES[exitClassOf(err)].code;
}

/**
 * The exit class of a workload (`infer`, `demo`) from its failures' types: ok when none failed, the failures'
 * class when they all share one (every query timed out: timeout), else queryFailed.
 */
export function exitClassOfFailures(failed: number, types: readonly string[]): ExitClass {
  if (failed === 0) return 'ok';
  const classes = new Set(types.map(exitClassOfFailureType));
  const [only] = classes;
  return classes.size === 1 && only ? only : 'queryFailed';
}

/** Width the help table's meanings are wrapped to. */
const HELP_WIDTH = 100;

/** The table shown at the end of `serflow --help`: code, then meaning, wrapped to HELP_WIDTH. */
export function exitCodesHelp(): string {
  const indent = ' '.repeat(5);
  const rows = Object.values(EXIT_CLASSES).map(({ code, meaning }) => {
    const lines = [`  ${String(code).padEnd(3)}`];
    for (const word of meaning.split(' ')) {
      const last = lines.length - 1;
      if (lines[last]!.length + 1 + word.length > HELP_WIDTH && lines[last]!.trim().length > 1) lines.push(indent);
      lines[lines.length - 1] += `${lines[lines.length - 1]!.endsWith(' ') ? '' : ' '}${word}`;
    }
    return lines.join('\n');
  });
  return ['Exit codes:', ...rows].join('\n');
}

/**
 * The error as one JSON object (what `--json` commands print on stdout when they fail, beside the text on
 * stderr): `{"error":{"exitCode":4,"class":"noStack","type":"NoStackError","message":"..."}}`.
 */
export function errorJson(err: unknown): string {
  const cls = exitClassOf(err);
  const e = err as { name?: unknown; type?: unknown; message?: unknown } | undefined;
  const type = typeof e?.type === 'string' ? e.type : typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return JSON.stringify({ error: { exitCode: EXIT_CLASSES[cls].code, class: cls, type, message } });
}
