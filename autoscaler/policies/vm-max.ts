/**
 * VM-only, peak (LIBRA's "MAX"): every stage statically provisioned for the peak for the whole run:
 * `desiredVms_k = clamp(ceil(peakRate · p_k / mu_k))`, all executions on VMs (vmShare 1), no overflow.
 * Example: peakRate 40 q/s, p = (1, 0.5, 0.1), mu = (10, 5, 5) → ceil(4) = 4, ceil(4) = 4, ceil(0.8) = 1.
 * Always valid once configured (nothing to estimate); without `peakRate` the decision is invalid ('no-peak-rate').
 */
import type { CompiledAutoscalerConfig } from '../config';
import type { Policy } from '../types';
import { ceilTolerant } from '../../common/rounding';
import { clamp, fmt, noData } from './helpers';

/** VM-max keeps no state. */
export type VmMaxState = Record<string, never>;

export const vmMaxPolicy: Policy<CompiledAutoscalerConfig, VmMaxState> = {
  name: 'vm-max',
  initialState: () => ({}),
  decide(_observation, config, state) {
    const peak = config.peakRate;
    if (peak === undefined) return { decision: noData('no-peak-rate'), state };
    return {
      decision: {
        valid: true,
        stages: config.stages.map((s) => {
          const need = ceilTolerant((peak * s.reachProbability) / s.muPerVm);
          const vms = clamp(need, s.minVms, s.maxVms);
          return {
            stage: s.stage,
            desiredVms: vms,
            vmShare: 1,
            reason:
              `peak ${fmt(peak)} q/s × reach ${fmt(s.reachProbability)} / mu ${fmt(s.muPerVm)} → ${need} VMs` +
              (vms !== need ? ` clamped to ${vms}` : ''),
          };
        }),
        reason: `VM-max: static pools for ${fmt(peak)} q/s`,
      },
      state,
    };
  },
};
