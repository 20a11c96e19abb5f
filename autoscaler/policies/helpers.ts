/**
 * Small pure helpers the policies share: reading one stage out of an observation, bounds, the VM share that
 * hides cold starts, the asymmetric (up fast, down slowly) target step, and the per-stage estimator step of the
 * estimator-driven policies (SERFLOW, Spock).
 */
import type { CompiledAutoscalerConfig, CompiledStageConfig } from '../config';
import { emptyEwma, ewmaRecord, ewmaUpper, ratePerSecond, type EwmaState } from '../stats';
import type { Decision, Observation, PoolObservation } from '../types';

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Arrivals at `stage` in the observation's window (0 when the stage is missing). */
export function arrivalsOf(observation: Observation, stage: number): number {
  return observation.stages.find((s) => s.stage === stage)?.arrivals ?? 0;
}

/** Arrival rate at `stage`, queries/s; undefined for a zero-length window (the first tick has no rate). */
export function arrivalRate(observation: Observation, stage: number): number | undefined {
  return ratePerSecond(arrivalsOf(observation, stage), observation.windowMs);
}

/** The stage's pool as observed (an empty pool when missing). */
export function poolOf(observation: Observation, stage: number): PoolObservation {
  return observation.pools.find((p) => p.stage === stage) ?? { stage, vmsReady: 0, vmsBooting: 0, vmsDraining: 0 };
}

/** VMs the pool has or is getting (ready + booting; draining ones are already on their way out). */
export function poolSize(pool: PoolObservation): number {
  return pool.vmsReady + pool.vmsBooting;
}

/** Whether any stage saw an arrival in this window. */
export function hasArrivals(observation: Observation): boolean {
  return observation.stages.some((s) => s.arrivals > 0);
}

/** The decision that changes nothing: no data yet (Knative's invalid scale result). */
export function noData(reason = 'no-data'): Decision {
  return { valid: false, stages: [], reason };
}

/**
 * Share of a stage's executions to send to its VMs so the ready ones are not overloaded, the rest going
 * serverless (cold-start hiding): `min(1, min(ready, desired) · mu / load)`.
 * - VMs above `desired` are being scaled in: routing to them stops at once (method.md, "Scale-in").
 * - No load: 1 when some VM is usable (the pool covers it), else 0.
 * While new VMs boot only the ready ones count, so functions absorb the difference until they are up.
 */
export function vmShareFor(ready: number, desired: number, muPerVm: number, load: number): number {
  const usable = Math.min(ready, desired);
  if (usable <= 0) return 0;
  if (!(load > 0)) return 1;
  return Math.min(1, (usable * muPerVm) / load);
}

/** Pending scale-down: since when a lower size has been wanted, and the highest size wanted meanwhile. */
export interface DownTimer {
  since?: number;
  maxWanted?: number;
}

export type StepKind = 'up' | 'down' | 'hold' | 'waiting-down' | 'up-deferred';

/**
 * One step of an asymmetric target: up at once when `upAllowed`, down only after a lower size has been wanted
 * without interruption for `delayMs`, and then to the highest size wanted during that time (so a brief dip
 * inside the delay does not cut below what was recently needed). Wanting the current size or more resets it.
 */
export function stepTarget(args: {
  target: number;
  wanted: number;
  upAllowed: boolean;
  now: number;
  delayMs: number;
  timer: DownTimer;
}): { target: number; timer: DownTimer; kind: StepKind } {
  const { target, wanted, upAllowed, now, delayMs, timer } = args;
  if (wanted > target)
    return upAllowed ? { target: wanted, timer: {}, kind: 'up' } : { target, timer: {}, kind: 'up-deferred' };
  if (wanted === target) return { target, timer: {}, kind: 'hold' };
  const since = timer.since ?? now;
  const maxWanted = Math.max(timer.maxWanted ?? wanted, wanted);
  if (now - since >= delayMs) return { target: maxWanted, timer: {}, kind: 'down' };
  return { target, timer: { since, maxWanted }, kind: 'waiting-down' };
}

