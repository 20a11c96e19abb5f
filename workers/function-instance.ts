/**
 * Body of one serverless function instance (a child process of the local serverless platform): it loads ONE
 * stage's ONNX model, tells the platform it is ready, then serves invocations one at a time over NATS
 * request/reply on `functionInstanceSubject(instanceId)` until it is told to stop (SIGTERM), or its platform
 * process is gone.
 *
 * Inference runs on this process's main thread, with the session created directly (no worker-thread pool):
 * an instance serves one request at a time, as a Lambda execution environment does, so `session.run()` blocking
 * the event loop for its few milliseconds delays nothing else the instance would do; and a cold start is shorter
 * and lighter without a second thread that initialises its own ONNX Runtime environment (~+27 MiB and tens of ms,
 * ecosystem-notes §4.4), which is the part of the cold start that is real on this machine.
 *
 * Also the wire protocol between the platform and its instances (request, reply, ready message).
 */
import { performance } from 'node:perf_hooks';
import { ApplicationFailure } from '@temporalio/activity';
import type { NatsConnection } from 'nats';
import type { StageCallContext, StageInput, StageOutput } from '../common/contracts';
import type { SerflowConfig } from '../common/config';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import { functionInstanceSubject } from '../common/naming';
import { createActivationStore } from '../infra/activation-store';
import type { InferenceTaskResult } from '../models/runtime/inference-thread';
import type { StageRunner } from '../models/runtime/inference-pool';
import { executeStage, type ServedStage, type StageActivityDeps } from '../activities/stage-activities';
import { createStageEventPublisher } from '../activities/stage-events';
import { connectNats } from '../infra/nats';
import { loadManifest, stageFilePath, stageInputDims } from '../models/manifest';

/** What the platform sends to an instance: one stage execution. */
export interface FunctionRequest {
  input: StageInput;
  call: StageCallContext;
}

/** A failure as the instance reports it; `type` is the error's name (or the ApplicationFailure type). */
export interface FunctionErrorInfo {
  type: string;
  message: string;
  nonRetryable: boolean;
}

/**
 * What an instance answers. `durationMs` (handler time, measured in the instance) is on failures too: a failed
 * invocation that ran is billed like a successful one.
 */
export type FunctionReply =
  { ok: true; output: StageOutput; durationMs: number } | { ok: false; error: FunctionErrorInfo; durationMs: number };

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

const NON_RETRYABLE = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

/** Describe a failure of `executeStage` for the reply: ApplicationFailures keep their type and retryability. */
export function describeFailure(err: unknown): FunctionErrorInfo {
  if (err instanceof ApplicationFailure) {
    return { type: err.type ?? 'Error', message: err.message, nonRetryable: err.nonRetryable === true };
  }
  if (err instanceof Error) return { type: err.name, message: err.message, nonRetryable: NON_RETRYABLE.has(err.name) };
  return { type: 'Error', message: String(err), nonRetryable: false };
}

function parseRequest(raw: string): FunctionRequest {
  const value = JSON.parse(raw) as Partial<FunctionRequest> | null;
  if (!value || typeof value !== 'object' || !value.input || typeof value.input !== 'object' || !value.call) {
    throw new TypeError('expected {"input": StageInput, "call": StageCallContext}');
  }
  return value as FunctionRequest;
}

/**
 * Handle one invocation message: run the stage and describe the outcome. Never throws; a request that cannot
 * be parsed is bad input (non-retryable).
 */
export async function handleInvocation(raw: string, deps: StageActivityDeps): Promise<FunctionReply> {
  const t0 = performance.now();
  let request: FunctionRequest;
  try {
    request = parseRequest(raw);
  } catch (err) {
    const message = `invalid function request: ${(err as Error).message}`;
    return {
      ok: false,
      error: { type: 'InvalidInputError', message, nonRetryable: true },
      durationMs: performance.now() - t0,
    };
  }
  try {
    const output = await executeStage(request.input, request.call, deps);
    return { ok: true, output, durationMs: performance.now() - t0 };
  } catch (err) {
    return { ok: false, error: describeFailure(err), durationMs: performance.now() - t0 };
  }
}

