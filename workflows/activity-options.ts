/** Activity options of stage executions: timeouts and the retry policy, set where the activity is proxied. */
import type { ActivityOptions } from '@temporalio/workflow';
import type { ModelDescriptor } from '../common/contracts';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import type { Backend } from '../common/naming';

/**
 * Options for one stage (or a fused run of `stagesInRun` stages) on `taskQueue`. A lost worker surfaces as a start-to-close timeout and the
 * attempt is retried on another worker of the pool; bad input fails the query at once.
 */
export function stageActivityOptions(
  taskQueue: string,
  model: Pick<
    ModelDescriptor,
    'stageTimeoutMs' | 'stageMaxAttempts' | 'stageHeartbeatTimeoutMs' | 'faasStageTimeoutMs' | 'faasStageMaxAttempts'
  >,
  summary: string,
  backend: Backend = 'vm',
  stagesInRun = 1,
): ActivityOptions {
  const faas = backend === 'faas';
  // A fused run may execute all of its stages in the one attempt: each gets a stage's time (the cold start of a
  // function is in faasStageTimeoutMs once).
  const extraStagesMs = (stagesInRun - 1) * model.stageTimeoutMs;
  return {
    taskQueue,
    startToCloseTimeout: (faas ? model.faasStageTimeoutMs : model.stageTimeoutMs) + extraStagesMs,
    // Older histories (before heartbeats) have no value: keep their behaviour on replay.
    ...(model.stageHeartbeatTimeoutMs ? { heartbeatTimeout: model.stageHeartbeatTimeoutMs } : {}),
    summary,
    retry: {
      initialInterval: '100ms',
      backoffCoefficient: 2,
      maximumInterval: '2s',
      maximumAttempts: faas ? model.faasStageMaxAttempts : model.stageMaxAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  };
}