/** The stage's per-query overflow, set only when the stage has VMs to overflow from. */
export function overflowFor(stage: CompiledStageConfig, desiredVms: number): { overflowAfterMs?: number } {
  return desiredVms > 0 ? { overflowAfterMs: stage.overflowAfterMs } : {};
}

/** Whether the restart guard still holds: within `scaleDownDelayMs` of the policy's start. */
export function inRestartGuard(config: CompiledAutoscalerConfig, startedAt: number, now: number): boolean {
  return now - startedAt < config.scaleDownDelayMs;
}

/** Format a number for a reason string: at most 3 decimals, no trailing zeros. */
export function fmt(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : String(x);
}

/** Per-stage state of an estimator-driven policy (SERFLOW, Spock): the rate estimator, target VMs, down timer. */
export interface EstimatedStageState {
  est: EwmaState;
  target: number;
  timer: DownTimer;
}

/**
 * The per-stage states to decide with: the previous ones, or (first decision, or after a restart) fresh ones
 * whose target is the pool as it is now, so a new controller starts from what exists, not from zero.
 */
export function stageStatesFor(
  previous: EstimatedStageState[],
  config: CompiledAutoscalerConfig,
  observation: Observation,
): EstimatedStageState[] {
  if (previous.length === config.stages.length) return previous;
  return config.stages.map((s) => ({ est: emptyEwma(), target: poolSize(poolOf(observation, s.stage)), timer: {} }));
}

/** A stage's rate estimate after this observation: the window's rate (if any) folded into the EWMA. */
export interface StageEstimate {
  /** The window's arrival rate, q/s; undefined for a zero-length window. */
  rate: number | undefined;
  est: EwmaState;
  /** Provisioning share, q/s: `mean + z · dev` of the updated estimate. */
  share: number;
}

/** Fold the stage's arrival rate of this observation into its estimator and read the share at `z`. */
export function estimateStage(
  prev: EstimatedStageState,
  observation: Observation,
  stage: CompiledStageConfig,
  config: CompiledAutoscalerConfig,
  z: number,
  now: number,
): StageEstimate {
  const rate = arrivalRate(observation, stage.stage);
  const est = rate === undefined ? prev.est : ewmaRecord(prev.est, now, rate, config);
  return { rate, est, share: ewmaUpper(est, z) };
}

/** Where a stage's target settles this step, and the share of its executions its ready VMs take. */
export interface SettledStage {
  step: ReturnType<typeof stepTarget>;
  pool: PoolObservation;
  /** The pool size the restart guard holds (0 outside the guard). */
  floor: number;
  desired: number;
  /** Load the VM share is computed for: the larger of the estimated mean and this window's rate. */
  load: number;
  vmShare: number;
}

/**
 * Step the stage's target towards `wanted` (stepTarget), hold it at the current pool while the restart guard is
 * on, and route to the ready VMs what they can take (vmShareFor).
 */
export function settleStage(args: {
  stage: CompiledStageConfig;
  prev: EstimatedStageState;
  estimate: StageEstimate;
  wanted: number;
  upAllowed: boolean;
  guard: boolean;
  observation: Observation;
  config: CompiledAutoscalerConfig;
  now: number;
}): SettledStage {
  const { stage, prev, estimate, observation, config } = args;
  const step = stepTarget({
    target: prev.target,
    wanted: args.wanted,
    upAllowed: args.upAllowed,
    now: args.now,
    delayMs: config.scaleDownDelayMs,
    timer: prev.timer,
  });
  const pool = poolOf(observation, stage.stage);
  const floor = args.guard ? poolSize(pool) : 0;
  const desired = Math.max(step.target, floor);
  const load = Math.max(estimate.est.mean, estimate.rate ?? 0);
  const vmShare = vmShareFor(pool.vmsReady, desired, stage.muPerVm, load);
  return { step, pool, floor, desired, load, vmShare };
}

/** Whether an estimator-driven policy has anything to decide on: history, or arrivals in a real window. */
export function hasSeenLoad(states: EstimatedStageState[], observation: Observation): boolean {
  return states.some((s) => s.est.n > 0) || (observation.windowMs > 0 && hasArrivals(observation));
}
