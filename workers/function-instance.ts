/**
 * Body of one serverless function instance (a child process of the local serverless platform): it loads ONE
 * stage's ONNX model, tells the platform it is ready, then serves invocations one at a time over NATS
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
import type { StageCallContext, StageInput, StageOutput } from '../common/contracts';
import type { SerflowConfig } from '../common/config';
import { InvalidInputError } from '../common/errors';
import { functionInstanceSubject } from '../common/naming';
import { createActivationStore } from '../infra/activation-store';
import { createMainThreadRunner } from '../models/runtime/main-thread-runner';
import { stageRunnerOptions, type StageRunner } from '../models/runtime/stage-runner';
import { executeStage, type ServedStage, type StageActivityDeps } from '../activities/stage-activities';
import { createStageEventPublisher } from '../activities/stage-events';
import { describeFailure, type FailureReply } from '../activities/failures';
import { connectNats } from '../infra/nats';
import { loadManifest, stageInputDims } from '../models/manifest';

/** What the platform sends to an instance: one stage execution. */
export interface FunctionRequest {
  input: StageInput;
  call: StageCallContext;
}

/** A failure as the instance reports it (activities/failures.ts `describeFailure`, the gateway reads it back). */
export type FunctionErrorInfo = FailureReply;

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
      error: describeFailure(new InvalidInputError(message)),
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
    runner = await createMainThreadRunner(
      stageRunnerOptions(manifest, spec, config.modelsDir, config.workers.intraOpThreads),
    );
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
