/**
 * LIBRA (IC2E 2021), exactly as its authors' simulator does it (method.md, "LIBRA"): the whole model is one unit
 * with one uniform runtime.
 *
 * ```
 * each epoch (= each decide call):  x_t = stage-1 arrivals / window s (= the queries of a 1 s epoch)
 *   first epoch: mean = x_t; dev = 0
 *   otherwise:   dev = (1 − mu)·dev + mu·|mean − x_t| (old mean); mean = (1 − alpha)·mean + alpha·x_t
 * every U and at the first epoch:
 *   vm_share = int(mean + z·dev)                       (int = truncate; z = 1 by default)
 *   vms      = ceil(vm_share / per_vm_capacity)        (clamped to [minVms, maxVms])
 *   if vms grew: keep the OLD quota until the new VMs are up (bootDelayMs), then quota = int(rho·vm_share)
 *   otherwise:   quota = int(rho·vm_share) at once
 * ```
 * The first epoch is the first tick with arrivals (before it: no-data), so a live controller started before the
 * traffic does not size from an empty epoch. The estimator always uses LIBRA's deviation, whatever `deviation` says.
 *
 * Mapping to our decision. A LIBRA VM runs the whole model, so `vms` is the size of the whole-model pool
 * (`wholeModelVms`: each VM polls every stage's queue and is billed once) and the per-stage pools are emptied. LIBRA routes the first `quota` queries of each epoch to VMs and the rest to functions; our routing is a
 * per-execution share, so `vmShare = min(1, quota / max(1, x_t))` with the latest epoch's x_t, the same share on
 * every stage (a query on a LIBRA VM stays on it). The quota itself is kept in the state (`quota`) so that the
 * simulator honours it exactly. LIBRA never re-routes a queued query: no `overflowAfterMs`. With `fuse` (the
 * default), the whole model is one fused run (routing.ts `FusedRun`): one activity per query, on a whole-model VM
 * or one function holding every stage, as LIBRA deploys its unit.
 */
import type { CompiledAutoscalerConfig } from '../config';
import { emptyEwma, ewmaRecord, type EwmaState } from '../stats';
import type { Policy, PolicyResult } from '../types';
import { arrivalRate, clamp, fmt, noData } from './helpers';

export interface LibraState {
  est: EwmaState;
  /** int(mean + z·dev) at the last update. */
  vmShare: number;
  /** VMs per stage pool (each stands for one whole-model VM). */
  vms: number;
  /** Queries per epoch routed to VMs. */
  quota: number;
  /** A quota waiting for new VMs to boot, and when it applies. */
  pendingQuota?: number;
  pendingAt?: number;
  /** `now` of the last update (every U); undefined before the first epoch. */
  lastUpdateAt?: number;
}

/**
 * LIBRA's sizing at one update: `vm_share = int(mean + z·dev)`, `vms = ceil(vm_share / capacity)`,
 * `quota = int(rho · vm_share)`. With capacity 16 and rho 0.8: 32 → 2 VMs, quota 25; 33 → 3 VMs, quota 26.
 * Plain `Math.trunc`/`Math.ceil` as in the authors' Python (`int`, `math.ceil`), float behaviour included.
 */
export function libraSizing(
  mean: number,
  dev: number,
  z: number,
  perVmCapacity: number,
  rho: number,
): { vmShare: number; vms: number; quota: number } {
  const vmShare = Math.trunc(mean + z * dev);
  return { vmShare, vms: Math.ceil(vmShare / perVmCapacity), quota: Math.trunc(rho * vmShare) };
}

export const libraPolicy: Policy<CompiledAutoscalerConfig, LibraState> = {
  name: 'libra',
  initialState: () => ({ est: emptyEwma(), vmShare: 0, vms: 0, quota: 0 }),
  decide(observation, config, state, now): PolicyResult<LibraState> {
    const first = config.stages[0];
    const x = first ? arrivalRate(observation, first.stage) : undefined;
    if (state.est.n === 0 && !(x !== undefined && x > 0)) return { decision: noData(), state };

    const est = x === undefined ? state.est : ewmaRecord(state.est, now, x, { ...config, deviation: 'libra' });
    let { vmShare: share, vms, quota, pendingQuota, pendingAt, lastUpdateAt } = state;
    const notes: string[] = [];
    if (lastUpdateAt === undefined || now - lastUpdateAt >= config.updateIntervalMs) {
      const sized = libraSizing(est.mean, est.dev, config.z, config.libra.perVmCapacity, config.rho);
      const lo = Math.max(...config.stages.map((s) => s.minVms));
      const hi = Math.min(...config.stages.map((s) => s.maxVms));
      const clamped = clamp(sized.vms, lo, hi);
      notes.push(
        `update: vm_share int(${fmt(est.mean)} + ${fmt(config.z)}·${fmt(est.dev)}) = ${sized.vmShare}, ` +
          `VMs ceil(${sized.vmShare} / ${fmt(config.libra.perVmCapacity)}) = ${sized.vms}` +
          (clamped !== sized.vms ? ` clamped to ${clamped}` : ''),
      );
      if (clamped > vms) {
        notes.push(`VMs grew ${vms} → ${clamped}: quota ${quota} kept until the new VMs are up`);
        pendingQuota = sized.quota;
        pendingAt = now + config.bootDelayMs;
      } else {
        quota = sized.quota;
        pendingQuota = undefined;
        pendingAt = undefined;
      }
      share = sized.vmShare;
      vms = clamped;
      lastUpdateAt = now;
    }
    if (pendingQuota !== undefined && pendingAt !== undefined && now >= pendingAt) {
      quota = pendingQuota;
      pendingQuota = undefined;
      pendingAt = undefined;
      notes.push('new VMs up: new quota');
    }
    const next: LibraState = {
      est,
      vmShare: share,
      vms,
      quota,
      ...(pendingQuota !== undefined && pendingAt !== undefined ? { pendingQuota, pendingAt } : {}),
      ...(lastUpdateAt !== undefined ? { lastUpdateAt } : {}),
    };
    const vmShare = Math.min(1, next.quota / Math.max(1, x ?? 0));
    notes.push(`quota ${next.quota} of x_t ${fmt(x ?? 0)} → vmShare ${fmt(vmShare)}`);
    return {
      decision: {
        valid: true,
        wholeModelVms: next.vms,
        vmQuotaPerTick: next.quota,
        // LIBRA's unit is the whole model: with fusion on, a query runs as one activity, on a VM or a function.
        ...(config.fuse && config.stages.length >= 2 ? { fused: [{ first: 1, last: config.stages.length }] } : {}),
        stages: config.stages.map((s) => ({ stage: s.stage, desiredVms: 0, vmShare, reason: notes.join('; ') })),
        reason: `LIBRA: ${next.vms} whole-model VMs, quota ${next.quota}/epoch`,
      },
      state: next,
    };
  },
};
