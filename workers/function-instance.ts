/**
 * Body of one serverless function instance (a child process of the local serverless platform): it loads ONE
 * stage's ONNX model (or, for a fused function, the models of its stages first..last, run in one invocation with
 * `executeRun`), tells the platform it is ready, then serves invocations one at a time over NATS
 * request/reply on `functionInstanceSubject(instanceId)` until it is told to stop (SIGTERM), or its platform
 * process is gone.
 *
 * Inference runs on this process's main thread (models/runtime/main-thread-runner.ts, no worker-thread pool):
 * an instance serves one request at a time, as a Lambda execution environment does, so `session.run()` blocking
 * the event loop for its few milliseconds delays nothing else the instance would do; and a cold start is shorter
 * and lighter without a second thread that initialises its own ONNX Runtime environment (~+27 MiB and tens of ms,
 * ecosystem-notes §4.4), which is the part of the cold start that is real on this machine.
 *
 * Also the wire protocol between the platform and its instances (request, reply, ready message).
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from 'nats';
import type { StageCallContext, StageInput, StageOutput, StageRunInput } from '../common/contracts';
import type { SerflowConfig } from '../common/config';
import { InvalidInputError, UnknownStageError } from '../common/errors';
import { functionInstanceSubject } from '../common/naming';
import { createActivationStore } from '../infra/activation-store';
import { createMainThreadRunner } from '../models/runtime/main-thread-runner';
import { stageRunnerOptions, type StageRunner } from '../models/runtime/stage-runner';
import {
  executeRun,
  executeStage,
  type ServedStage,
  type StageActivityDeps,
  type StageRunDeps,
} from '../activities/stage-activities';
import { createStageEventPublisher } from '../activities/stage-events';
import { metrics } from '../infra/metrics';
import { context, trace } from '@opentelemetry/api';
import { contextFromHeaders } from '../infra/tracing';
import { describeFailure, type FailureReply } from '../activities/failures';
import { connectNats } from '../infra/nats';
import { loadManifest, stageInputDims } from '../models/manifest';

/**
 * What the platform sends to an instance: one stage execution, or for a fused function one run (a StageRunInput
 * from the function's first stage; `runLast` defaults to the function's last stage).
 */
export interface FunctionRequest {
  input: StageInput | StageRunInput;
  call: StageCallContext;
}

/** A failure as the instance reports it (activities/failures.ts `describeFailure`, the gateway reads it back). */
export type FunctionErrorInfo = FailureReply;

/**
 * What an instance answers. `durationMs` (handler time, measured in the instance) is on failures too: a failed
 * invocation that ran is billed like a successful one.
 */
export type FunctionReply =
  | {
      ok: true;
      /** The stage's output; for a fused function, the last stage's it ran (the last of `stages`). */
      output: StageOutput;
      /** A fused function only: every stage's output, in order (StageRunOutput `stages`). */
      stages?: StageOutput[];
      durationMs: number;
    }
  | { ok: false; error: FunctionErrorInfo; durationMs: number };

/** What a fused function's instance serves: stages `first`..`last` of one model, all loaded. */
export interface FusedFunctionDeps extends StageRunDeps {
  first: number;
  last: number;
}

/** The run a fused function executes for `input`: from its first stage to `runLast` (default: its last stage). */
function runOf(input: StageInput | StageRunInput, deps: FusedFunctionDeps): StageRunInput {
  const { first, last } = deps;
  const runLast = 'runLast' in input && input.runLast !== undefined ? input.runLast : last;
  const holds = `this instance holds stages ${first}..${last}`;
  if (input.stage !== first) {
    throw new UnknownStageError(`${input.model} stage ${input.stage}: ${holds}; a run starts at stage ${first}`);
  }
  if (!Number.isInteger(runLast) || runLast < first || runLast > last) {
    throw new UnknownStageError(`${input.model} runLast ${JSON.stringify(runLast)}: ${holds}`);
  }
  return { ...input, runLast };
}

/** Starts the line an instance logs for each invocation it receives (its access log). */
export const INVOCATION_LOG_PREFIX = 'invocation received by';

/** Sent by an instance (a request; the platform acknowledges) once its model is loaded and it listens. */
export interface FunctionReadyMessage {
  instanceId: string;
  pid: number;
  /** Process-internal init: connect, model load, warm-up run, ms (the platform measures the whole start itself). */
  initMs: number;
}

