/**
 * Payload types that cross Temporal (workflow input/output, activity input/output).
 * Sandbox-safe: type-only, imported by workflow code.
 */
import type { Backend } from './naming';
import type { RoutingPlan } from './routing';

/**
 * A float32 tensor as it travels through workflow history.
 * - `inline`: little-endian float32 bytes, base64, carried in the payload (small tensors only).
 * - `object`: a claim check: the bytes live in the JetStream object store under `key`;
 *   history holds only this reference, so large activations never bloat it.
 */
export type TensorRef =
  | { kind: 'inline'; dims: number[]; dataBase64: string }
  | { kind: 'object'; dims: number[]; bucket: string; key: string; bytes: number };

/** Options a caller may set per query. */
export interface InferenceOptions {
  /** Exit threshold on max softmax; a query exits at the first stage whose confidence is >= this. @default the model manifest's `defaultThreshold` */
  threshold?: number;
  /** Run at most this many stages (1..K); the query exits at this stage at the latest. @default K (all stages) */
  maxStage?: number;
  /** Latency SLO of this query in ms, recorded with the result (routing uses it once backends can be chosen). */
  sloMs?: number;
}

/** Input of the inference workflow: one query. */
export interface InferenceQuery extends InferenceOptions {
  /** Caller-chosen id, unique per query; the workflow id is derived from it. */
  queryId: string;
  /** Model name, i.e. a folder under `models/` with a manifest. */
  model: string;
  /** The input tensor (for the default model: [1, 1, 28, 28] pixels in 0..1). */
  input: TensorRef;
  /** Activations whose encoded size exceeds this go through the claim-check store. @default config `inlineActivationMaxBytes` */
  inlineActivationMaxBytes?: number;
  /**
   * The model's shape, stage settings and routing plan as the client resolved them when it started the query
   * (models/descriptor.ts), so the workflow needs no model-lookup local activity. Checked in the workflow; a bad
   * one fails the query (InvalidInputError naming the field). Absent (histories recorded before it existed,
   * queries started by other SDKs): the workflow looks the model up with the `describeModel` local activity.
   */
  descriptor?: ModelDescriptor;
}

/**
 * What the workflow needs to know of a model, resolved once per query: by the client that starts it
 * (`InferenceQuery.descriptor`), else by the `describeModel` local activity. Either way it is in history (the
 * workflow input or a marker), so replays see the same model shape and plan.
 */
export interface ModelDescriptor {
  model: string;
  stages: number;
  defaultThreshold: number;
  inputDims: number[];
  inlineActivationMaxBytes: number;
  /** Stage retry settings from the config of whoever resolved the descriptor (client or workflow worker). */
  stageTimeoutMs: number;
  stageMaxAttempts: number;
  /** A started attempt that stops heartbeating (its worker is gone) is retried after this long. */
  stageHeartbeatTimeoutMs: number;
  /** Serverless stage attempts may include a cold start, so they get the stage timeout plus the cold start. */
  faasStageTimeoutMs: number;
  /** Throttled calls are retried with backoff; enough attempts to ride out minutes of throttling. */
  faasStageMaxAttempts: number;
  /**
   * A stage without overflow waits at most this long for a worker to take it, then fails its query
   * (StageUnavailableError). Absent in histories recorded before it: no limit, as they ran.
   */
  stageQueueTimeoutMs?: number;
  /** Where each stage runs, as published when the query started. */
  routing: RoutingPlan;
}

/** Input of one stage activity. */
export interface StageInput {
  queryId: string;
  model: string;
  /** 1-based stage index. */
  stage: number;
  /** Total number of stages the query may run (K, or `maxStage`): the last one always ends the query. */
  lastStage: number;
  threshold: number;
  activation: TensorRef;
  inlineActivationMaxBytes: number;
}

/** Output of one stage activity. */
export interface StageOutput {
  stage: number;
  /** Predicted class at this stage's exit and its max-softmax confidence. */
  label: number;
  confidence: number;
  /** The query leaves here: confident, or this is its last stage. */
  exited: boolean;
  /** Next activation; present only when the query continues. */
  activation?: TensorRef;
  backend: Backend;
  taskQueue: string;
  /** Worker identity (process) that ran it. */
  worker: string;
  attempt: number;
  /** From the activity being scheduled to this attempt starting on a worker. */
  queueMs: number;
  /** Model execution time (ONNX run, in the inference thread). */
  serviceMs: number;
  /** Whole attempt on the worker: decode, claim-check I/O, inference, event publish. */
  handlerMs: number;
  startedAt: number;
  finishedAt: number;
  /** Serverless only: whether this invocation paid a cold start, the instance, and the billed duration (ms). */
  coldStart?: boolean;
  instanceId?: string;
  billedMs?: number;
  /**
   * Heartbeats of this attempt that reached Temporal (each a billed action; billing/history-actions.ts counts
   * them from here). Optional: results recorded before it existed have none.
   */
  heartbeats?: number;
}

/**
 * Input of a fused run (routing.ts `FusedRun`): stages `stage`..`runLast` in one activity attempt, with the early
 * exits inside it. `activation` is stage `stage`'s input; the stages after it take the previous stage's output in
 * memory.
 */
export interface StageRunInput extends StageInput {
  /** Last stage of the run (stage < runLast <= lastStage). */
  runLast: number;
}

/** Output of a fused run: one output per stage it ran, in order; the last one exited or hands on. */
export interface StageRunOutput {
  stages: StageOutput[];
  /** Heartbeats of the run's attempt that reached Temporal (counted once for the run, not per stage). */
  heartbeats?: number;
}

/** Where a stage execution comes from: the Temporal activity attempt that asked for it. */
export interface StageCallContext {
  workflowId: string;
  runId: string;
  attempt: number;
  /** Epoch ms the attempt was scheduled (queue wait is measured from here). */
  scheduledAt: number;
  /** Task queue the request arrived on (reported in the result). */
  taskQueue: string;
}

/** Per-stage record in a query's result. */
export interface StageRecord extends Omit<StageOutput, 'activation'> {
  /** Whether the activation handed to the next stage went through the claim-check store. */
  claimCheck: boolean;
  /** The routing plan sent this execution to a VM, but no VM started it in time: it ran serverless instead. */
  overflowed?: boolean;
}

/** Result of one query. */
export interface InferenceResult {
  queryId: string;
  model: string;
  label: number;
  confidence: number;
  /** Stage whose exit gave the answer. */
  answerStage: number;
  /** Stage the query left the pipeline at (the last stage run). */
  exitStage: number;
  /** False when no exit reached the threshold and the most confident exit was used. */
  confident: boolean;
  threshold: number;
  stages: StageRecord[];
  backends: Backend[];
  /** Workflow start to result, in workflow time (ms). */
  latencyMs: number;
  sloMs?: number;
}
