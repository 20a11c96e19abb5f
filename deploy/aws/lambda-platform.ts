/**
 * AWS Lambda as the serverless platform (infra/providers.ts `ServerlessPlatform`): one Lambda function per stage or
 * fused run (names and memory from config `aws.lambda`, lambda-functions.ts), invoked synchronously with
 * `@aws-sdk/client-lambda`, running deploy/aws/lambda-handler.ts.
 *
 * Lambda owns the instances (execution environments), cold starts, keep-alive and the concurrency limit; this adapter
 * reads what it did from each invocation's REPORT line (lambda-report.ts) and publishes the same billing facts the
 * local platform publishes (deploy/local/serverless-platform.ts), so the ledger bills Lambda as it bills the
 * emulation:
 * - `faas.invoked` per invocation that ran (succeeded or failed): Duration, Init Duration (cold start), Memory Size;
 * - `faas.instance.started` when an invocation reports an execution environment not seen before (a cold start);
 * - `faas.throttled` when Lambda refuses a call (429 TooManyRequestsException), then FunctionThrottledError.
 * Lambda does not say when it reclaims an environment, so no `faas.instance.reclaimed` is published; `list()` forgets
 * an environment unused for LAMBDA_IDLE_FORGET_MS instead.
 */
import {
  InvokeCommand,
  TooManyRequestsException,
  type InvokeCommandOutput,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import type { BillingFact, BillingPublisher } from '../../billing/publisher';
import type { SerflowConfig } from '../../common/config';
import type { StageCallContext, StageInput, StageOutput, StageRunInput } from '../../common/contracts';
import { InvalidInputError, UnknownStageError } from '../../common/errors';
import {
  FunctionThrottledError,
  type FunctionInstanceInfo,
  type FunctionInvocation,
  type FunctionRef,
  type ServerlessPlatform,
} from '../../infra/providers';
import { loadManifest, type ModelManifest } from '../../models/manifest';
import type { FunctionErrorInfo } from '../../workers/function-instance';
import { checkFunctionRef, functionName, isFused, lastStageOf } from '../local/function-pool';
import { checkRunOutputs, PlatformClosedError } from '../local/serverless-platform';
import { createLambdaClient } from './clients';
import { lambdaFunctionName, lambdaMemoryMb } from './lambda-functions';
import { parseLogResult, type LambdaReport } from './lambda-report';
import type { LambdaFunctionReply } from './lambda-handler';

/** `list()` forgets an execution environment unused this long: Lambda reclaims idle ones after ~10 min. */
export const LAMBDA_IDLE_FORGET_MS = 600_000;

/**
 * The function ran and failed: its handler reported a stage failure (`type`, `message`, `nonRetryable` as the
 * handler described it: bad input is non-retryable), or it crashed or could not start (Lambda's `FunctionError`
 * set: `type` is the runtime's `errorType`, retryable). Billed like a successful invocation. Its fields are those the
 * faas gateway reads back (activities/faas-gateway.ts), as for the local platform's FunctionInvocationError.
 */
export class LambdaFunctionError extends Error {
  override readonly name = 'LambdaFunctionError';
  readonly type: string;
  readonly nonRetryable: boolean;
  /** Lambda's `FunctionError` (`Unhandled`) when the runtime reported it; absent for a failure the handler replied. */
  readonly functionError?: string;
  constructor(info: FunctionErrorInfo & { functionError?: string }, options?: ErrorOptions) {
    super(info.message, options);
    this.type = info.type;
    this.nonRetryable = info.nonRetryable;
    if (info.functionError) this.functionError = info.functionError;
  }
}

/** Invoke itself failed (function not found, access denied, network, a malformed reply): the call did not run. */
export class LambdaInvokeError extends Error {
  override readonly name = 'LambdaInvokeError';
}

export interface LambdaPlatformOptions {
  /** `aws.lambda` (names, memory, invoke timeout), `modelsDir` (to check a function's stages). */
  config: SerflowConfig;
  billing: BillingPublisher;
  /** @default createLambdaClient(config) */
  client?: LambdaClient;
  /** Diagnostics (billing publish failures, a missing REPORT line). @default console.error */
  log?: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
}

/** What the handler replies, checked: anything else is not a SERFLOW function (a wrong handler or function). */
function checkReply(name: string, value: unknown): LambdaFunctionReply {
  const r = value as Partial<LambdaFunctionReply> | null;
  const where = `Lambda function ${name} replied`;
  if (!r || typeof r !== 'object' || typeof r.ok !== 'boolean' || typeof r.instanceId !== 'string' || !r.instanceId) {
    throw new LambdaInvokeError(`${where} ${JSON.stringify(value)?.slice(0, 200)}, not a SERFLOW function reply`);
  }
  if (r.ok && (!r.output || typeof r.output !== 'object' || typeof r.output.stage !== 'number')) {
    throw new LambdaInvokeError(`${where} ok without a stage output`);
  }
  if (!r.ok) {
    const e = (r as { error?: Partial<FunctionErrorInfo> }).error;
    if (!e || typeof e.type !== 'string' || typeof e.message !== 'string' || typeof e.nonRetryable !== 'boolean') {
      throw new LambdaInvokeError(`${where} a failure without {type, message, nonRetryable}`);
    }
  }
  return r as LambdaFunctionReply;
}

/** The JSON payload of an Invoke response (Lambda always answers JSON for a Node handler). */
function payloadOf(name: string, out: InvokeCommandOutput): unknown {
  const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new LambdaInvokeError(
      `Lambda function ${name} replied with a payload that is not JSON: ${text.slice(0, 200)}`,
    );
  }
}

