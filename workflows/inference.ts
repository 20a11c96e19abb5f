/**
 * One workflow per query: run stage 1, 2, ... of an early-exit model, each stage as an activity on that
 * stage's pool task queue, and stop at the first confident exit.
 *
 * Deterministic: no I/O, clocks or randomness here (lint bans Node built-ins and I/O packages in this folder).
 * The model's shape comes from a local activity; everything else is in the query and the stage results.
 */
import {
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { InferenceQuery, InferenceResult, StageOutput, StageRecord, TensorRef } from '../common/contracts';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import { SEARCH_ATTRIBUTES, stageTaskQueue, type Backend } from '../common/naming';
import type { createModelActivities } from '../activities/model-activities';
import type { createStageActivities } from '../activities/stage-activities';
import { mostConfident } from './exit-rule';
import { stageActivityOptions } from './activity-options';

type StageActivities = ReturnType<typeof createStageActivities>;

const { describeModel } = proxyLocalActivities<ReturnType<typeof createModelActivities>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

/** Run one query through the model's stages; see `InferenceResult` for what comes back. */
export async function inferenceWorkflow(query: InferenceQuery): Promise<InferenceResult> {
  const startedAt = workflowInfo().runStartTime.getTime();
  const model = await describeModel(query);
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
    const taskQueue = stageTaskQueue(query.model, stage, 'vm');
    const { runStage } = proxyActivities<StageActivities>(
      stageActivityOptions(taskQueue, model, `query ${query.queryId} stage ${stage}/${lastStage}`),
    );
    const out: StageOutput = await runStage({
      queryId: query.queryId,
      model: query.model,
      stage,
      lastStage,
      threshold,
      activation,
      inlineActivationMaxBytes,
    });
    const { activation: next, ...record } = out;
    records.push({ ...record, claimCheck: next?.kind === 'object' });
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