/** Subject an instance announces itself on when ready; the platform subscribes to it before spawning. */
export function functionReadySubject(instanceId: string): string {
  return `${functionInstanceSubject(instanceId)}.ready`;
}

/** How long an instance waits for the platform to acknowledge its ready message before giving up and exiting. */
export const READY_ACK_TIMEOUT_MS = 10_000;

function parseRequest(raw: string): FunctionRequest {
  const value = JSON.parse(raw) as Partial<FunctionRequest> | null;
  if (!value || typeof value !== 'object' || !value.input || typeof value.input !== 'object' || !value.call) {
    throw new TypeError('expected {"input": StageInput, "call": StageCallContext}');
  }
  return value as FunctionRequest;
}

/**
 * Run one function request: the stage (or a fused function's run) and describe the outcome. Never throws; a run
 * this function does not hold is bad input (non-retryable). The one stage-running path of every function
 * implementation: the local instance (below) and the AWS Lambda handler (deploy/aws/lambda-handler.ts).
 * `t0`: when the request arrived (performance.now()), so `durationMs` covers its decoding too.
 */
export async function runFunctionRequest(
  request: FunctionRequest,
  deps: StageActivityDeps | FusedFunctionDeps,
  t0: number = performance.now(),
): Promise<FunctionReply> {
  try {
    if ('served' in deps) {
      const output = await executeStage(request.input, request.call, deps);
      return { ok: true, output, durationMs: performance.now() - t0 };
    }
    const { stages } = await executeRun(runOf(request.input, deps), request.call, deps);
    const output = stages[stages.length - 1];
    if (!output) throw new Error('the run returned no stage');
    return { ok: true, output, stages, durationMs: performance.now() - t0 };
  } catch (err) {
    return { ok: false, error: describeFailure(err), durationMs: performance.now() - t0 };
  }
}

/**
 * Handle one invocation message: parse it, then `runFunctionRequest`. Never throws; a request that cannot be parsed
 * is bad input (non-retryable).
 */
export async function handleInvocation(
  raw: string,
  deps: StageActivityDeps | FusedFunctionDeps,
): Promise<FunctionReply> {
  const t0 = performance.now();
  let request: FunctionRequest;
  try {
    request = parseRequest(raw);
  } catch (err) {
    const message = `invalid function request: ${(err as Error).message}`;
    return {
      ok: false,
      error: describeFailure(new InvalidInputError(message)),
      durationMs: performance.now() - t0,
    };
  }
  return runFunctionRequest(request, deps, t0);
}

/** Which stages a function holds: stage `stage` of `model`, or with `lastStage`, the fused run stage..lastStage. */
export interface FunctionStagesOptions {
  /** `modelsDir` (where the manifest and ONNX files are) and `workers.intraOpThreads`. */
  config: Pick<SerflowConfig, 'modelsDir' | 'workers'>;
  model: string;
  stage: number;
  /** A fused function: its last stage (above `stage`); absent (or = stage): one stage. */
  lastStage?: number;
}

/** A function's stages, loaded and warmed up, ready to serve requests once given their I/O. */
export interface LoadedFunctionStages {
  model: string;
  stage: number;
  lastStage: number;
  /** The deps `runFunctionRequest` runs with: these stages, and the store, events and identity given. */
  deps(io: Omit<StageActivityDeps, 'served'>): StageActivityDeps | FusedFunctionDeps;
  /** Release the ONNX sessions. Never throws. */
  close(): Promise<void>;
}

/**
 * Load the ONNX model of each stage a function holds, on this thread, and run each once: the model load and ORT's
 * lazy first-run work belong to the init phase, not to the first invocation. Throws (naming the model and the
 * stages) when the function names stages the model does not have.
 */
