/**
 * Contracts of the control plane, shared by the policies (pure), the live autoscaler, the profiler and (next)
 * the simulator. Every policy is a pure function of (observation, compiled config, state, now) returning a
 * decision and the next state: no clocks, no I/O inside.
 */

import type { FusedRun } from '../common/routing';

/** Names of the policies behind the one interface. */
export type PolicyName = 'serflow' | 'libra' | 'faas-only' | 'vm-auto' | 'vm-max' | 'spock';
export const POLICY_NAMES: readonly PolicyName[] = ['serflow', 'libra', 'faas-only', 'vm-auto', 'vm-max', 'spock'];

/** What the profiler measured of one stage (the part the policies need). Times in ms. */
export interface StageProfile {
  stage: number;
  /** Service time of one execution on a VM worker (one inference thread), ms. */
  vmServiceMs: { p50: number; p95: number; p99: number; mean: number };
  /** Concurrent executions one VM runs (inference threads). */
  vmSlots: number;
  /** Memory of the stage's function, MB, and its service time per invocation (warm), ms. */
  faasMemoryMb: number;
  faasServiceMs: { p50: number; p95: number; p99: number; mean: number };
  /** Cold start of a new function instance (real start + model load), ms, before any configured extra. */
  faasColdStartMs: number;
  /** Exit profile on the calibration split at the profiled threshold. */
  exitShare: number;
  reachProbability: number;
}

/** Observed load of one stage over the last tick window (from the stage events). */
export interface StageObservation {
  stage: number;
  /** Executions that arrived at this stage in the window (every query that continued from stage k-1). */
  arrivals: number;
  /** Of those, how many exited here. */
  exits: number;
  /** Executions that ran on VMs / serverless in the window. */
  vmExecutions: number;
  faasExecutions: number;
  /** Observed p95 of end-to-end queue wait on VMs in the window, ms (undefined when no VM execution). */
  vmQueueP95Ms?: number;
  /** Executions waiting in the stage's VM queue at the end of the window (when the observer can count them). */
  vmQueued?: number;
}

/** Current capacity of one stage pool (stage 0: the whole-model pool, whose VMs run every stage). */
export interface PoolObservation {
  stage: number;
  vmsReady: number;
  vmsBooting: number;
  vmsDraining: number;
}

/** One tick's input to a policy. `now` is epoch ms (virtual in tests and the simulator). */
export interface Observation {
  now: number;
  model: string;
  /** Length of the window the counts cover, ms. */
  windowMs: number;
  stages: StageObservation[];
  pools: PoolObservation[];
}

/** A policy's decision for one stage. */
export interface StageDecision {
  stage: number;
  /** VMs the pool should have (booting + ready). */
  desiredVms: number;
  /** Share of the stage's executions to send to VMs (0..1); the rest go serverless. */
  vmShare: number;
  /** VM-routed executions not started within this long go serverless (per-query load balancing). */
  overflowAfterMs?: number;
  /** Why, in words and numbers (shown by `serflow plan`). */
  reason: string;
}

export interface Decision {
  /** False when the policy had nothing to decide on (no data yet): keep everything as it is. */
  valid: boolean;
  /**
   * VMs that each run EVERY stage of the model (the whole-model pool, e.g. LIBRA's unit); unset = the policy
   * does not use that pool (it is then left as it is).
   */
  wholeModelVms?: number;
  /**
   * LIBRA's routing rule taken literally: the first N queries of every tick go to the whole-model VMs, the rest
   * serverless. The simulator honours it exactly; the live plan approximates it with each stage's `vmShare`
   * (a per-query share has no notion of "the first N").
   */
  vmQuotaPerTick?: number;
  /**
   * Runs of consecutive stages to execute as one activity each (routing.ts `FusedRun`): the run goes to the
   * whole-model VMs with its first stage's `vmShare`, else to one function invocation. Unset: none.
   */
  fused?: FusedRun[];
  stages: StageDecision[];
  reason: string;
}

export interface PolicyResult<S> {
  decision: Decision;
  state: S;
}

/** A scaling-and-routing policy. `C` is its compiled config, `S` its state (plain data, serialisable). */
export interface Policy<C, S> {
  name: PolicyName;
  initialState(config: C): S;
  decide(observation: Observation, config: C, state: S, now: number): PolicyResult<S>;
}

/** A policy name from user input, or undefined; throws naming the accepted names. */
export function parsePolicy(value: string | undefined): PolicyName | undefined {
  if (value === undefined) return undefined;
  if (!(POLICY_NAMES as readonly string[]).includes(value)) {
    throw new Error(`unknown policy ${JSON.stringify(value)}: expected one of ${POLICY_NAMES.join(', ')}`);
  }
  return value as PolicyName;
}
