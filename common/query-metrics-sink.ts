/**
 * The sink through which the workflow sandbox reports a finished query to its worker's metrics
 * (workflows/interceptors.ts calls it, workers/workflow-worker.ts implements it). Types only: sandbox-safe.
 * Sinks are not called while a workflow replays, so a query is counted once, by the worker that finishes it.
 */
import type { Sinks } from '@temporalio/workflow';

export interface QueryCompletion {
  model: string;
  outcome: 'ok' | 'failed';
  /**
   * Billable Temporal actions the query made, counted as the workflow saw them: the start, each activity and local
   * activity it scheduled, and the upsert of its result's search attributes (billing/actions.ts: 2 + n). Retried
   * attempts are not visible to the workflow; `serflow cost` counts them from the history.
   */
  actions: number;
}

export interface QueryMetricsSinks extends Sinks {
  serflowMetrics: {
    queryCompleted(completion: QueryCompletion): void;
  };
}

/** Name of the sink, as registered by the workflow worker. */
export const QUERY_METRICS_SINK = 'serflowMetrics';
