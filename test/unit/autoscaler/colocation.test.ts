/**
 * SERFLOW's co-location (autoscaler/policies/serflow-colocation.ts): a shared pool of whole-model VMs for a prefix
 * of stages when it is cheaper than a pool per stage. Fixture (autoscaler-fixture.ts): mu = 10, 5, 5 q/s per VM and
 * T-CIP = 2.5 q/s on every stage, so a VM-second costs P = 2.5 C (C = one function execution).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestSharedPlan,
  perStagePlanCostRate,
  serverlessCostRate,
  sharedPlans,
  vmUsdPerWallSecond,
} from '../../../autoscaler/policies/serflow-colocation';
import { serflowPolicy } from '../../../autoscaler/policies/serflow';
import type { PoolObservation } from '../../../autoscaler/types';
import { SEC, compile as compileFixture, obs, withFusionPrices } from '../../helpers/autoscaler-fixture';

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
    // load 1 VM's worth (2/10 + 2/5 + 2/5) on 1 ready VM filled to rho 0.8 → every stage's VM share 0.8, with
    // its overflow
    assert.equal(config.rho, 0.8);
    assert.deepEqual(
      second.decision.stages.map((s) => [s.desiredVms, s.vmShare, s.overflowAfterMs]),
      config.stages.map((s) => [0, 0.8, s.overflowAfterMs]),
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

/**
 * The whole bill (module comment): prices of the fusion tests (fusion.test.ts): request fee R = 2e-7 $, function
 * memories 1024, 2048, 1024 MB, duration parts D = 1e-6, 4e-6, 1e-6 $ (C_F = 1.2e-6, 4.2e-6, 1.2e-6 $), the
 * fixture's mu 10, 5, 5 q/s, and a VM-second P = 1e-5 $ passed in. Shares 10, 5, 1 q/s.
 */
describe('shared and per-stage plans on the whole bill (functions fused where cheaper, actions counted)', () => {
  const priced = (usdPerAction: number, fuse = true) => withFusionPrices(compile({ fuse }), usdPerAction);
  const VM = 1e-5;
  const SHARES = [10, 5, 1];
  const close = (got: number | undefined, want: number, what: string) =>
    assert.ok(got !== undefined && Math.abs(got - want) <= 1e-12, `${what}: ${got}, want ${want}`);

  test('no action price: the cheapest serverless plan runs each stage alone; prefix 2 on 2 VMs is best', () => {
    const c = priced(0);
    // S(0) = min(separate 10·1.2e-6 + 5·4.2e-6 + 1·1.2e-6 = 3.42e-5, fused 10·2e-7 + 10·1e-6·2 + 5·4e-6 + 1e-6·2 = 4.4e-5)
    close(serverlessCostRate(c, SHARES), 3.42e-5, 'S(0)');
    // j=1: W 1 → 1 VM; 1e-5 + S(1) = min(5·4.2e-6 + 1.2e-6 = 2.22e-5, 5·2e-7 + 5·4e-6 + 2e-6 = 2.3e-5) → 3.22e-5
    // j=2: W 2, one run at 2048 MB: F = 10·2e-7 + 10·1e-6·2 + 5·4e-6 = 4.2e-5 → 2 VMs; 2e-5 + S(2) 1.2e-6 = 2.12e-5
    // j=3: W 2.2, F = 4.4e-5, 2e-5 per VM's worth, remainder .2·2e-5 = 4e-6 < P → 2 VMs; 2e-5 + 4e-6 = 2.4e-5
    const plans = sharedPlans(c, SHARES, VM);
    assert.deepEqual(
      plans.map((p) => [p.prefix, p.vms]),
      [
        [1, 1],
        [2, 2],
        [3, 2],
      ],
    );
    [3.22e-5, 2.12e-5, 2.4e-5].forEach((want, i) => close(plans[i]?.costRate, want, `prefix ${i + 1}`));
    assert.equal(bestSharedPlan(c, SHARES, VM)?.prefix, 2);
    // per-stage, 1 VM for stage 1: 1e-5 + S(1) 2.22e-5 = 3.22e-5 (< S(0): it pays)
    close(perStagePlanCostRate(c, SHARES, [1, 0, 0], VM), 3.22e-5, 'per-stage [1, 0, 0]');
  });

  test('Temporal Cloud actions (2.5e-5 $): the whole model on VMs saves fees; a VM for stage 1 alone loses', () => {
    const c = priced(2.5e-5);
    // S(0) = fused 10·(2e-7 + 2.5e-5) + 2e-5 + 2e-5 + 2e-6 = 2.94e-4 (separate 4.342e-4)
    close(serverlessCostRate(c, SHARES), 2.94e-4, 'S(0)');
    // j=3: 2 VMs 2e-5 + remainder 4e-6 + one action per query 10·2.5e-5 = 2.74e-4 < S(0)
    // j=2: 2e-5 + 2.5e-4 + S(2) = 1·(1.2e-6 + 2.5e-5) → 2.962e-4
    // j=1: 1e-5 + 2.5e-4 + S(1) = min(separate 1.722e-4, fused 5·(2e-7 + 2.5e-5) + 2e-5 + 2e-6 = 1.48e-4) → 4.08e-4
    const plans = sharedPlans(c, SHARES, VM);
    [4.08e-4, 2.962e-4, 2.74e-4].forEach((want, i) => close(plans[i]?.costRate, want, `prefix ${i + 1}`));
    assert.equal(bestSharedPlan(c, SHARES, VM)?.prefix, 3);
    // per-stage [1, 0, 0]: 1e-5 + 10·2.5e-5 + S(1) 1.48e-4 = 4.08e-4 > S(0) 2.94e-4: worse than no VM at all
    close(perStagePlanCostRate(c, SHARES, [1, 0, 0], VM), 4.08e-4, 'per-stage [1, 0, 0]');
  });

  test('fusion off: every stage its own activity, on VMs and functions alike', () => {
    const c = priced(2.5e-5, false);
    // S(0) = separate 4.342e-4; j=3: 2 VMs 2e-5 + .2 · (3.42e-5 / 2.2) + (10 + 5 + 1)·2.5e-5 = 4.2311e-4
    close(serverlessCostRate(c, SHARES), 4.342e-4, 'S(0)');
    close(sharedPlans(c, SHARES, VM)[2]?.costRate, 2e-5 + (0.2 * 3.42e-5) / 2.2 + 4e-4, 'prefix 3');
  });
});