export async function loadFunctionStages(options: FunctionStagesOptions): Promise<LoadedFunctionStages> {
  const { config, model, stage } = options;
  const lastStage = options.lastStage ?? stage;
  const manifest = loadManifest(model, config.modelsDir);
  const stages = manifest.stages.length;
  if (!(Number.isInteger(stage) && stage >= 1 && stage <= stages)) {
    throw new UnknownStageError(`model ${model} has stages 1..${stages}; there is no stage ${stage}`);
  }
  if (!(Number.isInteger(lastStage) && lastStage >= stage && lastStage <= stages)) {
    throw new UnknownStageError(
      `model ${model} has stages 1..${stages}; a function from stage ${stage} cannot end at ${lastStage}`,
    );
  }
  const runners: StageRunner[] = [];
  const close = async () => {
    await Promise.all(runners.map((r) => r.close().catch(() => undefined)));
  };
  const served = new Map<number, ServedStage>();
  try {
    for (let k = stage; k <= lastStage; k++) {
      const spec = manifest.stages[k - 1]!;
      const runner = await createMainThreadRunner(
        stageRunnerOptions(manifest, spec, config.modelsDir, config.workers.intraOpThreads),
      );
      runners.push(runner);
      const inputDims = stageInputDims(spec);
      await runner.warmUp(inputDims);
      served.set(k, { model, stage: k, stages, inputDims, backend: 'faas', runner });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    model,
    stage,
    lastStage,
    deps: (io) =>
      lastStage === stage
        ? { ...io, served: served.get(stage)! }
        : { ...io, servedStage: (k) => served.get(k), first: stage, last: lastStage },
    close,
  };
}

export interface FunctionInstanceOptions {
  config: SerflowConfig;
  natsUrl: string;
  model: string;
  stage: number;
  /** A fused function: its last stage (above `stage`); it loads stages stage..lastStage. Absent: one stage. */
  lastStage?: number;
  instanceId: string;
  log?: (line: string) => void;
}

/**
 * Run the instance until SIGTERM/SIGINT (the child entry sends SIGTERM once the platform process is gone). The invocation in progress when a stop is
 * asked for finishes and is answered first (the subscription is drained, the connection closed after).
 */
export async function runFunctionInstance(options: FunctionInstanceOptions): Promise<void> {
  const { config, model, stage, instanceId } = options;
  const lastStage = options.lastStage ?? stage;
  const log = options.log ?? ((line: string) => console.log(line));
  const t0 = performance.now();
  // Checked (and the models loaded) before connecting: a function of stages the model lacks fails fast.
  const loaded = await loadFunctionStages({ config, model, stage, lastStage });
  let nc: NatsConnection;
  try {
    nc = await connectNats(options.natsUrl, `serflow-fn-${instanceId}`);
  } catch (err) {
    await loaded.close();
    throw err;
  }
  // Buffered through a NATS blip; what waits goes out before the connection closes.
  const events = createStageEventPublisher(nc);
  try {
    const deps = loaded.deps({ store: await createActivationStore(nc), events, worker: instanceId });
    const sub = nc.subscribe(functionInstanceSubject(instanceId));
    const stop = (why: string) => {
      log(`function instance ${instanceId}: stopping (${why})`);
      void sub.drain().catch(() => undefined);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // The subscription must be registered on the server before the platform may send the first request.
    await nc.flush();
    const ready: FunctionReadyMessage = { instanceId, pid: process.pid, initMs: performance.now() - t0 };
    await nc.request(functionReadySubject(instanceId), JSON.stringify(ready), { timeout: READY_ACK_TIMEOUT_MS });
    const what = lastStage === stage ? `stage ${stage}` : `stages ${stage}-${lastStage} (fused)`;
    log(`function instance ${instanceId}: ${model} ${what} ready in ${ready.initMs.toFixed(0)} ms`);
    let invocations = 0;
    const spanName = `Invoke:${model}.${lastStage === stage ? `stage-${stage}` : `stages-${stage}-${lastStage}`}`;
    for await (const msg of sub) {
      const cold = invocations++ === 0;
      metrics().functionInvocations.inc({ model, stage: String(stage), start: cold ? 'cold' : 'warm' });
      // One line per invocation this instance ran (an access log: what a platform's own records would show).
      log(`${INVOCATION_LOG_PREFIX} ${instanceId}`);
      // A span per invocation, under the gateway activity that invoked it (trace context in the NATS headers).
      const reply = await context.with(contextFromHeaders(msg.headers), () =>
        trace
          .getTracer('serflow-function')
          .startActiveSpan(
            spanName,
            { attributes: { 'faas.instance': instanceId, 'faas.coldstart': cold } },
            async (span) => {
              try {
                return await handleInvocation(msg.string(), deps);
              } finally {
                span.end();
              }
            },
          ),
      );
      msg.respond(JSON.stringify(reply));
    }
  } finally {
    await events.close();
    await loaded.close();
    await nc.drain().catch(() => undefined);
  }
}
