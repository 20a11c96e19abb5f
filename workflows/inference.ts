/**
 * One workflow per query: run stage 1, 2, ... of an early-exit model, each stage as an activity on that
 * stage's pool task queue, and stop at the first confident exit.
 *
 * Deterministic: no I/O, clocks or randomness here (lint bans Node built-ins and I/O packages in this folder).
 * The model's shape and routing plan come with the query (its descriptor, resolved by the client), else from a
 * local activity; everything else is in the query and the stage results.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import type {
  InferenceQuery,
  InferenceResult,
  ModelDescriptor,
  StageInput,
  StageOutput,
  StageRecord,
  StageRunInput,
  TensorRef,
} from '../common/contracts';
import { chooseBackend, fusedRunAt } from '../common/routing';
import { checkDescriptor, checkQueryRanges } from '../common/descriptor-checks';
import { NON_RETRYABLE_ERROR_TYPES, STAGE_UNAVAILABLE_ERROR, isNonRetryableError } from '../common/errors';
import { SEARCH_ATTRIBUTES, stageTaskQueue, wholeModelQueue, type Backend } from '../common/naming';
import type { createModelActivities } from '../activities/model-activities';
import type { createStageActivities, createStageRunActivities } from '../activities/stage-activities';
import { mostConfident } from '../common/exit-rule';
import { stageActivityOptions } from './activity-options';

type StageActivities = ReturnType<typeof createStageActivities>;
type StageRunActivities = ReturnType<typeof createStageRunActivities>;

const { describeModel } = proxyLocalActivities<ReturnType<typeof createModelActivities>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

/**
 * The query's model descriptor: the one its client sent, once checked (anyone who can start a workflow can send
 * one, and its timeouts, attempts and plan steer every stage), else the local activity's lookup. Branching on the
 * input is replay-safe: a history recorded before clients sent descriptors has none, so its replay takes the
 * local-activity path it was recorded with.
 */
async function modelOf(query: InferenceQuery): Promise<ModelDescriptor> {
  const sent: unknown = query.descriptor;
  if (sent === undefined || sent === null) return describeModel(query);
  try {
    const model = checkDescriptor(sent, query.model);
    checkQueryRanges(query, model.stages);
    return model;
  } catch (err) {
    throw rejected(err);
  }
}

/**
 * A query the checks reject, as a failure that ends it at once, typed like the same rejection from the local
 * activity (InvalidInputError, UnknownStageError). A plain Error thrown here would fail the workflow task instead,
 * which Temporal retries forever.
 *
 * The sanctioned second error-to-failure conversion beside activities/failures.ts: the sandbox cannot import that
 * module (it loads @temporalio/activity), so both share the rule's data and predicate from common/errors.ts. The rule
 * differs on purpose for an error that is not ours: here it is still the query's fault (never retried), there it is
 * left retryable. Changing it changes what replays record.
 */
function rejected(err: unknown): ApplicationFailure {
  if (isNonRetryableError(err)) {
    return ApplicationFailure.nonRetryable(err.message, err.name);
  }
  // Not one of the checks' own errors (a bug in them): still the query's fault, so still no retry.
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.nonRetryable(`descriptor: ${message}`, 'InvalidInputError');
}

function stageProxy(
  taskQueue: string,
  backend: Backend,
  model: ModelDescriptor,
  summary: string,
  overflowAfterMs?: number,
  stagesInRun = 1,
) {
  const options = stageActivityOptions(taskQueue, model, summary, backend, stagesInRun);
  // Overflow bounds the queue wait on a VM queue; otherwise the descriptor's queue timeout (none in histories
  // recorded before it, which replay as they ran).
  const queueWaitMs = overflowAfterMs ?? model.stageQueueTimeoutMs;
  return proxyActivities<StageActivities & StageRunActivities>(
    queueWaitMs === undefined ? options : { ...options, scheduleToStartTimeout: queueWaitMs },
  );
}

function isScheduleToStartTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
}

/**
 * Run an execution on the chosen backend. A VM execution that no VM starts within the first stage's
 * `overflowAfterMs` (pool saturated, or no ready VM while new ones boot) is taken back and run serverless instead.
 * `call(backend, overflowAfterMs)` schedules the activity: scheduled on the VM queue with `overflowAfterMs` as its
 * schedule-to-start timeout, or on the faas queue.
 */
async function runOn<T>(
  backend: Backend,
  model: ModelDescriptor,
  stage: number,
  call: (backend: Backend, overflowAfterMs?: number) => Promise<T>,
): Promise<{ out: T; overflowed: boolean }> {
  if (backend === 'faas') return { out: await unlessUnavailable(model, stage, 'faas', call), overflowed: false };
  const overflowAfterMs = model.routing.stages.find((r) => r.stage === stage)?.overflowAfterMs;
  if (overflowAfterMs === undefined) {
    return { out: await unlessUnavailable(model, stage, 'vm', call), overflowed: false };
  }
  try {
    return { out: await call('vm', overflowAfterMs), overflowed: false };
  } catch (err) {
    if (isScheduleToStartTimeout(err))
      return { out: await unlessUnavailable(model, stage, 'faas', call), overflowed: true };
    throw err;
  }
}

/**
 * `call(backend)` with no overflow: a schedule-to-start timeout means no worker of that backend took the stage
 * within the descriptor's queue timeout, and the query ends with a named error rather than waiting on.
 */
