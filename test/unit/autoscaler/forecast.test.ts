/**
 * autoscaler/forecast.ts: the demand forecast and the VM sizing from it, on hand-computed cases; and the SERFLOW
 * policy's `forecast` sizing on timelines where the rule's purpose shows (a steady load pays for VMs, a short burst
 * does not, a lasting step does).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buyThreshold,
  emptyForecast,
  expectedExcess,
  forecastOver,
  forecastRecord,
  meanPower,
  persistence,
  vmsForDemand,
} from '../../../autoscaler/forecast';
import { serflowPolicy, type SerflowState } from '../../../autoscaler/policies/serflow';
import { SEC, compile, near, obs } from '../../helpers/autoscaler-fixture';

const close = (actual: number, expected: number, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} vs ${expected}`);

describe('forecaster: slow level plus AR(1) deviation', () => {
  test('the worked example of the module comment (a = w = 0.5; 10, 20, 20)', () => {
    const p = { levelWeight: 0.5, momentWeight: 0.5 };
    let s = forecastRecord(emptyForecast(), 10, p);
    assert.deepEqual(s, { n: 1, level: 10, deviation: 0, variance: 0, covariance: 0 });
    s = forecastRecord(s, 20, p);
    assert.deepEqual(s, { n: 2, level: 15, deviation: 10, variance: 50, covariance: 0 });
    s = forecastRecord(s, 20, p);
    assert.deepEqual(s, { n: 3, level: 17.5, deviation: 5, variance: 37.5, covariance: 25 });
    close(persistence(s), 2 / 3);
    // one tick ahead: 17.5 + 5 · 2/3 = 20.8333; the spread is sqrt(37.5) = 6.1237
    const f = forecastOver(s, 1, 1);
    close(f.mean, 17.5 + 10 / 3);
    close(f.sd, Math.sqrt(37.5));
  });

  test('the mean of rho^h over a horizon', () => {
    close(meanPower(0.5, 1, 2), (0.5 + 0.25) / 2);
    close(meanPower(0.9, 0, 0), 1);
    close(meanPower(0, 0, 3), 1 / 4);
    close(meanPower(0, 2, 5), 0);
  });

  test('persistence is 0 without variance and capped below 1', () => {
    assert.equal(persistence(emptyForecast()), 0);
    assert.equal(persistence({ n: 5, level: 1, deviation: 1, variance: 1, covariance: 2 }), 0.999);
    assert.equal(persistence({ n: 5, level: 1, deviation: 1, variance: 1, covariance: -0.5 }), 0);
  });
});

describe('sizing from the forecast', () => {
  // Lognormal values from an independent implementation (Python, math.erf): L(x) = m·Φ(d1) − x·Φ(d2).
  test('expected excess of a lognormal demand: m at 0, max(0, m − x) without spread, the closed form with it', () => {
    assert.equal(expectedExcess(23, 5, 0), 23);
    assert.equal(expectedExcess(23, 0, 10), 13);
    assert.equal(expectedExcess(5, 0, 10), 0);
    assert.equal(expectedExcess(0, 3, 10), 0);
    close(expectedExcess(22, 5, 20), 3.0420332, 1e-5);
    close(expectedExcess(22, 5, 30), 0.2189321, 1e-5);
    close(expectedExcess(10, 10, 10), 3.227929, 1e-5);
  });

  test('without spread it is the per-stage rule: 23 q/s at mu 10, T-CIP 2.5 → 3 VMs; 22 → 2', () => {
    assert.equal(vmsForDemand(23, 0, 10, 2.5, 8), 3); // 10, 10, then a remainder of 3 >= 2.5
    assert.equal(vmsForDemand(22, 0, 10, 2.5, 8), 2); // the remainder 2 < 2.5 goes to functions
    assert.equal(vmsForDemand(22, 0, 10, 12, 8), 0); // T-CIP above mu: never
    assert.equal(vmsForDemand(1000, 0, 10, 2.5, 8), 8); // at most max
  });

  test('spread buys the VM whose expected load pays: 22 ± 5 q/s → a third VM carries 2.823 q/s', () => {
    // VM 1: 22 − L(10) = 9.9998; VM 2: L(10) − L(20) = 8.9582; VM 3: L(20) − L(30) = 2.8231
    assert.equal(vmsForDemand(22, 5, 10, 2.5, 8), 3);
    assert.equal(vmsForDemand(22, 5, 10, 2.9, 8), 2);
  });

  test('a burst-shaped spread does not buy a VM the mean cannot pay: 1.78 ± 6.9 q/s carries 1.34 < 3.33', () => {
    // 1.78 − L(10) = 1.78 − 0.43844
    close(expectedExcess(1.78, 6.9, 10), 0.4384422, 1e-5);
    assert.equal(vmsForDemand(1.78, 6.9, 10, 10 / 3, 8), 0);
  });

  test('a new VM must also pay for its boot: T-CIP · (1 + boot / serve)', () => {
    close(buyThreshold(2.5, 100_000, 300_000), 2.5 * (4 / 3));
    assert.equal(buyThreshold(2.5, 100_000, 0), Infinity);
  });
});

/** Run the SERFLOW policy (forecast sizing, no co-location) over per-second stage-1 rates; VMs become ready at once. */
function run(rates: number[]) {
  const c = compile({ policy: 'serflow', colocate: false });
  let state: SerflowState = serflowPolicy.initialState(c);
  let vms = [0, 0, 0];
  const desired: number[] = [];
  rates.forEach((x, i) => {
    const o = obs(
      i * SEC,
      [x, x / 2, x / 10],
      vms.map((n) => [n, 0] as [number, number]),
    );
    const r = serflowPolicy.decide(o, c, state, i * SEC);
    state = r.state;
    if (r.decision.valid) vms = r.decision.stages.map((s) => s.desiredVms);
    desired.push(vms[0] ?? 0);
  });
  return { desired, config: c };
}

