/**
 * The stage activity: decode (or fetch) the incoming activation, validate it against the stage's input
 * shape, run the stage's ONNX model, decide exit or continue, hand the next activation on (inline or
 * claim-checked) and publish the stage outcome event.
 *
 * Dependencies are injected once per worker process (`createStageActivities(deps)`), so sessions and
 * connections are not re-created per call and tests can pass their own.
 */
import { Context } from '@temporalio/activity';
import type { StageCallContext, StageInput, StageOutput, StageRunInput, StageRunOutput } from '../common/contracts';
import { InvalidInputError, ModelOutputError, UnknownModelError, UnknownStageError } from '../common/errors';
import type { StageEvent } from '../common/events';
import { STAGE_EVENT_VERSION } from '../common/events';
import { stageActivationKey, type Backend } from '../common/naming';
import { checkTensorRef, validateTensor } from '../common/tensor-codec';
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
  const { served } = deps;
  const run = await executeRun(
    { ...input, runLast: input.stage },
    call,
    { ...deps, servedStage: (k) => (k === served.stage ? served : undefined), servesOnly: served },
    heartbeats,
  );
  return { ...(run.stages[0] as StageOutput), ...(run.heartbeats !== undefined ? { heartbeats: run.heartbeats } : {}) };
}

/** What executes a run: the stages it may serve (a whole-model worker or a fused function serves several). */
export interface StageRunDeps extends Omit<StageActivityDeps, 'served'> {
  servedStage(stage: number): ServedStage | undefined;
  /** Set when exactly one stage is served: named in the error for any other. */
  servesOnly?: ServedStage;
}

/** Check the run's stages are all served here, before anything runs. */
function checkRunServed(input: StageRunInput, deps: StageRunDeps): ServedStage[] {
  if (!Number.isInteger(input.runLast) || input.runLast < input.stage) {
    throw new UnknownStageError(`runLast ${input.runLast} must be a stage from ${input.stage} on`);
  }
  const served: ServedStage[] = [];
  for (let k = input.stage; k <= input.runLast; k++) {
    const one = deps.servedStage(k) ?? deps.servesOnly;
    if (!one) {
      throw new UnknownStageError(`stage ${k} of ${input.model} is not served on this queue`);
    }
    checkServed({ ...input, stage: k }, one);
    served.push(one);
  }
  return served;
}

/**
 * Execute stages `input.stage`..`input.runLast` for one query in this one attempt (a fused run; one stage when
 * runLast = stage), stopping at the first exit. Each stage is validated, run, decided and published as
 * `executeStage` does, so per-stage events, timings and records keep their meaning; only the activation the run
 * hands on (if the query continues after it) goes through the store, the ones inside the run stay in memory.
 */
