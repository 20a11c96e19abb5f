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
  TensorRef,
} from '../common/contracts';
import { chooseBackend } from '../common/routing';
import { checkDescriptor, checkQueryRanges } from '../common/descriptor-checks';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import { SEARCH_ATTRIBUTES, stageTaskQueue, type Backend } from '../common/naming';
import type { createModelActivities } from '../activities/model-activities';
import type { createStageActivities } from '../activities/stage-activities';
import { mostConfident } from '../common/exit-rule';
import { stageActivityOptions } from './activity-options';

type StageActivities = ReturnType<typeof createStageActivities>;

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
 */
function rejected(err: unknown): ApplicationFailure {
  if (err instanceof Error && (NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(err.name)) {
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
) {
  const options = stageActivityOptions(taskQueue, model, summary, backend);
  return proxyActivities<StageActivities>(
    overflowAfterMs === undefined ? options : { ...options, scheduleToStartTimeout: overflowAfterMs },
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
 * Run a stage on the chosen backend. A VM execution that no VM starts within the plan's `overflowAfterMs`
 * (pool saturated, or no ready VM while new ones boot) is taken back and run serverless instead.
 */
async function runStageOn(
  backend: Backend,
  input: StageInput,
  model: ModelDescriptor,
  summary: string,
): Promise<{ out: StageOutput; overflowed: boolean }> {
  const faas = () =>
    stageProxy(stageTaskQueue(input.model, input.stage, 'faas'), 'faas', model, summary).runStage(input);
  if (backend === 'faas') return { out: await faas(), overflowed: false };
  const route = model.routing.stages.find((r) => r.stage === input.stage);
  const vmQueue = stageTaskQueue(input.model, input.stage, 'vm');
  try {
    return {
      out: await stageProxy(vmQueue, 'vm', model, summary, route?.overflowAfterMs).runStage(input),
      overflowed: false,
    };
  } catch (err) {
    if (route?.overflowAfterMs !== undefined && isScheduleToStartTimeout(err))
      return { out: await faas(), overflowed: true };
    throw err;
  }
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
  for (let stage = 1; stage <= lastStage; stage++) {
    const input: StageInput = {
      queryId: query.queryId,
      model: query.model,
      stage,
      lastStage,
      threshold,
      activation,
      inlineActivationMaxBytes,
    };
    const summary = `query ${query.queryId} stage ${stage}/${lastStage}`;
    // Math.random() is Temporal's seeded, replay-safe generator inside workflows.
    const { out, overflowed } = await runStageOn(
      chooseBackend(model.routing, stage, Math.random()),
      input,
      model,
      summary,
    );
    const { activation: next, ...record } = out;
    records.push({ ...record, claimCheck: next?.kind === 'object', ...(overflowed ? { overflowed } : {}) });
    if (out.exited) break;
    if (!next) {
      throw ApplicationFailure.nonRetryable(`stage ${stage} continued without an activation`, 'ProtocolError');
    }
    activation = next;
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
