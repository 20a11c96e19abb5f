/**
 * Spock-like (method.md, "Other baselines"): VM autoscaling with functions absorbing the overflow while VMs are
 * scaling or full. Per stage, the same EWMA share as SERFLOW (`share_k = mean_k + z · dev_k`) but sized reactively
 * every epoch and without the T-CIP rounding: `desiredVms = clamp(ceil(share_k / mu_k))`, so any stage with load
 * gets at least one VM. Up at once, down after `scaleDownDelayMs` (and the same restart guard as SERFLOW).
 * Routing: vmShare = min(1, ready VMs · mu_k / load), the rest to functions; `overflowAfterMs` set.
 * Example: shares 23, 12, 2 q/s with mu 10, 5, 5 → ceil(2.3) = 3, ceil(2.4) = 3, ceil(0.4) = 1 VMs.
 */
import type { CompiledAutoscalerConfig } from '../config';
import { ewmaRecord, ewmaUpper } from '../stats';
import type { Policy, PolicyResult, StageDecision } from '../types';
import {
  arrivalRate,
  ceilTolerant,
  clamp,
  fmt,
  inRestartGuard,
  noData,
  overflowFor,
  poolOf,
  poolSize,
  stepTarget,
  vmShareFor,
  type EstimatedStageState,
  stageStatesFor,
  hasSeenLoad,
} from './helpers';

/** Per-stage state: the rate estimator, the target VMs and the scale-down timer (helpers.ts). */
export type SpockStageState = EstimatedStageState;

export interface SpockState {
  startedAt?: number;
  stages: SpockStageState[];
}

export const spockPolicy: Policy<CompiledAutoscalerConfig, SpockState> = {
  name: 'spock',
  initialState: () => ({ stages: [] }),
  decide(observation, config, state, now): PolicyResult<SpockState> {
    const startedAt = state.startedAt ?? now;
    const stages: SpockStageState[] = stageStatesFor(state.stages, config, observation);
    if (!hasSeenLoad(stages, observation)) return { decision: noData(), state: { startedAt, stages } };

    const guard = inRestartGuard(config, startedAt, now);
    const decisions: StageDecision[] = [];
    const next = config.stages.map((s, i): SpockStageState => {
      const prev = stages[i] as SpockStageState;
      const rate = arrivalRate(observation, s.stage);
      const est = rate === undefined ? prev.est : ewmaRecord(prev.est, now, rate, config);
      const share = ewmaUpper(est, config.z);
      const wanted = clamp(ceilTolerant(share / s.muPerVm), s.minVms, s.maxVms);
      const step = stepTarget({
        target: prev.target,
        wanted,
        upAllowed: true,
        now,
        delayMs: config.scaleDownDelayMs,
        timer: prev.timer,
      });
      const pool = poolOf(observation, s.stage);
      const desired = Math.max(step.target, guard ? poolSize(pool) : 0);
      const load = Math.max(est.mean, rate ?? 0);
      const vmShare = vmShareFor(pool.vmsReady, desired, s.muPerVm, load);
      decisions.push({
        stage: s.stage,
        desiredVms: desired,
        vmShare,
        ...overflowFor(s, desired),
        reason:
          `share ${fmt(share)} q/s / mu ${fmt(s.muPerVm)} → ${wanted} VMs; ${step.kind}` +
          (desired > step.target ? '; restart guard' : '') +
          `; vmShare ${fmt(vmShare)} (ready ${pool.vmsReady}, load ${fmt(load)})`,
      });
      return { est, target: desired, timer: step.timer };
    });
    return {
      decision: { valid: true, stages: decisions, reason: guard ? 'Spock; restart guard' : 'Spock' },
      state: { startedAt, stages: next },
    };
  },
};