async function unlessUnavailable<T>(
  model: ModelDescriptor,
  stage: number,
  backend: Backend,
  call: (backend: Backend) => Promise<T>,
): Promise<T> {
  try {
    return await call(backend);
  } catch (err) {
    if (!isScheduleToStartTimeout(err)) throw err;
    throw ApplicationFailure.nonRetryable(
      `stage ${stage}: no ${backend} worker took it within ${model.stageQueueTimeoutMs} ms`,
      STAGE_UNAVAILABLE_ERROR,
    );
  }
}

/** One stage as one activity, on its stage's queue of the backend. */
function runStageOn(backend: Backend, input: StageInput, model: ModelDescriptor, summary: string) {
  return runOn(backend, model, input.stage, (b, overflowAfterMs) =>
    stageProxy(stageTaskQueue(input.model, input.stage, b), b, model, summary, overflowAfterMs).runStage(input),
  );
}

/**
 * A fused run of stages (routing.ts `FusedRun`) as one activity, on the whole-model queue of the backend: a
 * whole-model VM, or one function invocation.
 */
function runStagesOn(backend: Backend, input: StageRunInput, model: ModelDescriptor, summary: string) {
  const n = input.runLast - input.stage + 1;
  return runOn(backend, model, input.stage, (b, overflowAfterMs) =>
    stageProxy(wholeModelQueue(input.model, b), b, model, summary, overflowAfterMs, n).runStages(input),
  );
}

/**
 * Execute stage `input.stage` (or the fused run that starts there) and return its stage outputs in order.
 * Plans without fused runs (every plan recorded before fusion) take the single-stage path they were recorded with.
 */
async function executeStep(
  input: StageInput,
  model: ModelDescriptor,
): Promise<{ outs: StageOutput[]; overflowed: boolean }> {
  const run = fusedRunAt(model.routing, input.stage);
  // Math.random() is Temporal's seeded, replay-safe generator inside workflows.
  const backend = chooseBackend(model.routing, input.stage, Math.random());
  if (run && input.stage < input.lastStage) {
    const runLast = Math.min(run.last, input.lastStage);
    const summary = `query ${input.queryId} stages ${input.stage}-${runLast}/${input.lastStage}`;
    const { out, overflowed } = await runStagesOn(backend, { ...input, runLast }, model, summary);
    const outs = out.stages.map((s, i) =>
      // The run's heartbeats are the one attempt's: recorded once, on its last stage.
      i === out.stages.length - 1 && out.heartbeats !== undefined ? { ...s, heartbeats: out.heartbeats } : s,
    );
    return { outs, overflowed };
  }
  const summary = `query ${input.queryId} stage ${input.stage}/${input.lastStage}`;
  const { out, overflowed } = await runStageOn(backend, input, model, summary);
  return { outs: [out], overflowed };
}

/** Run one query through the model's stages; see `InferenceResult` for what comes back. */
export async function inferenceWorkflow(query: InferenceQuery): Promise<InferenceResult> {
  const startedAt = workflowInfo().runStartTime.getTime();
  const model = await modelOf(query);
  const threshold = query.threshold ?? model.defaultThreshold;
  const lastStage = query.maxStage ?? model.stages;
  const inlineActivationMaxBytes = query.inlineActivationMaxBytes ?? model.inlineActivationMaxBytes;
  // Clients of this SDK set the model at start; a query started another way gets it here.
  if (workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.model) === undefined) {
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.model, value: query.model }]);
  }

  const records: StageRecord[] = [];
  let activation: TensorRef = query.input;
  for (let stage = 1; stage <= lastStage;) {
    const input: StageInput = {
      queryId: query.queryId,
      model: query.model,
      stage,
      lastStage,
      threshold,
      activation,
      inlineActivationMaxBytes,
    };
    const { outs, overflowed } = await executeStep(input, model);
    const last = outs[outs.length - 1];
    if (!last || outs.some((o, i) => o.stage !== stage + i)) {
      throw ApplicationFailure.nonRetryable(
        `stage ${stage}: the stages returned are not ${stage}, ${stage + 1}, ...`,
        'ProtocolError',
      );
    }
    for (const out of outs) {
      const { activation: next, ...record } = out;
      records.push({ ...record, claimCheck: next?.kind === 'object', ...(overflowed ? { overflowed } : {}) });
    }
    if (last.exited) break;
    if (!last.activation) {
      throw ApplicationFailure.nonRetryable(`stage ${last.stage} continued without an activation`, 'ProtocolError');
    }
    activation = last.activation;
    stage = last.stage + 1;
  }

  const answer = mostConfident(records, threshold);
  const exit = records[records.length - 1];
  if (!answer || !exit) throw ApplicationFailure.nonRetryable('no stage ran', 'ProtocolError');
  const backends = [...new Set(records.map((r) => r.backend))] as Backend[];
  const result: InferenceResult = {
    queryId: query.queryId,
    model: query.model,
    label: answer.label,
    confidence: answer.confidence,
    answerStage: answer.stage,
    exitStage: exit.stage,
    confident: answer.confidence >= threshold,
    threshold,
    stages: records,
    backends,
    latencyMs: Math.max(0, Date.now() - startedAt),
    sloMs: query.sloMs,
  };
  // One upsert with everything known at the end; the result itself carries the rest (label, per-stage records).
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.exitStage, value: result.exitStage },
    { key: SEARCH_ATTRIBUTES.latencyMs, value: result.latencyMs },
    { key: SEARCH_ATTRIBUTES.backends, value: backends },
    { key: SEARCH_ATTRIBUTES.confident, value: result.confident },
  ]);
  return result;
}
