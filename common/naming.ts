/**
 * Names shared by workflows, workers, the client and the autoscaler: task queues, workflow ids,
 * search attributes, NATS subjects and buckets. One source of truth so a rename cannot split the system.
 * Sandbox-safe (no Node imports): workflow code imports this file.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Task queue of the inference workflow itself (and of its model-lookup local activity). */
export const INFERENCE_TASK_QUEUE = 'serflow.inference';

/** Backends a stage execution can run on. Only `vm` exists in the foundation; `faas` arrives with the serverless path. */
export type Backend = 'vm' | 'faas';

/** Task queue polled by the pool that runs stage `stage` (1-based) of `model` on `backend`, e.g. `mnist-ee.stage-2.vm`. */
export function stageTaskQueue(model: string, stage: number, backend: Backend = 'vm'): string {
  return `${model}.stage-${stage}.${backend}`;
}

/** Workflow id of one query: stable and readable, so a query can be found in the UI by its id. */
/** Stage number that stands for "every stage of the model": a whole-model VM (e.g. LIBRA's unit). */
export const WHOLE_MODEL_STAGE = 0;

/** Task queue name a whole-model worker reports under (it polls every stage's own queue). */
export function wholeModelQueue(model: string, backend: Backend): string {
  return `${model}.all-stages.${backend}`;
}

export function inferenceWorkflowId(model: string, queryId: string): string {
  return `serflow-${model}-${queryId}`;
}

/**
 * Custom search attributes registered on the Temporal namespace (typed keys; `type` is the Temporal type).
 * - `ExitStage`: stage the query left the pipeline at (the last stage when no exit was confident)
 * - `SerflowModel`: model name (set when the query starts, so running queries are findable too)
 * - `LatencyMs`: end-to-end latency inside the workflow, from workflow start to result
 * - `Backends`: backends the query's stage executions used, e.g. `["vm"]`
 * - `ExitConfident`: whether the answer came from a confident exit
 */
export const SEARCH_ATTRIBUTES = {
  exitStage: defineSearchAttributeKey('ExitStage', SearchAttributeType.INT),
  model: defineSearchAttributeKey('SerflowModel', SearchAttributeType.KEYWORD),
  latencyMs: defineSearchAttributeKey('LatencyMs', SearchAttributeType.INT),
  backends: defineSearchAttributeKey('Backends', SearchAttributeType.KEYWORD_LIST),
  confident: defineSearchAttributeKey('ExitConfident', SearchAttributeType.BOOL),
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

/** Object-store key of a query's input when the client claim-checks it. */
export function inputActivationKey(workflowId: string): string {
  return `input/${workflowId}`;
}

/**
 * Object-store key of the activation stage `stage` of a query hands on: one per query and stage, so a retried
 * attempt overwrites its own object instead of leaking one, and the client can delete them all when the query ends
 * (a workflow id runs once: the client starts it with REJECT_DUPLICATE).
 */
export function stageActivationKey(workflowId: string, stage: number): string {
  return `${workflowId}/stage-${stage}`;
}

/** JetStream KV bucket where every worker process keeps its liveness and load record (expires when it stops). */
export const WORKERS_BUCKET = 'serflow-workers';

/** JetStream KV bucket holding the routing plan of each model (key: model name). */
export const ROUTING_BUCKET = 'serflow-routing';

/** NATS request subject of the local cloud agent's pool API (`list`, `scale`, `drain`). */
export const POOLS_API_SUBJECT = 'serflow.pools';

/** NATS subject a serverless function instance takes its invocations on. */
export function functionInstanceSubject(instanceId: string): string {
  return `serflow.fn.${instanceId}`;
}

/** Task queue name the local cloud agent reports under in the worker records. */
export const CLOUD_AGENT_QUEUE = 'serflow.cloud-agent';

/** JetStream stream of control-plane records (autoscaler decisions with their reasons). */
export const CONTROL_STREAM = 'SERFLOW_CONTROL';
export const CONTROL_SUBJECT_PREFIX = 'serflow.control';
/** JetStream KV bucket with the latest autoscaler decision per model (`serflow plan`). */
export const AUTOSCALER_BUCKET = 'serflow-autoscaler';