describe('SERFLOW forecast sizing (fixture: T-CIP 2.5 q/s, mu 10 q/s at stage 1, boot 100 s, hold 300 s)', () => {
  test('the default sizing is the forecast', () => {
    assert.equal(compile({ policy: 'serflow' }).sizing, 'forecast');
    const c = compile({ policy: 'serflow' });
    assert.ok(near(c.vmServeMs, 300_000) && c.horizon.bootTicks === 100 && c.horizon.serveTicks === 300);
  });

  test("a steady 15 q/s buys two VMs at stage 1 (10 and 5 q/s >= 3.33), once a boot's worth of history is in", () => {
    const { desired } = run(new Array<number>(150).fill(15));
    assert.equal(desired[98], 0, 'nothing bought on 99 ticks of history (the boot is 100)');
    assert.equal(desired[149], 2);
  });

  test('after a history of short bursts, a 10 s burst to 40 q/s over 1 q/s buys no VM', () => {
    // Four earlier 10 s bursts, 5 min apart, teach the forecaster that bursts decay long before a VM is up.
    const rates: number[] = [];
    for (let b = 0; b < 5; b++) rates.push(...new Array<number>(290).fill(1), ...new Array<number>(10).fill(40));
    const { desired } = run(rates);
    const lastBurst = desired.slice(4 * 300 + 290);
    assert.deepEqual([...new Set(lastBurst)], [0], `VMs during the last burst: ${lastBurst.join(',')}`);
  });

  test('a step from 1 to 40 q/s that lasts buys VMs within the step', () => {
    const rates = [...new Array<number>(300).fill(1), ...new Array<number>(300).fill(40)];
    const { desired } = run(rates);
    assert.equal(desired[299], 0, 'no VM before the step');
    assert.ok((desired[599] ?? 0) >= 3, `VMs at the end of the step: ${desired[599]}`);
  });
});
