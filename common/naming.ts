/**
 * Names shared by workflows, workers, the client and the autoscaler: task queues, workflow ids,
 * search attributes, NATS subjects and buckets. One source of truth so a rename cannot split the system.
 * Sandbox-safe (no Node imports): workflow code imports this file.
 */

/** Task queue of the inference workflow itself (and of its model-lookup local activity). */
export const INFERENCE_TASK_QUEUE = 'serflow.inference';

/** Backends a stage execution can run on. Only `vm` exists in the foundation; `faas` arrives with the serverless path. */
export type Backend = 'vm' | 'faas';

/** Task queue polled by the pool that runs stage `stage` (1-based) of `model` on `backend`, e.g. `mnist-ee.stage-2.vm`. */
export function stageTaskQueue(model: string, stage: number, backend: Backend = 'vm'): string {
  return `${model}.stage-${stage}.${backend}`;
}

/** Workflow id of one query: stable and readable, so a query can be found in the UI by its id. */
export function inferenceWorkflowId(model: string, queryId: string): string {
  return `serflow-${model}-${queryId}`;
}

/** Custom search attributes registered on the Temporal namespace, with their Temporal types. */
export const SEARCH_ATTRIBUTES = {
  /** Stage the query exited at (the last stage when no exit was confident). */
  exitStage: { name: 'ExitStage', type: 'Int' },
  /** Model name. */
  model: { name: 'SerflowModel', type: 'Keyword' },
  /** End-to-end latency inside the workflow, from workflow start to result, in ms. */
  latencyMs: { name: 'LatencyMs', type: 'Int' },
  /** Backends used by the query's stage executions, e.g. `["vm"]`. */
  backends: { name: 'Backends', type: 'KeywordList' },
  /** Whether the answer came from a confident exit (false: no exit reached the threshold). */
  confident: { name: 'ExitConfident', type: 'Bool' },
} as const;

/** JetStream stream holding every stage outcome (exit, continue, failure). */
export const STAGE_EVENTS_STREAM = 'SERFLOW_STAGE_EVENTS';
/** Subject prefix of stage events; full subject: `serflow.stage.<model>.<stage>.<kind>`. */
export const STAGE_EVENTS_SUBJECT_PREFIX = 'serflow.stage';

/** Subject a stage event is published on. `kind` is the event type without the `stage.` prefix. */
export function stageEventSubject(model: string, stage: number, kind: 'exited' | 'continued' | 'failed'): string {
  return `${STAGE_EVENTS_SUBJECT_PREFIX}.${model}.${stage}.${kind}`;
}

/** JetStream object store used as the claim-check store for large activations. */
export const ACTIVATIONS_BUCKET = 'serflow-activations';

/** JetStream KV bucket where every worker process keeps its liveness and load record (expires when it stops). */
export const WORKERS_BUCKET = 'serflow-workers';
