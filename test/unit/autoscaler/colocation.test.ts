/**
 * SERFLOW's co-location (autoscaler/policies/serflow-colocation.ts): a shared pool of whole-model VMs for a prefix
 * of stages when it is cheaper than a pool per stage. Fixture (autoscaler-fixture.ts): mu = 10, 5, 5 q/s per VM and
 * T-CIP = 2.5 q/s on every stage, so a VM-second costs P = 2.5 C (C = one function execution).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bestSharedPlan, sharedPlans, vmUsdPerWallSecond } from '../../../autoscaler/policies/serflow-colocation';
import { serflowPolicy } from '../../../autoscaler/policies/serflow';
import type { PoolObservation } from '../../../autoscaler/types';
import { SEC, compile as compileFixture, obs } from '../../helpers/autoscaler-fixture';

/** These cases are computed with method.md's EWMA sizing (`sizing: 'ewma'`); the forecast rule has forecast.test.ts. */
const compile = (input: Record<string, unknown> = {}) => compileFixture({ sizing: 'ewma', ...input });

const config = compile();
const P = vmUsdPerWallSecond(config);
const C = (config.stages[0] as { faasCostPerInvocationUsd: number }).faasCostPerInvocationUsd;

describe('shared-pool plans (cost per second in units of C, P = 2.5 C)', () => {
  test('the fixture prices: P = 2.5 C', () => {
    assert.ok(Math.abs(P / C - 2.5) < 1e-9, `P/C = ${P / C}`);
  });

  test('shares 23, 12, 2: prefix 3 pools the remainders: W = 2.3 + 2.4 + 0.4 = 5.1 → 5 VMs', () => {
    // per prefix: j=1 W 2.3, rem .3 costs 3 C >= P → 3 VMs, 7.5 C + (12 + 2) C = 21.5 C
    //             j=2 W 4.7, rem .7 costs .7·35/4.7 = 5.21 C >= P → 5 VMs, 12.5 C + 2 C = 14.5 C
    //             j=3 W 5.1, rem .1 costs .1·37/5.1 = 0.7255 C < P → 5 VMs, 12.5 C + 0.7255 C = 13.2255 C
    const plans = sharedPlans(config, [23, 12, 2], P);
    assert.deepEqual(
      plans.map((p) => [p.prefix, p.vms]),
      [
        [1, 3],
        [2, 5],
        [3, 5],
      ],
    );
    const costs = plans.map((p) => p.costRate / C);
    [21.5, 14.5, 12.5 + (0.1 * 37) / 5.1].forEach((want, i) =>
      assert.ok(Math.abs((costs[i] as number) - want) < 1e-6, `prefix ${i + 1}: ${costs[i]} C, want ${want} C`),
    );
    assert.equal(bestSharedPlan(config, [23, 12, 2], P)?.prefix, 3);
  });

  test('light stages, 2 q/s each (each below T-CIP alone): one shared VM for all three (1 VM’s worth)', () => {
    const best = bestSharedPlan(config, [2, 2, 2], P);
    assert.deepEqual([best?.prefix, best?.vms], [3, 1]);
  });

  test('too little load for any VM: the best plan has 0 VMs', () => {
    assert.equal(bestSharedPlan(config, [1, 0.5, 0.1], P)?.vms, 0);
  });

  test('no load: no plan', () => {
    assert.equal(bestSharedPlan(config, [0, 0, 0], P), undefined);
  });
});

describe('SERFLOW with co-location', () => {
  const whole = (ready: number, booting = 0): PoolObservation => ({
    stage: 0,
    vmsReady: ready,
    vmsBooting: booting,
    vmsDraining: 0,
  });

  test('light load on every stage: no stage pool, one whole-model VM, routed there once it is up', () => {
    let state = serflowPolicy.initialState(config);
    const first = serflowPolicy.decide(obs(0, [2, 2, 2]), config, state, 0);
    state = first.state;
    assert.equal(first.decision.wholeModelVms, 1);
    assert.deepEqual(
      first.decision.stages.map((s) => [s.desiredVms, s.vmShare]),
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      'while the shared VM boots, everything runs in functions',
    );
    const o = obs(SEC, [2, 2, 2]);
    const second = serflowPolicy.decide({ ...o, pools: [...o.pools, whole(1)] }, config, state, SEC);
    assert.equal(second.decision.wholeModelVms, 1);
    // load 1 VM's worth (2/10 + 2/5 + 2/5) on 1 ready VM → every stage's VM share 1, with its overflow
    assert.deepEqual(
      second.decision.stages.map((s) => [s.desiredVms, s.vmShare, s.overflowAfterMs]),
      config.stages.map((s) => [0, 1, s.overflowAfterMs]),
    );
  });

  test('co-location off: per-stage sizing only, no whole-model decision', () => {
    const off = compile({ colocate: false });
    const r = serflowPolicy.decide(obs(0, [2, 2, 2]), off, serflowPolicy.initialState(off), 0);
    assert.equal(r.decision.wholeModelVms, undefined);
    assert.deepEqual(
      r.decision.stages.map((s) => s.desiredVms),
      [0, 0, 0],
    );
  });

  test('the shared pool shrinks only after the scale-down delay', () => {
    // alpha 1, z 0: the share is the latest rate, so the plan wants 0 VMs as soon as the load stops
    const c = compile({ scaleDownDelayMs: 10 * SEC, updateIntervalMs: SEC, alpha: 1, z: 0 });
    let state = serflowPolicy.initialState(c);
    let at = 0;
    const tick = (arrivals: number[], ready: number) => {
      const o = obs(at, arrivals);
      const r = serflowPolicy.decide({ ...o, pools: [...o.pools, whole(ready)] }, c, state, at);
      state = r.state;
      at += SEC;
      return r.decision.wholeModelVms;
    };
    assert.equal(tick([2, 2, 2], 0), 1);
    // the load stops at 1 s: the plan wants 0 at once, but the pool is kept for the 10 s delay
    const sizes: Array<number | undefined> = [];
    for (let i = 0; i < 14; i++) sizes.push(tick([0, 0, 0], 1));
    assert.equal(sizes[0], 1, 'not at once');
    assert.equal(sizes[sizes.length - 1], 0, `eventually 0: ${sizes.join(',')}`);
    assert.equal(sizes.indexOf(0), 10, `0 from 11 s, 10 s after it was first wanted: ${sizes.join(',')}`);
  });
});
