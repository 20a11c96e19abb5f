/**
 * SERFLOW's co-location choice (our extension of method.md's per-stage sizing): stages 1..j may share one pool of
 * whole-model VMs (each runs any stage) instead of a pool each. It pays off when the stages' loads are each a small
 * fraction of a VM: a stage-1 VM alone is then mostly idle while deep stages pay a request fee per execution, and one
 * shared VM carries them all (light models, where per-invocation fees dominate). Heavy stages that each fill VMs
 * keep their own pools. The choice compares the expected WHOLE-BILL cost rate of the plans at the provisioning
 * shares r_k (VMs, functions and the Temporal actions, A USD each), each against the same serverless alternative:
 *
 * - serverless from stage a on, S(a): the cheaper of one activity per stage and one fused run (serflow-fusion.ts
 *   `faasTailCostRates`; with `fuse` off, one per stage), actions included;
 * - per-stage pools with vms_k VMs (L the last stage with VMs): Σ_{k≤L} [vms_k·P + max(0, r_k − vms_k·mu_k)·C_k +
 *   r_k·A] + S(L+1);
 * - shared prefix j: W = Σ_{k≤j} r_k / mu_k VMs' worth of work and F its function cost without actions (with
 *   fusion and j ≥ 2 the prefix is one run: r_1·R + Σ r_k·D_k·M/m_k, else Σ r_k·C_k); vms = floor(W) plus one if
 *   the remainder's function cost (W − floor W) · F / W is at least P; cost = vms·P + max(0, W − vms)·F / W +
 *   (the prefix's actions: r_1·A as one run, Σ r_k·A otherwise) + S(j+1).
 *
 * Counting a request fee and an action per stage where the serverless plan pays one per query overstated what a VM
 * saves by the deep stages' fees: judged on bursty traces, the light model bought VMs at half the rate where they pay.
 * P is the VM price per observed (wall) second, `vmPricePerHourUsd / 3600 × timeScale`, consistent with `tCipWall`.
 * Pure functions.
 */
import type { CompiledAutoscalerConfig, CompiledStageConfig } from '../config';
import { floorTolerant, ROUNDING_TOLERANCE } from '../../common/rounding';
import { faasTailCostRates } from './serflow-fusion';

/** VM price per observed second (see the module comment). */
export function vmUsdPerWallSecond(config: CompiledAutoscalerConfig): number {
  return ((config.stages[0]?.vmPricePerHourUsd ?? 0) / 3600) * config.timeScale;
}

/** S(from): whole-bill cost per second of stages `from`..K (0-based) on functions, fused where that is cheaper. */
export function serverlessCostRate(config: CompiledAutoscalerConfig, shares: readonly number[], from = 0): number {
  if (from >= config.stages.length) return 0;
  const { separate, fused } = faasTailCostRates(config, shares, from);
  return config.fuse ? Math.min(separate, fused) : separate;
}

/** Whole-bill cost per second of per-stage pools of `vms[k]` VMs at the shares (see the module comment). */
export function perStagePlanCostRate(
  config: CompiledAutoscalerConfig,
  shares: readonly number[],
  vms: readonly number[],
  vmUsdPerSecond: number,
): number {
  const last = vms.reduce((l, v, k) => (v > 0 ? k : l), -1);
  let cost = serverlessCostRate(config, shares, last + 1);
  for (let k = 0; k <= last; k++) {
    const s = config.stages[k] as CompiledStageConfig;
    const r = shares[k] ?? 0;
    const n = vms[k] ?? 0;
    cost += n * vmUsdPerSecond + Math.max(0, r - n * s.muPerVm) * s.faasCostPerInvocationUsd + r * config.usdPerAction;
  }
  return cost;
}

export interface SharedPlan {
  /** Stages 1..prefix run on the shared pool (1-based count). */
  prefix: number;
  vms: number;
  /** VMs' worth of work of the prefix at the shares. */
  work: number;
  costRate: number;
}

/** Every shared prefix (j = 1..K) with load, in order of j. */
export function sharedPlans(
  config: CompiledAutoscalerConfig,
  shares: readonly number[],
  vmUsdPerSecond: number,
): SharedPlan[] {
  const plans: SharedPlan[] = [];
  const first = config.stages[0] as CompiledStageConfig;
  const r1 = shares[0] ?? 0;
  let work = 0;
  let separateFaas = 0;
  let memory = 0;
  config.stages.forEach((s, k) => {
    const r = shares[k] ?? 0;
    work += r / s.muPerVm;
    separateFaas += r * s.faasCostPerInvocationUsd;
    memory = Math.max(memory, s.faasMemoryMb);
    if (!(work > 0)) return;
    // With fusion a prefix of 2 or more stages is one activity (serflow-fusion.ts `fusedRunsFor`), on its VMs and
    // in the function its overflow goes to.
    const asRun = config.fuse && k >= 1;
    const prefixFaas = asRun
      ? r1 * first.faasRequestUsd +
        config.stages
          .slice(0, k + 1)
          .reduce(
            (sum, t, i) =>
              sum + ((shares[i] ?? 0) * (t.faasCostPerInvocationUsd - t.faasRequestUsd) * memory) / t.faasMemoryMb,
            0,
          )
      : separateFaas;
    const prefixActions =
      (asRun ? r1 : shares.slice(0, k + 1).reduce((sum, x) => sum + (x ?? 0), 0)) * config.usdPerAction;
    const perUnit = prefixFaas / work;
    const whole = floorTolerant(work);
    const rem = work - whole;
    const vms = whole + (rem > ROUNDING_TOLERANCE && rem * perUnit >= vmUsdPerSecond ? 1 : 0);
    const costRate =
      vms * vmUsdPerSecond +
      Math.max(0, work - vms) * perUnit +
      prefixActions +
      serverlessCostRate(config, shares, k + 1);
    plans.push({ prefix: k + 1, vms, work, costRate });
  });
  return plans;
}

/** The cheapest shared prefix at the given shares (the shortest on a tie), or undefined when no stage has load. */
export function bestSharedPlan(
  config: CompiledAutoscalerConfig,
  shares: readonly number[],
  vmUsdPerSecond: number,
): SharedPlan | undefined {
  let best: SharedPlan | undefined;
  for (const p of sharedPlans(config, shares, vmUsdPerSecond)) if (!best || p.costRate < best.costRate) best = p;
  return best;
}

/**
 * The plan for a given prefix at the current shares (sized now, so its VM count follows the load between plan
 * changes); a prefix without load gives a plan of 0 VMs.
 */
export function sharedPlanFor(
  config: CompiledAutoscalerConfig,
  shares: readonly number[],
  vmUsdPerSecond: number,
  prefix: number,
): SharedPlan {
  return (
    sharedPlans(config, shares, vmUsdPerSecond).find((p) => p.prefix === prefix) ?? {
      prefix,
      vms: 0,
      work: 0,
      costRate: 0,
    }
  );
}
