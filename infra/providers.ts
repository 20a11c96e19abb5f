/**
 * The two kinds of capacity a stage can run on, as interfaces a cloud adapter implements. The local
 * implementations (`deploy/local/`) behave like their cloud counterparts (boot delays, cold starts,
 * keep-alive, per-second and per-invocation billing); a Kubernetes or AWS adapter implements the same.
 */
import type { StageCallContext, StageInput, StageOutput } from '../common/contracts';

/** Lifecycle of a VM: billed from `booting` until it is gone. */
export type VmState = 'booting' | 'ready' | 'draining' | 'terminated';

export interface VmInstance {
  id: string;
  model: string;
  stage: number;
  instanceType: string;
  state: VmState;
  /** Wall-clock epoch ms. */
  launchedAt: number;
  readyAt?: number;
  drainingAt?: number;
  terminatedAt?: number;
  /** Local implementation: the worker process. */
  pid?: number;
}

/** Which VMs a `VmPoolProvider.list` filter selects: those of its model and stage, where given. */
export interface VmFilter {
  model?: string;
  stage?: number;
}

/** `vms` selected by `filter`: every provider's `list` is this over its own records. */
export function filterVms<V extends VmInstance>(vms: Iterable<V>, filter: VmFilter = {}): V[] {
  return [...vms].filter(
    (v) =>
      (filter.model === undefined || v.model === filter.model) &&
      (filter.stage === undefined || v.stage === filter.stage),
  );
}

/** The VMs of a pool that count towards its size: booting or ready (not draining, not gone). */
export function activeVms<V extends VmInstance>(vms: Iterable<V>, model: string, stage: number): V[] {
  return filterVms(vms, { model, stage }).filter((v) => v.state === 'booting' || v.state === 'ready');
}

/**
 * VM pools, one per (model, stage). A Kubernetes implementation maps a pool to a Deployment and `scaleTo`
 * to its scale subresource (pods drain through their termination grace period).
 */
export interface VmPoolProvider {
  list(filter?: VmFilter): VmInstance[];
  /** Launch `count` VMs for a stage pool; they serve after the boot delay. */
  launch(model: string, stage: number, count: number, options?: { preProvisioned?: boolean }): Promise<VmInstance[]>;
  /** Stop routing new work to a VM and terminate it once its in-flight work is done. */
  drain(vmId: string): Promise<VmInstance>;
  /** Launch or drain VMs until the pool has `count` that are booting or ready; drains the newest first. */
  scaleTo(model: string, stage: number, count: number): Promise<VmInstance[]>;
  close(): Promise<void>;
}

/**
 * A function of the serverless platform: the one of stage `stage` of `model`, or, with `lastStage`, a fused
 * function holding stages `stage`..`lastStage` (routing.ts `FusedRun`) that runs them in ONE invocation. A fused
 * function is a deployment of its own: its own instances and keep-alive, its memory the largest of its stages'.
 */
export interface FunctionRef {
  model: string;
  /** The function's (first) stage, 1-based. */
  stage: number;
  /** Last stage of a fused function (stage < lastStage <= K); absent (or = stage) for a one-stage function. */
  lastStage?: number;
}

/** What one invocation returned, with what it is billed for. */
export interface FunctionInvocation {
  /** The stage's output; for a fused function, the output of the last stage it ran (the last of `stages`). */
  output: StageOutput;
  /**
   * A fused function only: the output of every stage the invocation ran, in order, from the function's first stage
   * up to the one the query exited at (or the function's last stage). The billing facts below are the whole
   * invocation's, once.
   */
  stages?: StageOutput[];
  instanceId: string;
  coldStart: boolean;
  /** Billed platform init on a cold start (real start + model load + configured extra), cloud ms; 0 when warm. */
  initMs: number;
  /** Handler duration, ms. */
  durationMs: number;
  memoryMb: number;
}

/** Thrown when the account concurrency limit refuses a call. Retryable: the caller retries later or falls back. */
export class FunctionThrottledError extends Error {
  override readonly name = 'FunctionThrottledError';
}

/** Warm and busy function instances, for `serflow pools`. */
export interface FunctionInstanceInfo {
  instanceId: string;
  model: string;
  stage: number;
  /** Last stage of a fused function's instance (FunctionRef `lastStage`); absent for a one-stage function. */
  lastStage?: number;
  memoryMb: number;
  state: 'starting' | 'idle' | 'busy';
  startedAt: number;
  lastUsedAt?: number;
  invocations: number;
}

/** A serverless platform: one request per instance at a time, cold starts, keep-alive, a concurrency limit. */
export interface ServerlessPlatform {
  /**
   * One invocation of `fn` for `input` (whose `stage` must be the function's first stage). A fused function runs
   * its stages up to the first exit and returns them all in `stages`.
   */
  invoke(fn: FunctionRef, input: StageInput, call: StageCallContext): Promise<FunctionInvocation>;
  list(): FunctionInstanceInfo[];
  close(): Promise<void>;
}