describe('SERFLOW buys only VMs that lower the whole bill', () => {
  // The fixture (P = 1e-4 $/s, C_F = 4e-5 $, no request fee, equal memories), EWMA sizing, shares = the first
  // tick's rates 20, 5, 1: per stage 20/10 → 2 VMs, 5/5 → 1, 1 < T-CIP 2.5 → 0.
  const withAction = (usdPerAction: number, colocate: boolean) => ({
    ...compile({ sizing: 'ewma', colocate }),
    usdPerAction,
  });
  const decide = (c: ReturnType<typeof withAction>) =>
    serflowPolicy.decide(obs(0, [20, 5, 1]), c, serflowPolicy.initialState(c), 0).decision;

  test('free actions: the per-stage pools pay (3.4e-4 $/s against 1.04e-3 all serverless)', () => {
    assert.deepEqual(
      decide(withAction(0, false)).stages.map((s) => s.desiredVms),
      [2, 1, 0],
    );
  });

  test('dear actions (1e-3 $): per-stage pools cost 2.634e-2 $/s against 2.104e-2 fused serverless: none', () => {
    // per-stage: S(2) 1·(4e-5 + 1e-3) + stage 1 2e-4 + 20e-3 + stage 2 1e-4 + 5e-3 = 2.634e-2; S(0) fused 20·1e-3 + 26·4e-5
    assert.deepEqual(
      decide(withAction(1e-3, false)).stages.map((s) => s.desiredVms),
      [0, 0, 0],
    );
  });

  test('dear actions with co-location: the whole model on 3 shared VMs (2.0365e-2 $/s) beats both', () => {
    // W = 2 + 1 + 0.2 = 3.2, F = 1.04e-3 (no fee, equal memories), remainder .2·F/W = 6.5e-5 < P → 3 VMs;
    // 3e-4 + 6.5e-5 + 20·1e-3 = 2.0365e-2 < S(0) 2.104e-2
    const d = decide(withAction(1e-3, true));
    assert.equal(d.wholeModelVms, 3);
    assert.deepEqual(
      d.stages.map((s) => s.desiredVms),
      [0, 0, 0],
    );
  });
});