export interface MainThreadRunnerOptions {
  modelPath: string;
  inputName: string;
  activationName: string | null;
  logitsName: string;
  intraOpThreads: number;
}

/**
 * A StageRunner on this thread: the session is created here, with the same options as the inference threads of
 * the VM workers, so both paths compute the same numbers.
 */
export async function createMainThreadRunner(options: MainThreadRunnerOptions): Promise<StageRunner> {
  // Loaded here, not at module load: the platform process imports this module's protocol without needing ORT.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(options.modelPath, {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const toFloat32 = (t: InstanceType<typeof ort.Tensor>): Float32Array => {
    if (!(t.data instanceof Float32Array)) throw new Error(`expected a float32 output, got ${t.type}`);
    return new Float32Array(t.data);
  };
  const run = async (data: Float32Array, dims: number[]): Promise<InferenceTaskResult> => {
    const feeds = { [options.inputName]: new ort.Tensor('float32', data, dims) };
    const t0 = performance.now();
    const out = await session.run(feeds);
    const serviceMs = performance.now() - t0;
    const logits = out[options.logitsName];
    if (!logits) throw new Error(`model output ${options.logitsName} missing`);
    const act = options.activationName ? out[options.activationName] : undefined;
    return {
      logits: toFloat32(logits),
      activation: act ? toFloat32(act) : null,
      activationDims: act ? act.dims.map(Number) : null,
      serviceMs,
    };
  };
  return {
    run,
    async warmUp(dims) {
      const concrete = dims.map((d) => (d > 0 ? d : 1));
      await run(new Float32Array(concrete.reduce((n, d) => n * d, 1)), concrete);
    },
    close: () => session.release(),
  };
}

export interface FunctionInstanceOptions {
  config: SerflowConfig;
  natsUrl: string;
  model: string;
  stage: number;
  instanceId: string;
  log?: (line: string) => void;
}

/**
 * Run the instance until SIGTERM/SIGINT (the child entry sends SIGTERM once the platform process is gone). The invocation in progress when a stop is
 * asked for finishes and is answered first (the subscription is drained, the connection closed after).
 */
export async function runFunctionInstance(options: FunctionInstanceOptions): Promise<void> {
  const { config, model, stage, instanceId } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const t0 = performance.now();
  const manifest = loadManifest(model, config.modelsDir);
  const spec = manifest.stages[stage - 1];
  if (!spec) throw new Error(`model ${model} has stages 1..${manifest.stages.length}; there is no stage ${stage}`);
  const nc: NatsConnection = await connectNats(options.natsUrl, `serflow-fn-${instanceId}`);
  let runner: StageRunner | undefined;
  try {
    runner = await createMainThreadRunner({
      modelPath: stageFilePath(manifest, spec, config.modelsDir),
      inputName: spec.input.name,
      activationName: spec.outputs.activation?.name ?? null,
      logitsName: spec.outputs.logits.name,
      intraOpThreads: config.workers.intraOpThreads,
    });
    const inputDims = stageInputDims(spec);
    // The model load and ORT's lazy first-run work belong to the init phase, not to the first invocation.
    await runner.warmUp(inputDims);
    const served: ServedStage = { model, stage, stages: manifest.stages.length, inputDims, backend: 'faas', runner };
    const deps: StageActivityDeps = {
      served,
      store: await createActivationStore(nc),
      events: createStageEventPublisher(nc),
      worker: instanceId,
    };
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
    log(`function instance ${instanceId}: ${model} stage ${stage} ready in ${ready.initMs.toFixed(0)} ms`);
    for await (const msg of sub) {
      const reply = await handleInvocation(msg.string(), deps);
      msg.respond(JSON.stringify(reply));
    }
  } finally {
    await runner?.close().catch(() => undefined);
    await nc.drain().catch(() => undefined);
  }
}
