/** The autoscaler's decisions as series: ticks counted, desired VMs and VM share per stage, scale directions, spend. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { faasUsdPerHour, recordDecision } from '../../../autoscaler/decision-metrics';
import type { DecisionRecord } from '../../../common/control-events';
import { createSerflowMetrics } from '../../../infra/metrics';
import { compile } from '../../helpers/autoscaler-fixture';
import { parsePrometheusText, sumSeries } from '../../helpers/prometheus-text';

function record(valid: boolean, faasExecutions: number): DecisionRecord {
  return {
    v: 1,
    type: 'autoscaler.decision',
    model: 'm',
    policy: 'serflow',
    at: 0,
    wallAt: 0,
    observation: {
      now: 0,
      model: 'm',
      windowMs: 2_000,
      stages: [{ stage: 1, arrivals: 10, exits: 5, vmExecutions: 10 - faasExecutions, faasExecutions }],
      pools: [{ stage: 1, vmsReady: 1, vmsBooting: 0, vmsDraining: 0 }],
    },
    decision: {
      valid,
      reason: 'test',
      stages: [{ stage: 1, desiredVms: 3, vmShare: 0.75, reason: 'up' }],
    },
    actions: [],
  };
}

test('a valid decision sets desired VMs and VM share, counts a scale-up and the tick', async () => {
  const m = createSerflowMetrics(new Registry());
  const config = compile();
  recordDecision(m, record(true, 4), config);
  recordDecision(m, record(false, 0), config);
  const s = parsePrometheusText(await m.registry.metrics());
  assert.equal(sumSeries(s, 'serflow_autoscaler_decisions_total', { valid: 'true' }), 1);
  assert.equal(sumSeries(s, 'serflow_autoscaler_decisions_total', { valid: 'false' }), 1);
  assert.equal(sumSeries(s, 'serflow_autoscaler_desired_vms', { stage: '1' }), 3);
  assert.equal(sumSeries(s, 'serflow_routing_vm_share', { stage: '1' }), 0.75);
  assert.equal(sumSeries(s, 'serflow_autoscaler_scale_actions_total', { direction: 'up' }), 1);
  assert.ok(sumSeries(s, 'serflow_cost_rate_usd_per_hour', { backend: 'faas' }) > 0);
});

test('serverless spend: executions per wall second / timeScale × 3600 × C_F', () => {
  const config = compile();
  const cf = config.stages[0]!.faasCostPerInvocationUsd;
  // 4 executions in 2 s = 2/s wall; per cloud second 2 / timeScale; per cloud hour × 3600.
  assert.ok(Math.abs(faasUsdPerHour(record(true, 4), config) - (2 / config.timeScale) * 3600 * cf) < 1e-15);
  assert.equal(
    faasUsdPerHour({ ...record(true, 4), observation: { ...record(true, 4).observation, windowMs: 0 } }, config),
    0,
  );
});
