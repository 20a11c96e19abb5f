/**
 * The autoscaler's decisions as Prometheus series (infra/metrics.ts): every tick counted by whether the policy
 * decided, the VMs and VM share it wants per stage, the pool changes it asked for, and the serverless spend rate it
 * observes. The VM spend rate comes from the cloud agent, which holds the VMs (infra/metrics.ts `recordPools`).
 */
import type { DecisionRecord } from '../common/control-events';
import type { SerflowMetrics } from '../infra/metrics';
import type { CompiledAutoscalerConfig } from './config';
import type { DecisionRecorder } from './decision-recorder';

/**
 * Serverless spend, USD per cloud hour, from a tick's observation: executions per wall second, divided by the time
 * scale (the same executions spread over timeScale times more cloud time), times C_F,k (one warm invocation at the
 * profiled memory and duration), times 3600. An estimate: cold starts and fused invocations are billed differently.
 */
export function faasUsdPerHour(record: DecisionRecord, config: CompiledAutoscalerConfig): number {
  const windowS = record.observation.windowMs / 1000;
  if (windowS <= 0) return 0;
  let usd = 0;
  for (const s of record.observation.stages) {
    const cost = config.stages[s.stage - 1]?.faasCostPerInvocationUsd ?? 0;
    usd += (s.faasExecutions / windowS / config.timeScale) * 3600 * cost;
  }
  return usd;
}

export function recordDecision(m: SerflowMetrics, record: DecisionRecord, config: CompiledAutoscalerConfig): void {
  const { model, policy, decision, observation } = record;
  m.decisions.inc({ model, policy, valid: String(decision.valid) });
  if (!decision.valid) return;
  for (const s of decision.stages) {
    const stage = String(s.stage);
    m.desiredVms.set({ model, stage }, s.desiredVms);
    m.vmShare.set({ model, stage }, s.vmShare);
    const pool = observation.pools.find((p) => p.stage === s.stage);
    const current = pool ? pool.vmsReady + pool.vmsBooting : 0;
    if (s.desiredVms > current) m.scaleActions.inc({ model, stage, direction: 'up' });
    else if (s.desiredVms < current) m.scaleActions.inc({ model, stage, direction: 'down' });
  }
  if (decision.wholeModelVms !== undefined) m.desiredVms.set({ model, stage: '0' }, decision.wholeModelVms);
  m.costRate.set({ model, backend: 'faas' }, faasUsdPerHour(record, config));
}

/** `recorder` that also records each decision in `m`. */
export function meteredRecorder(
  recorder: DecisionRecorder,
  m: SerflowMetrics,
  config: CompiledAutoscalerConfig,
): DecisionRecorder {
  return {
    async record(record) {
      recordDecision(m, record, config);
      await recorder.record(record);
    },
  };
}
