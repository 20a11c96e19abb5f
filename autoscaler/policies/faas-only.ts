/**
 * FaaS-only (method.md, "Other baselines"): every stage of every query runs in a function. No VMs on any stage
 * (whatever `minVms` says: the baseline is defined by having none) and nothing routed to VMs. Always valid,
 * even before any data: there is nothing to estimate. With `fuse` (the default) the stages are fused into one
 * invocation where SERFLOW's own rule finds that cheaper (serflow-fusion.ts, weighed by the profile's reach
 * probabilities): the baseline gets the same plumbing as SERFLOW, so a comparison is between policies.
 */
import type { CompiledAutoscalerConfig } from '../config';
import type { Policy, StageDecision } from '../types';
import { serverlessFusedRuns } from './serflow-fusion';

/** FaaS-only keeps no state. */
export type FaasOnlyState = Record<string, never>;

export const faasOnlyPolicy: Policy<CompiledAutoscalerConfig, FaasOnlyState> = {
  name: 'faas-only',
  initialState: () => ({}),
  decide: (_observation, config, state) => {
    const stages: StageDecision[] = config.stages.map((s) => ({
      stage: s.stage,
      desiredVms: 0,
      vmShare: 0,
      reason: 'FaaS-only: no VMs',
    }));
    const fused = serverlessFusedRuns(config);
    return {
      decision: { valid: true, stages, ...(fused.length ? { fused } : {}), reason: 'FaaS-only' },
      state,
    };
  },
};
