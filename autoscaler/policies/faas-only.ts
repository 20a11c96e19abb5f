/**
 * FaaS-only (method.md, "Other baselines"): every stage of every query runs in a function. No VMs on any stage
 * (whatever `minVms` says: the baseline is defined by having none) and nothing routed to VMs. Always valid,
 * even before any data: there is nothing to estimate.
 */
import type { CompiledAutoscalerConfig } from '../config';
import type { Policy } from '../types';

/** FaaS-only keeps no state. */
export type FaasOnlyState = Record<string, never>;

export const faasOnlyPolicy: Policy<CompiledAutoscalerConfig, FaasOnlyState> = {
  name: 'faas-only',
  initialState: () => ({}),
  decide: (_observation, config, state) => ({
    decision: {
      valid: true,
      stages: config.stages.map((s) => ({ stage: s.stage, desiredVms: 0, vmShare: 0, reason: 'FaaS-only: no VMs' })),
      reason: 'FaaS-only',
    },
    state,
  }),
};
