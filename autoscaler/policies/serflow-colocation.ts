/**
 * SERFLOW's co-location choice (our extension of method.md's per-stage sizing): stages 1..j may share one pool of
 * whole-model VMs (each runs any stage) instead of a pool each. It pays off when the stages' loads are each a small
 * fraction of a VM: a stage-1 VM alone is then mostly idle while deep stages pay a request fee per execution, and one
 * shared VM carries them all (light models, where per-invocation fees dominate). Heavy stages that each fill VMs
 * keep their own pools. The choice compares the expected cost rate of the two plans at the provisioning shares:
 *
 * - per-stage: Σ_k vms_k · P + max(0, share_k − vms_k · mu_k) · C_k, with vms_k from `vmsForShare`;
 * - shared prefix j: W = Σ_{k≤j} share_k / mu_k VMs' worth of work, F = Σ_{k≤j} share_k · C_k its cost in
 *   functions; vms = floor(W) plus one if the remainder's function cost (W − floor W) · F / W is at least P;
 *   cost = vms · P + max(0, W − vms) · F / W + Σ_{k>j} share_k · C_k.
 *
 * P is the VM price per observed (wall) second, `vmPricePerHourUsd / 3600 × timeScale`, consistent with `tCipWall`.
 * Pure functions.
 */
import type { CompiledAutoscalerConfig, CompiledStageConfig } from '../config';
import { floorTolerant, ROUNDING_TOLERANCE } from '../../common/rounding';

/** VM price per observed second (see the module comment). */
export function vmUsdPerWallSecond(config: CompiledAutoscalerConfig): number {
  return ((config.stages[0]?.vmPricePerHourUsd ?? 0) / 3600) * config.timeScale;
}

/** Expected cost per second of one stage on its own pool of `vms` VMs at provisioning share `share` q/s. */
export function perStageCostRate(s: CompiledStageConfig, share: number, vms: number, vmUsdPerSecond: number): number {
  return vms * vmUsdPerSecond + Math.max(0, share - vms * s.muPerVm) * s.faasCostPerInvocationUsd;
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
  const faasOf = (k: number) => (shares[k] ?? 0) * (config.stages[k] as CompiledStageConfig).faasCostPerInvocationUsd;
  const totalFaas = shares.reduce((sum, _, k) => sum + faasOf(k), 0);
  let work = 0;
  let prefixFaas = 0;
  config.stages.forEach((s, k) => {
    work += (shares[k] ?? 0) / s.muPerVm;
    prefixFaas += faasOf(k);
    if (!(work > 0)) return;
    const perUnit = prefixFaas / work;
    const whole = floorTolerant(work);
    const rem = work - whole;
    const vms = whole + (rem > ROUNDING_TOLERANCE && rem * perUnit >= vmUsdPerSecond ? 1 : 0);
    const costRate = vms * vmUsdPerSecond + Math.max(0, work - vms) * perUnit + (totalFaas - prefixFaas);
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
