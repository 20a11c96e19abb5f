/**
 * The baseline policies (autoscaler/policies/{vm-auto,vm-max,faas-only,spock}.ts) and the policy registry, on
 * virtual time. Fixture (autoscaler-fixture.ts): mu = 10, 5, 5 q/s per VM, reach 1, 0.5, 0.1,
 * overflowAfterMs 200, 400, 400; windows of 1 s, so arrivals = q/s.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledAutoscalerConfig } from '../../../autoscaler/config';
import { POLICIES, createPolicy, type AnyPolicy } from '../../../autoscaler/policies';
import { POLICY_NAMES, type Decision } from '../../../autoscaler/types';
import { SEC, compile, obs, runTimeline, type Step } from '../../helpers/autoscaler-fixture';

function timeline(policy: AnyPolicy, config: CompiledAutoscalerConfig, steps: Step[]): Decision | undefined {
  return runTimeline(policy, config, steps).decision;
}

const ALL_VM = { vmShare: [1, 1, 1], overflowAfterMs: [undefined, undefined, undefined] };

describe('vm-auto (LIBRA AUTO)', () => {
  const vmAuto = createPolicy('vm-auto');

  test('above 70 % average utilisation adds 10 VMs after the 120 s grace, then waits another 120 s', () => {
    timeline(vmAuto, compile({ maxVms: 30 }), [
      // stage 1: 90 q/s on 10 ready VMs × 10 = 100 q/s → 90 %; stages 2, 3: no load, no VMs → raised to 1 VM, 0 %
      { at: 0, arrivals: [90, 0, 0], pools: [[10, 0]], want: { desiredVms: [10, 1, 1], ...ALL_VM } },
      { at: 60 * SEC, arrivals: [90, 0, 0], pools: [[10, 0]], want: { desiredVms: [10, 1, 1] } },
      { at: 90 * SEC, arrivals: [90, 0, 0], pools: [[10, 0]], want: { desiredVms: [10, 1, 1] } },
      // grace over; the last 60 s hold the epochs at 90 s and 120 s: (0.9 + 0.9) / 2 = 0.9 > 0.7 → 10 + 10.
      // Stages 2, 3: 0 < 0.3 but already at the floor of 1 VM (a VM-only pool never empties)
      { at: 120 * SEC, arrivals: [90, 0, 0], pools: [[10, 0]], want: { desiredVms: [20, 1, 1], ...ALL_VM } },
      // the new VMs still boot (utilisation still 90 %) but the last change was 30 s ago → hold
      { at: 150 * SEC, arrivals: [90, 0, 0], pools: [[10, 10]], want: { desiredVms: [20, 1, 1] } },
      // up: 90 / (20 × 10) = 45 %, the only epoch in (180 s, 240 s] → between 30 % and 70 % → hold
      { at: 240 * SEC, arrivals: [90, 0, 0], pools: [[20, 0]], want: { desiredVms: [20, 1, 1] } },
    ]);
  });

  test('below 30 % removes 10 VMs, not below minVms', () => {
    timeline(vmAuto, compile({ minVms: 5, maxVms: 30 }), [
      // 20 q/s on 20 × 10 = 200 → 10 %; stages 2, 3 start at their pools (none), clamped up to minVms 5
      { at: 0, arrivals: [20, 0, 0], pools: [[20, 0]], want: { desiredVms: [20, 5, 5] } },
      // epochs in (60 s, 120 s]: only 120 s, 10 % < 30 % → 20 − 10 = 10; stages 2, 3 have no ready VM and no
      // load: 0 % → 5 − 10 → clamped to 5 (no change)
      { at: 120 * SEC, arrivals: [20, 0, 0], pools: [[20, 0]], want: { desiredVms: [10, 5, 5] } },
      // 20 / 100 = 20 %, but within 120 s of the change
      { at: 239 * SEC, arrivals: [20, 0, 0], pools: [[10, 0]], want: { desiredVms: [10, 5, 5] } },
      // epochs at 239 s and 240 s: 20 % → 10 − 10 = 0 → clamped to minVms 5
      { at: 240 * SEC, arrivals: [20, 0, 0], pools: [[10, 0]], want: { desiredVms: [5, 5, 5], ...ALL_VM } },
    ]);
  });

  test('an empty pool is raised to 1 VM; with load and no ready VM it counts as saturated (100 %) and grows', () => {
    timeline(vmAuto, compile({ maxVms: 30 }), [
      { at: 0, arrivals: [5, 0, 0], want: { desiredVms: [1, 1, 1] } },
      { at: 120 * SEC, arrivals: [5, 0, 0], want: { desiredVms: [11, 1, 1] } },
    ]);
  });

  test('no arrival ever is no data', () => {
    const c = compile();
    assert.equal(vmAuto.decide(obs(0, [0, 0, 0]), c, vmAuto.initialState(c), 0).decision.reason, 'no-data');
  });
});

describe('vm-max (LIBRA MAX)', () => {
  const vmMax = createPolicy('vm-max');

  test('pools for 40 q/s at peak: ceil(40·1/10) = 4, ceil(40·0.5/5) = 4, ceil(40·0.1/5) = ceil(0.8) = 1', () => {
    const c = compile({ policy: 'vm-max', peakRate: 40 });
    // static: the same with no load and with a burst
    timeline(vmMax, c, [
      { at: 0, arrivals: [0, 0, 0], want: { desiredVms: [4, 4, 1], ...ALL_VM } },
      { at: 500 * SEC, arrivals: [400, 200, 40], want: { desiredVms: [4, 4, 1], ...ALL_VM } },
    ]);
  });

  test('pools for 100 q/s: 10, 10, ceil(2) = 2; with maxVms 8: 8, 8, 2', () => {
    timeline(vmMax, compile({ policy: 'vm-max', peakRate: 100, maxVms: 20 }), [
      { at: 0, arrivals: [0, 0, 0], want: { desiredVms: [10, 10, 2] } },
    ]);
    timeline(vmMax, compile({ policy: 'vm-max', peakRate: 100 }), [
      { at: 0, arrivals: [0, 0, 0], want: { desiredVms: [8, 8, 2] } },
    ]);
  });

  test('without a peak rate there is nothing to size for', () => {
    const c = compile();
    assert.deepEqual(vmMax.decide(obs(0, [10, 5, 1]), c, {}, 0).decision, {
      valid: false,
      stages: [],
      reason: 'no-peak-rate',
    });
  });
});

describe('faas-only', () => {
  const faasOnly = createPolicy('faas-only');

  test('no VMs and nothing routed to VMs, even with existing pools and minVms', () => {
    timeline(faasOnly, compile({ minVms: 2 }), [
      {
        at: 0,
        arrivals: [50, 20, 5],
        pools: [
          [3, 0],
          [2, 1],
        ],
        want: { desiredVms: [0, 0, 0], vmShare: [0, 0, 0], overflowAfterMs: [undefined, undefined, undefined] },
      },
    ]);
  });

  test('valid before any data: there is nothing to estimate', () => {
    timeline(faasOnly, compile(), [
      { at: 0, arrivals: [0, 0, 0], want: { desiredVms: [0, 0, 0], vmShare: [0, 0, 0] } },
    ]);
  });
});

describe('spock', () => {
  const spock = createPolicy('spock');

  test('sizes every loaded stage with ceil (no T-CIP); functions take everything until VMs are ready', () => {
    timeline(spock, compile(), [
      // share = x on the first epoch: ceil(23/10) = 3, ceil(12/5) = 3, ceil(2/5) = 1 (SERFLOW: 3, 2, 0)
      {
        at: 0,
        arrivals: [23, 12, 2],
        want: { desiredVms: [3, 3, 1], vmShare: [0, 0, 0], overflowAfterMs: [200, 400, 400] },
      },
    ]);
  });

  test('ready VMs take what they can: 1 · 10 / 23 at stage 1; stages 2, 3 are covered (15 >= 12, 5 >= 2)', () => {
    timeline(spock, compile(), [
      {
        at: 0,
        arrivals: [23, 12, 2],
        pools: [
          [1, 2],
          [3, 0],
          [1, 0],
        ],
        want: { desiredVms: [3, 3, 1], vmShare: [10 / 23, 1, 1] },
      },
    ]);
  });

  test('scales down only after scaleDownDelayMs of wanting fewer', () => {
    // alpha = mu = 1: mean = x, dev = jump from the previous x
    timeline(spock, compile({ alpha: 1, mu: 1, scaleDownDelayMs: 60_000 }), [
      { at: 0, arrivals: [30, 0, 0], want: { desiredVms: [3, 0, 0] } },
      { at: 1 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } }, // 10 + 20 = 30 → 3
      { at: 2 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } }, // 10 → wants 1 from 2 s
      { at: 61 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } },
      { at: 62 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [1, 0, 0] } },
    ]);
  });

  test('no arrival ever is no data', () => {
    const c = compile();
    assert.equal(spock.decide(obs(0, [0, 0, 0]), c, spock.initialState(c), 0).decision.reason, 'no-data');
  });
});

describe('policy registry', () => {
  test('every policy name has its policy, under that name', () => {
    for (const name of POLICY_NAMES) {
      assert.equal(createPolicy(name).name, name);
      assert.equal(POLICIES[name], createPolicy(name));
    }
  });
});
