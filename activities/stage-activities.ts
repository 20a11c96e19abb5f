/**
 * The stage activity: decode (or fetch) the incoming activation, validate it against the stage's input
 * shape, run the stage's ONNX model, decide exit or continue, hand the next activation on (inline or
 * claim-checked) and publish the stage outcome event.
 *
 * Dependencies are injected once per worker process (`createStageActivities(deps)`), so sessions and
 * connections are not re-created per call and tests can pass their own.
 */
import { Context } from '@temporalio/activity';
import type { StageCallContext, StageInput, StageOutput } from '../common/contracts';
import { InvalidInputError, ModelOutputError, UnknownModelError, UnknownStageError } from '../common/errors';
import type { StageEvent } from '../common/events';
import { STAGE_EVENT_VERSION } from '../common/events';
import type { Backend } from '../common/naming';
import { validateTensor } from '../common/tensor-codec';
import { softmaxMax } from '../models/manifest';
import { shouldExit } from '../common/exit-rule';
import type { ActivationStore } from '../infra/activation-store';
import { activityError, isNonRetryableError, toApplicationFailure } from './failures';
import { withHeartbeats, type HeartbeatCount } from './heartbeat';
import type { StageRunner } from '../models/runtime/stage-runner';
import type { StageEventPublisher } from './stage-events';

/** What one stage worker serves. */
export interface ServedStage {
  model: string;
  stage: number;
  /** Number of stages of the model (K). */
  stages: number;
  /** Expected input dims; -1 for the free batch dimension. */
  inputDims: number[];
  backend: Backend;
  runner: StageRunner;
}

export interface StageActivityDeps {
  served: ServedStage;
  store: ActivationStore;
  events: StageEventPublisher;
  /** Identity reported in results and events (host:pid or the worker's name). */
  worker: string;
  now?: () => number;
}

function checkServed(input: StageInput, served: ServedStage): void {
  if (input.model !== served.model) {
    throw new UnknownModelError(
      `model ${JSON.stringify(input.model)} is not served on this queue (worker serves ${served.model} stage ${served.stage})`,
    );
  }
  if (!Number.isInteger(input.stage) || input.stage !== served.stage) {
    throw new UnknownStageError(
      `stage ${input.stage} of ${input.model} is not served on this queue (worker serves stage ${served.stage} of ${served.stages})`,
    );
  }
  if (!Number.isInteger(input.lastStage) || input.lastStage < input.stage || input.lastStage > served.stages) {
    throw new UnknownStageError(
      `lastStage ${input.lastStage} is out of range: ${input.model} has stages 1..${served.stages}`,
    );
  }
  if (!(input.threshold > 0 && input.threshold <= 1)) {
    throw new InvalidInputError(`threshold ${input.threshold} is out of range (0, 1]`);
  }
}

/** The stage context of the current Temporal activity attempt. */
export function activityCallContext(fallbackQueryId: string): StageCallContext {
  const info = Context.current().info;
  return {
    // Always set for activities of a workflow; standalone activities (no workflow) fall back to the query id.
    workflowId: info.workflowExecution?.workflowId ?? fallbackQueryId,
    runId: info.workflowExecution?.runId ?? '',
    attempt: info.attempt,
    scheduledAt: info.currentAttemptScheduledTimestampMs,
    taskQueue: info.taskQueue,
  };
}

/**
 * Execute one stage for one query, wherever it runs (a VM pool worker's activity, a serverless function
 * instance): validate, infer, decide, hand on, publish. Throws ApplicationFailures (non-retryable for bad input).
 * `heartbeats`: the attempt's heartbeat count when this runs inside the activity that heartbeats (a VM worker);
 * its figure goes into the event and the result. A function instance has none: there the serverless gateway's
 * activity heartbeats, and the gateway reports its own count in the result.
 */
export async function executeStage(
  input: StageInput,
  call: StageCallContext,
  deps: StageActivityDeps,
  heartbeats?: HeartbeatCount,
): Promise<StageOutput> {
  const { served, store, events, worker } = deps;
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const scheduledAt = call.scheduledAt;
  const base = {
    v: STAGE_EVENT_VERSION,
    queryId: input.queryId,
    workflowId: call.workflowId,
    runId: call.runId,
    model: input.model,
    stage: input.stage,
    backend: served.backend,
    worker,
    attempt: call.attempt,
    queueMs: Math.max(0, startedAt - scheduledAt),
    scheduledAt,
    startedAt,
  } as const;
  /** The heartbeat figure at this moment, as an optional field of the event or the result. */
  const heartbeatsSoFar = (): { heartbeats?: number } => (heartbeats ? { heartbeats: heartbeats.reached() } : {});
  const where = `query ${input.queryId}, ${input.model} stage ${input.stage} input`;
  let data: Float32Array;
  try {
    checkServed(input, served);
    data = await store.fetch(input.activation, where);
    validateTensor(data, input.activation.dims, served.inputDims, where);
  } catch (err) {
    // A failure no retry can fix ends the query, so it is recorded here; a retryable one is left to the retry policy.
    if (isNonRetryableError(err)) {
      await events.publish({
        ...base,
        type: 'stage.failed',
        errorType: err.name,
        message: err.message,
        serviceMs: 0,
        finishedAt: now(),
        ...heartbeatsSoFar(),
      });
    }
    throw activityError(err);
  }

  const out = await served.runner.run(data, input.activation.dims);
  const { label, confidence } = softmaxMax(out.logits);
  const exited = shouldExit(confidence, input.threshold, input.stage, input.lastStage);
  let activation: StageOutput['activation'];
  if (!exited) {
    if (!out.activation || !out.activationDims) {
      throw toApplicationFailure(
        new ModelOutputError(`${input.model} stage ${input.stage} produced no activation output`),
      );
    }
    // Key per workflow run and stage: a retried attempt overwrites its own object instead of leaking one.
    const key = `${base.workflowId}/${base.runId}/stage-${input.stage}`;
    activation = await store.toRef(out.activation, out.activationDims, key, input.inlineActivationMaxBytes);
  }
  const finishedAt = now();
  const event: StageEvent = exited
    ? {
        ...base,
        type: 'stage.exited',
        label,
        confidence,
        threshold: input.threshold,
        confident: confidence >= input.threshold,
        serviceMs: out.serviceMs,
        finishedAt,
        ...heartbeatsSoFar(),
      }
    : {
        ...base,
        type: 'stage.continued',
        label,
        confidence,
        threshold: input.threshold,
        serviceMs: out.serviceMs,
        finishedAt,
        ...heartbeatsSoFar(),
      };
  await events.publish(event);
  return {
    stage: input.stage,
    label,
    confidence,
    exited,
    activation,
    backend: served.backend,
    taskQueue: call.taskQueue,
    worker,
    attempt: call.attempt,
    queueMs: base.queueMs,
    serviceMs: out.serviceMs,
    handlerMs: finishedAt - startedAt,
    startedAt,
    finishedAt,
    // Read after the event is published: the last await of the attempt, so the count is as late as it can be.
    ...heartbeatsSoFar(),
  };
}

/** The Temporal activities of a VM pool worker: `runStage` executes this worker's stage. */
export function createStageActivities(deps: StageActivityDeps) {
  return {
    runStage: (input: StageInput): Promise<StageOutput> =>
      withHeartbeats((heartbeats) => executeStage(input, activityCallContext(input.queryId), deps, heartbeats)),
  };
}
