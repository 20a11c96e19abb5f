/**
 * Spock-like (method.md, "Other baselines"): VM autoscaling with functions absorbing the overflow while VMs are
 * scaling or full. Per stage, the same EWMA share as SERFLOW (`share_k = mean_k + z · dev_k`) but sized reactively
 * every epoch and without the T-CIP rounding: `desiredVms = clamp(ceil(share_k / mu_k))`, so any stage with load
 * gets at least one VM. Up at once, down after `scaleDownDelayMs` (and the same restart guard as SERFLOW).
 * Routing: vmShare = min(1, ready VMs · mu_k / load), the rest to functions; `overflowAfterMs` set.
 * Example: shares 23, 12, 2 q/s with mu 10, 5, 5 → ceil(2.3) = 3, ceil(2.4) = 3, ceil(0.4) = 1 VMs.
 */
import type { CompiledAutoscalerConfig } from '../config';
import { ceilTolerant } from '../../common/rounding';
import type { Policy, PolicyResult, StageDecision } from '../types';
import {
  clamp,
  estimateStage,
  fmt,
  inRestartGuard,
  noData,
  overflowFor,
  settleStage,
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
      const estimate = estimateStage(prev, observation, s, config, config.z, now);
      const { est, share } = estimate;
      const wanted = clamp(ceilTolerant(share / s.muPerVm), s.minVms, s.maxVms);
      const settled = settleStage({
        stage: s,
        prev,
        estimate,
        wanted,
        upAllowed: true,
        guard,
        observation,
        config,
        now,
      });
      const { step, pool, desired, load, vmShare } = settled;
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