export async function executeRun(
  input: StageRunInput,
  call: StageCallContext,
  deps: StageRunDeps,
  heartbeats?: HeartbeatCount,
): Promise<StageRunOutput> {
  const { store, events, worker } = deps;
  const now = deps.now ?? Date.now;
  const attemptStartedAt = now();
  /** The heartbeat figure at this moment, as an optional field of the event or the result. */
  const heartbeatsSoFar = (): { heartbeats?: number } => (heartbeats ? { heartbeats: heartbeats.reached() } : {});
  const baseOf = (stage: number, backend: Backend, startedAt: number) =>
    ({
      v: STAGE_EVENT_VERSION,
      queryId: input.queryId,
      workflowId: call.workflowId,
      runId: call.runId,
      model: input.model,
      stage,
      backend,
      worker,
      attempt: call.attempt,
      // Only the run's first stage waited in a queue; the later ones start as the previous one ends.
      queueMs: stage === input.stage ? Math.max(0, startedAt - call.scheduledAt) : 0,
      scheduledAt: stage === input.stage ? call.scheduledAt : startedAt,
      startedAt,
    }) as const;
  const where = `query ${input.queryId}, ${input.model} stage ${input.stage} input`;
  let served: ServedStage[];
  let data: Float32Array;
  try {
    served = checkRunServed(input, deps);
    checkTensorRef(input.activation, where);
    data = await store.fetch(input.activation, where);
    validateTensor(data, input.activation.dims, (served[0] as ServedStage).inputDims, where);
  } catch (err) {
    // A failure no retry can fix ends the query, so it is recorded here; a retryable one is left to the retry policy.
    if (isNonRetryableError(err)) {
      await events.publish({
        ...baseOf(
          input.stage,
          deps.servesOnly?.backend ?? deps.servedStage(input.stage)?.backend ?? 'vm',
          attemptStartedAt,
        ),
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

  const outputs: StageOutput[] = [];
  let dims = input.activation.dims;
  for (let stage = input.stage; stage <= input.runLast; stage++) {
    const stageServed = served[stage - input.stage] as ServedStage;
    const startedAt = stage === input.stage ? attemptStartedAt : now();
    const base = baseOf(stage, stageServed.backend, startedAt);
    if (stage > input.stage) {
      // The previous stage's output, checked against this stage's input shape as a hand-off through the store is
      // (no retry fixes a model whose stages do not fit together).
      try {
        validateTensor(
          data,
          dims,
          stageServed.inputDims,
          `query ${input.queryId}, ${input.model} stage ${stage} input`,
        );
      } catch (err) {
        throw activityError(err);
      }
    }
    const out = await stageServed.runner.run(data, dims);
    const { label, confidence } = softmaxMax(out.logits);
    const exited = shouldExit(confidence, input.threshold, stage, input.lastStage);
    let activation: StageOutput['activation'];
    if (!exited) {
      if (!out.activation || !out.activationDims) {
        throw toApplicationFailure(new ModelOutputError(`${input.model} stage ${stage} produced no activation output`));
      }
      data = out.activation;
      dims = out.activationDims;
      if (stage === input.runLast) {
        // Key per query and stage: a retried attempt overwrites its own object instead of leaking one, and the
        // client deletes it when the query has ended (client/serflow-client.ts).
        const key = stageActivationKey(base.workflowId, stage);
        activation = await store.toRef(out.activation, out.activationDims, key, input.inlineActivationMaxBytes);
      }
    }
    const finishedAt = now();
    const common = { label, confidence, threshold: input.threshold, serviceMs: out.serviceMs, finishedAt };
    const event: StageEvent = exited
      ? { ...base, ...common, type: 'stage.exited', confident: confidence >= input.threshold, ...heartbeatsSoFar() }
      : { ...base, ...common, type: 'stage.continued', ...heartbeatsSoFar() };
    await events.publish(event);
    outputs.push({
      stage,
      label,
      confidence,
      exited,
      ...(activation ? { activation } : {}),
      backend: stageServed.backend,
      taskQueue: call.taskQueue,
      worker,
      attempt: call.attempt,
      queueMs: base.queueMs,
      serviceMs: out.serviceMs,
      handlerMs: finishedAt - startedAt,
      startedAt,
      finishedAt,
    });
    if (exited) break;
  }
  // Read after the last event is published: the last await of the attempt, so the count is as late as it can be.
  return { stages: outputs, ...heartbeatsSoFar() };
}

/** The Temporal activities of a VM pool worker: `runStage` executes this worker's stage. */
export function createStageActivities(deps: StageActivityDeps) {
  return {
    runStage: (input: StageInput): Promise<StageOutput> =>
      withHeartbeats((heartbeats) => executeStage(input, activityCallContext(input.queryId), deps, heartbeats)),
  };
}

/**
 * The Temporal activity of a whole-model VM (every stage loaded): `runStages` executes a fused run of stages in one
 * attempt (routing.ts `FusedRun`), on the whole-model queue.
 */
export function createStageRunActivities(deps: StageRunDeps) {
  return {
    runStages: (input: StageRunInput): Promise<StageRunOutput> =>
      withHeartbeats((heartbeats) => executeRun(input, activityCallContext(input.queryId), deps, heartbeats)),
  };
}
