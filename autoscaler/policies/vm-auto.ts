/**
 * VM-only, reactive (LIBRA's "AUTO", method.md "Other baselines"), per stage: every epoch
 * `utilisation = load / capacity` (stage arrivals/s over ready VMs × mu_k; with no ready VM, 1 if there is load,
 * else 0: a saturated empty pool); the average over the last `vmAuto.windowMs` of epochs above `upUtilisation`
 * (70 %) adds `stepVms` (10), below `downUtilisation` (30 %) removes 10, clamped to [minVms, maxVms]. Nothing
 * changes within `graceMs` (120 s) of the start or of the stage's previous change: method.md's "120 s grace
 * period", read as a cooldown longer than the 100 s boot so new VMs count before the next decision (otherwise
 * the pool would keep growing while they boot). Every execution goes to VMs (vmShare 1), FIFO, no overflow.
 *
 * With `vmAuto.estimator: 'libra-ic2e'` the averaging is LIBRA's code as it is: every epoch one sample; once more
 * than 120 samples exist, (sum of the last 300) / 120 is compared with the thresholds and the history is cleared
 * (no separate grace: the 120 samples are the wait). Used by the `libra-ic2e` simulator preset.
 */
import {
  LIBRA_IC2E_VM_AUTO_DIVISOR,
  LIBRA_IC2E_VM_AUTO_MIN_SAMPLES,
  LIBRA_IC2E_VM_AUTO_SUM_SAMPLES,
  type CompiledAutoscalerConfig,
} from '../config';
import type { Policy, PolicyResult, StageDecision } from '../types';
import { arrivalRate, clamp, fmt, hasArrivals, noData, poolOf, poolSize } from './helpers';

export interface VmAutoStageState {
  target: number;
  /** `now` of the last change of `target`; undefined before the first. */
  lastChangeAt?: number;
  /** Utilisation of each epoch within the averaging window. */
  samples: Array<{ at: number; utilisation: number }>;
}

export interface VmAutoState {
  startedAt?: number;
  /** Whether any arrival has been seen (until then: no-data). */
  seen: boolean;
  stages: VmAutoStageState[];
}

export const vmAutoPolicy: Policy<CompiledAutoscalerConfig, VmAutoState> = {
  name: 'vm-auto',
  initialState: () => ({ seen: false, stages: [] }),
  decide(observation, config, state, now): PolicyResult<VmAutoState> {
    const startedAt = state.startedAt ?? now;
    const stages: VmAutoStageState[] =
      state.stages.length === config.stages.length
        ? state.stages
        : config.stages.map((s) => ({ target: poolSize(poolOf(observation, s.stage)), samples: [] }));
    // Valid once load was seen, or at once when a fleet exists (a VM-only policy routes to the VMs it has).
    const seen =
      state.seen ||
      (observation.windowMs > 0 && hasArrivals(observation)) ||
      observation.pools.some((p) => poolSize(p) > 0);
    if (!seen) return { decision: noData(), state: { startedAt, seen, stages } };

    const a = config.vmAuto;
    const decisions: StageDecision[] = [];
    const next = config.stages.map((s, i): VmAutoStageState => {
      const prev = stages[i] as VmAutoStageState;
      const pool = poolOf(observation, s.stage);
      const rate = arrivalRate(observation, s.stage);
      const capacity = pool.vmsReady * s.muPerVm;
      const libraCode = a.estimator === 'libra-ic2e';
      let samples = libraCode ? [...prev.samples] : prev.samples.filter((x) => x.at > now - a.windowMs);
      // LIBRA's code divides by every VM it has (booting ones too); ours by the ready ones, which serve.
      const cap = libraCode ? poolSize(pool) * s.muPerVm : capacity;
      if (rate !== undefined) samples.push({ at: now, utilisation: cap > 0 ? rate / cap : rate > 0 ? 1 : 0 });
      let avg: number | undefined;
      let inGrace: boolean;
      if (libraCode) {
        inGrace = samples.length <= LIBRA_IC2E_VM_AUTO_MIN_SAMPLES;
        if (!inGrace) {
          const last = samples.slice(-LIBRA_IC2E_VM_AUTO_SUM_SAMPLES);
          avg = last.reduce((sum, x) => sum + x.utilisation, 0) / LIBRA_IC2E_VM_AUTO_DIVISOR;
          // The history is cleared when VMs are added or removed; otherwise it keeps its last 300 samples.
          if (avg > a.upUtilisation || avg < a.downUtilisation) samples = [];
          else samples = last;
        }
      } else {
        avg = samples.length ? samples.reduce((sum, x) => sum + x.utilisation, 0) / samples.length : undefined;
        inGrace = now - (prev.lastChangeAt ?? startedAt) < a.graceMs;
      }
      // A VM-only pool never goes below one VM: with none, its executions would wait forever.
      const lo = Math.max(1, s.minVms);
      let target = clamp(prev.target, lo, Math.max(lo, s.maxVms));
      let why = `avg utilisation ${avg === undefined ? 'n/a' : fmt(avg)}`;
      if (inGrace) why += '; grace';
      else if (avg !== undefined && avg > a.upUtilisation)
        target = clamp(target + a.stepVms, lo, Math.max(lo, s.maxVms));
      else if (avg !== undefined && avg < a.downUtilisation)
        target = clamp(target - a.stepVms, lo, Math.max(lo, s.maxVms));
      const changed = target !== prev.target;
      if (changed) why += `; ${prev.target} → ${target}`;
      decisions.push({ stage: s.stage, desiredVms: target, vmShare: 1, reason: why });
      return {
        target,
        samples,
        ...(changed
          ? { lastChangeAt: now }
          : prev.lastChangeAt !== undefined
            ? { lastChangeAt: prev.lastChangeAt }
            : {}),
      };
    });
    return {
      decision: { valid: true, stages: decisions, reason: 'VM-auto (LIBRA AUTO)' },
      state: { startedAt, seen, stages: next },
    };
  },
};