/**
 * Create the Lambda platform. Nothing is called until the first `invoke`; the functions must exist (deployed from
 * `serflow package lambda`'s artifact).
 */
export function createLambdaPlatform(options: LambdaPlatformOptions): ServerlessPlatform {
  const { config, billing } = options;
  const lambda = config.aws.lambda;
  const log = options.log ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  const client = options.client ?? createLambdaClient(config);
  const ownsClient = !options.client;
  const manifests = new Map<string, ModelManifest>();
  const instances = new Map<string, FunctionInstanceInfo>();
  /** Invokes in flight from this platform (all functions): what a throttle event reports as its concurrency. */
  let inFlight = 0;
  let closed = false;
  const aborts = new Set<AbortController>();

  const publish = async (fact: BillingFact) => {
    try {
      await billing.publish(fact);
    } catch (err) {
      // The invocation happened either way; failing (and so retrying) the stage would run and bill it twice.
      log(`lambda platform: billing event ${fact.type} not published: ${(err as Error).message}`);
    }
  };

  /** The function in its normal form, checked against the model and the input, as the local platform checks it. */
  const checkFunction = (fn: FunctionRef, input: StageInput): FunctionRef => {
    let manifest = manifests.get(fn.model);
    if (!manifest) {
      manifest = loadManifest(fn.model, config.modelsDir); // throws UnknownModelError
      manifests.set(fn.model, manifest);
    }
    checkFunctionRef(fn, manifest.stages.length);
    const where = `query ${input.queryId}: function ${functionName(fn)}`;
    if (input.model !== fn.model || input.stage !== fn.stage) {
      throw new UnknownStageError(
        `${where} runs from stage ${fn.stage} of ${fn.model}; it was called with ${input.model} stage ${input.stage}`,
      );
    }
    if (!isFused(fn)) return { model: fn.model, stage: fn.stage };
    if (!(Number.isInteger(input.lastStage) && input.lastStage >= lastStageOf(fn))) {
      throw new InvalidInputError(
        `${where} runs to stage ${lastStageOf(fn)}, past the query's lastStage ${input.lastStage}`,
      );
    }
    return { model: fn.model, stage: fn.stage, lastStage: lastStageOf(fn) };
  };

  /** Send the Invoke; a throttle becomes FunctionThrottledError (after its billing fact), other failures named. */
  const send = async (fn: FunctionRef, name: string, payload: string, queryId: string) => {
    const abort = new AbortController();
    aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), lambda.invokeTimeoutMs);
    inFlight++;
    try {
      return await client.send(
        new InvokeCommand({
          FunctionName: name,
          InvocationType: 'RequestResponse',
          LogType: 'Tail',
          Payload: Buffer.from(payload, 'utf8'),
        }),
        { abortSignal: abort.signal },
      );
    } catch (err) {
      if (err instanceof TooManyRequestsException) {
        await publish({
          type: 'faas.throttled',
          at: now(),
          model: fn.model,
          stage: fn.stage,
          queryId,
          concurrency: inFlight,
        });
        throw new FunctionThrottledError(
          `Lambda function ${name} (${functionName(fn)}) throttled: ${err.Reason ?? 'TooManyRequestsException'} (${err.message})`,
          { cause: err },
        );
      }
      if (closed) throw new PlatformClosedError('the Lambda platform was closed during the call', { cause: err });
      const what = abort.signal.aborted ? `no answer within ${lambda.invokeTimeoutMs} ms` : (err as Error).message;
      throw new LambdaInvokeError(`Invoke of Lambda function ${name} (${functionName(fn)}) failed: ${what}`, {
        cause: err,
      });
    } finally {
      inFlight--;
      clearTimeout(timer);
      aborts.delete(abort);
    }
  };

  /** Record the environment that ran an invocation; a new one is a started instance. */
  const observe = async (fn: FunctionRef, instanceId: string, report: LambdaReport, at: number) => {
    let info = instances.get(instanceId);
    if (!info) {
      const startedAt = at - (report.initDurationMs ?? 0) - report.durationMs;
      info = {
        instanceId,
        model: fn.model,
        stage: fn.stage,
        ...(isFused(fn) ? { lastStage: lastStageOf(fn) } : {}),
        memoryMb: report.memorySizeMb,
        state: 'idle',
        startedAt,
        invocations: 0,
      };
      instances.set(instanceId, info);
      await publish({
        type: 'faas.instance.started',
        at: startedAt,
        model: fn.model,
        stage: fn.stage,
        instanceId,
        memoryMb: report.memorySizeMb,
      });
    }
    info.invocations += 1;
    info.lastUsedAt = at;
  };

  return {
    async invoke(ref: FunctionRef, input: StageInput, call: StageCallContext): Promise<FunctionInvocation> {
      if (closed) throw new PlatformClosedError('the Lambda platform is closed');
      const fn = checkFunction(ref, input);
      const fused = isFused(fn);
      const name = lambdaFunctionName(fn, lambda);
      // A fused function runs from the input's stage to its last stage, with the early exits inside.
      const request = fused
        ? { input: { ...input, runLast: lastStageOf(fn) } satisfies StageRunInput, call }
        : { input, call };
      const out = await send(fn, name, JSON.stringify(request), input.queryId);
      const at = now();
      const payload = payloadOf(name, out);
      // The function error of a crashed or unstartable handler: `{ errorType, errorMessage }`, no SERFLOW reply.
      const crashed = out.FunctionError
        ? (payload as { errorType?: unknown; errorMessage?: unknown } | null)
        : undefined;
      const reply = crashed ? undefined : checkReply(name, payload);
      let report: LambdaReport;
      try {
        report = parseLogResult(out.LogResult);
      } catch (err) {
        // The call ran and is billed by Lambda: bill it from what the handler measured and the configured memory.
        log(`lambda platform: ${name}: ${(err as Error).message}; billing the handler's own duration`);
        report = {
          requestId: out.$metadata.requestId ?? '',
          durationMs: reply?.durationMs ?? 0,
          billedDurationMs: Math.ceil(reply?.durationMs ?? 0),
          memorySizeMb: lambdaMemoryMb(fn, lambda),
          maxMemoryUsedMb: 0,
        };
      }
      // A crash carries no instance id: the invocation is billed to the function's name.
      const instanceId = reply?.instanceId ?? `${name}:unknown`;
      if (reply) await observe(fn, instanceId, report, at);
      const initMs = report.initDurationMs ?? 0;
      const coldStart = report.initDurationMs !== undefined;
      await publish({
        type: 'faas.invoked',
        at,
        model: fn.model,
        stage: fn.stage,
        ...(fused ? { lastStage: lastStageOf(fn) } : {}),
        instanceId,
        queryId: input.queryId,
        memoryMb: report.memorySizeMb,
        durationMs: report.durationMs,
        initMs,
        coldStart,
      });
      if (crashed !== undefined) {
        const type = typeof crashed?.errorType === 'string' ? crashed.errorType : (out.FunctionError ?? 'Unhandled');
        const message = typeof crashed?.errorMessage === 'string' ? crashed.errorMessage : JSON.stringify(crashed);
        throw new LambdaFunctionError({
          type,
          message: `Lambda function ${name} (${functionName(fn)}) failed (${out.FunctionError}): ${type}: ${message}`,
          nonRetryable: false,
          functionError: out.FunctionError,
        });
      }
      if (!reply) throw new LambdaInvokeError(`Lambda function ${name}: no reply`); // unreachable: crashed above
      if (!reply.ok) throw new LambdaFunctionError(reply.error);
      const ok = reply;
      const facts = { backend: 'faas', worker: instanceId } as const;
      const stages = fused ? checkRunOutputs(fn, instanceId, ok.stages).map((o) => ({ ...o, ...facts })) : undefined;
      return {
        output: stages ? (stages[stages.length - 1] as StageOutput) : { ...ok.output, ...facts },
        ...(stages ? { stages } : {}),
        instanceId,
        coldStart,
        initMs,
        durationMs: report.durationMs,
        memoryMb: report.memorySizeMb,
      };
    },

    /** Environments seen in replies, all `idle`: Lambda does not say which are busy or reclaimed. */
    list() {
      const cutoff = now() - LAMBDA_IDLE_FORGET_MS;
      for (const [id, i] of instances) if ((i.lastUsedAt ?? i.startedAt) < cutoff) instances.delete(id);
      return [...instances.values()].map((i) => ({ ...i }));
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const a of aborts) a.abort();
      if (ownsClient) client.destroy();
    },
  };
}
