/**
 * SERFLOW's fusion choice (priced on the whole bill): which runs of consecutive stages execute as ONE activity
 * (routing.ts `FusedRun`). Every activity costs a Temporal action and a hop between processes; every function
 * invocation costs a request fee. Fusing stages a..b:
 *
 * - on the shared pool of whole-model VMs (serflow-colocation.ts): its VMs hold every stage, so running the prefix
 *   1..j in one activity only saves (one action and one hop per stage after the first); it is always chosen when
 *   the shared plan is in force;
 * - serverless, for a tail of stages a..K that no VM serves: one invocation of a function holding a..K instead of one
 *   per stage. Per second, with r_k the stage loads, R the request fee, A the USD per action, D_k the duration part
 *   of C_F,k at the stage's memory m_k and M = max m_k over the run (a fused function needs the largest memory of
 *   its stages, and the duration is billed per MB):
 *     separate = Σ_k r_k · (C_F,k + A)        fused = r_a · (R + A) + Σ_k r_k · D_k · M / m_k
 *   The run is fused when fused < separate (on a tie it is not: fewer, smaller functions). Stages on their own VM
 *   pools stay their own activities: the per-stage design still runs where it pays.
 *
 * Rates: the caller's per-stage loads, or with none the profile's reach probabilities (only their ratios matter;
 * SERFLOW and FaaS-only pass none, see serflow.ts). Pure functions.
 */
import type { FusedRun } from '../../common/routing';
import type { CompiledAutoscalerConfig, CompiledStageConfig } from '../config';
import type { StageDecision } from '../types';

/** Expected cost per second of stages `from..K` (0-based `from`) on functions, one activity each or fused. */
export function faasTailCostRates(
  config: CompiledAutoscalerConfig,
  rates: readonly number[],
  from: number,
): { separate: number; fused: number } {
  const tail = config.stages.slice(from);
  const memory = Math.max(...tail.map((s) => s.faasMemoryMb));
  let separate = 0;
  let fused = (rates[from] ?? 0) * ((tail[0] as CompiledStageConfig).faasRequestUsd + config.usdPerAction);
  tail.forEach((s, i) => {
    const r = rates[from + i] ?? 0;
    const duration = s.faasCostPerInvocationUsd - s.faasRequestUsd;
    separate += r * (s.faasCostPerInvocationUsd + config.usdPerAction);
    fused += (r * duration * memory) / s.faasMemoryMb;
  });
  return { separate, fused };
}

/**
 * The fused runs for a decision: the shared pool's prefix 1..`sharedPrefix` (when at least 2 stages), and the
 * serverless tail after the last stage any VM serves, when fusing it is cheaper (see the module comment).
 */
export function fusedRunsFor(
  config: CompiledAutoscalerConfig,
  stages: readonly StageDecision[],
  loads: readonly number[],
  sharedPrefix: number,
): FusedRun[] {
  const K = config.stages.length;
  const runs: FusedRun[] = [];
  if (sharedPrefix >= 2) runs.push({ first: 1, last: sharedPrefix });
  // The tail starts after every stage a ready VM serves (its own pool, or the shared pool while it drains). A stage
  // whose VMs still boot has no VM share: it stays in the serverless run it was in, the function already warm.
  let lastOnVm = sharedPrefix;
  stages.forEach((d) => {
    if (d.vmShare > 0) lastOnVm = Math.max(lastOnVm, d.stage);
  });
  const from = lastOnVm; // 0-based index of the tail's first stage
  if (K - from >= 2) {
    const loaded = loads.some((r) => r > 0);
    const rates = loaded ? loads : config.stages.map((s) => s.reachProbability);
    const { separate, fused } = faasTailCostRates(config, rates, from);
    if (fused < separate) runs.push({ first: from + 1, last: K });
  }
  return runs;
}

/**
 * The fused runs of a plan with every stage serverless, weighed by the profile's reach probabilities: FaaS-only's
 * plan, and the plan the autoscaler publishes at start, before it has seen load (none when `fuse` is off).
 */
export function serverlessFusedRuns(config: CompiledAutoscalerConfig): FusedRun[] {
  if (!config.fuse) return [];
  const stages = config.stages.map((s) => ({ stage: s.stage, desiredVms: 0, vmShare: 0, reason: '' }));
  return fusedRunsFor(config, stages, [], 0);
}
