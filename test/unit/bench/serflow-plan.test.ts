/**
 * bench/overhead/serflow-plan.ts: the plan SERFLOW picks for the overhead benchmark's load comes from the real
 * policy on the committed profile, and obeys its rules (method.md: no VM for a stage whose load is below T-CIP;
 * serflow-fusion.ts: one activity for a run of stages on the same capacity).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serflowPlanFor } from '../../../bench/overhead/serflow-plan';
import { compileForModel } from '../../../autoscaler/service';
import { loadConfig } from '../../../common/config';
import { validateRoutingPlan } from '../../../common/routing';

const MODEL = 'mnist-ee';
const config = loadConfig({ vm: { bootDelayMs: 0 } });
const compiled = compileForModel(config, MODEL, 'serflow');
const K = compiled.stages.length;

describe('the plan SERFLOW picks for the benchmark', () => {
  test('below every stage break-even rate: no VM, every stage serverless, the whole model as one invocation', () => {
    // Half the lowest T-CIP at stage 1, and less deeper (reach <= 1): no stage pays for a VM.
    const qps = Math.min(...compiled.stages.map((s) => s.tCipWall)) / 2;
    const picked = serflowPlanFor(config, MODEL, qps, 0);
    assert.deepEqual(
      picked.pools.map((p) => p.vms),
      new Array(K + 1).fill(0),
    );
    assert.deepEqual(
      picked.plan.stages.map((s) => s.vmShare),
      new Array(K).fill(0),
    );
    assert.deepEqual(picked.plan.fused, [{ first: 1, last: K }]);
    assert.equal(validateRoutingPlan(picked.plan, K), picked.plan);
  });

  test('far above the break-even rate VMs are bought, and a run on VMs is on the whole-model pool', () => {
    const qps = 1000 * Math.max(...compiled.stages.map((s) => s.tCipWall));
    const picked = serflowPlanFor(config, MODEL, qps, 0);
    const total = picked.pools.reduce((n, p) => n + p.vms, 0);
    assert.ok(total > 0, `VMs at ${qps} q/s: ${JSON.stringify(picked.pools)}`);
    for (const run of picked.plan.fused ?? []) {
      const share = picked.plan.stages.find((s) => s.stage === run.first)?.vmShare ?? 0;
      if (share > 0) assert.ok(picked.pools[0]!.vms > 0, `run ${run.first}-${run.last} on VMs needs whole-model VMs`);
    }
  });

  test('a load that is not a positive rate is refused', () => {
    assert.throws(() => serflowPlanFor(config, MODEL, 0), /the load must be a positive rate, got 0 q\/s/);
  });
});
