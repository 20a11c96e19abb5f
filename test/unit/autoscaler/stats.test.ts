/** autoscaler/stats.ts: LIBRA's EWMA and deviation, and the EW std option, against hand-computed values. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyEwma, ewmaRecord, ewmaUpper, isBurst, ratePerSecond, type EwmaParams } from '../../../autoscaler/stats';
import { near } from '../../helpers/autoscaler-fixture';

const XS = [10, 20, 20, 5];

function run(params: EwmaParams) {
  let s = emptyEwma();
  return XS.map((x, t) => (s = ewmaRecord(s, t * 1000, x, params)));
}

describe('LIBRA EWMA (alpha = mu = 0.2)', () => {
  const got = run({ alpha: 0.2, mu: 0.2, deviation: 'libra' });
  const want = [
    // first sample: mean = x, dev = 0
    { mean: 10, dev: 0 },
    // dev = 0.8·0 + 0.2·|10 − 20| = 2 (old mean 10); mean = 0.8·10 + 0.2·20 = 12
    { mean: 12, dev: 2 },
    // dev = 0.8·2 + 0.2·|12 − 20| = 1.6 + 1.6 = 3.2; mean = 9.6 + 4 = 13.6
    { mean: 13.6, dev: 3.2 },
    // dev = 0.8·3.2 + 0.2·|13.6 − 5| = 2.56 + 1.72 = 4.28; mean = 10.88 + 1 = 11.88
    { mean: 11.88, dev: 4.28 },
  ];
  want.forEach((w, t) => {
    test(`after x = ${XS[t]} (sample ${t + 1}) mean is ${w.mean} and dev ${w.dev}`, () => {
      assert.ok(near(got[t]?.mean, w.mean), `mean ${got[t]?.mean}`);
      assert.ok(near(got[t]?.dev, w.dev), `dev ${got[t]?.dev}`);
      assert.equal(got[t]?.n, t + 1);
      assert.equal(got[t]?.updatedAt, t * 1000);
    });
  });

  test('the share mean + z·dev at the end is 11.88 + 4.28 = 16.16 (z = 1), 20.44 (z = 2)', () => {
    const last = got[3] ?? emptyEwma();
    assert.ok(near(ewmaUpper(last, 1), 16.16));
    assert.ok(near(ewmaUpper(last, 2), 20.44));
  });
});

describe('exponentially weighted std (alpha = mu = 0.2)', () => {
  const got = run({ alpha: 0.2, mu: 0.2, deviation: 'ewstd' });
  const want = [
    { mean: 10, variance: 0 },
    // d = 10; variance = 0.8·(0 + 0.2·100) = 16 → std 4
    { mean: 12, variance: 16 },
    // d = 8; variance = 0.8·(16 + 0.2·64) = 0.8·28.8 = 23.04 → std 4.8
    { mean: 13.6, variance: 23.04 },
    // d = −8.6; variance = 0.8·(23.04 + 0.2·73.96) = 0.8·37.832 = 30.2656 → std ≈ 5.5014
    { mean: 11.88, variance: 30.2656 },
  ];
  want.forEach((w, t) => {
    test(`after x = ${XS[t]} (sample ${t + 1}) mean is ${w.mean} and variance ${w.variance}`, () => {
      assert.ok(near(got[t]?.mean, w.mean), `mean ${got[t]?.mean}`);
      assert.ok(near(got[t]?.variance, w.variance), `variance ${got[t]?.variance}`);
      assert.ok(near(got[t]?.dev, Math.sqrt(w.variance)), `dev ${got[t]?.dev}`);
    });
  });

  test('the mean is the same as LIBRA’s: only the deviation differs', () => {
    const libra = run({ alpha: 0.2, mu: 0.2, deviation: 'libra' });
    got.forEach((s, t) => assert.ok(near(s.mean, libra[t]?.mean ?? NaN)));
  });
});

describe('estimator helpers', () => {
  test('the state passed in is not changed', () => {
    const s = emptyEwma();
    ewmaRecord(s, 0, 5, { alpha: 0.2, mu: 0.2, deviation: 'libra' });
    assert.deepEqual(s, emptyEwma());
  });

  const bursts = [
    { label: 'an empty estimator sees no burst', state: emptyEwma(), x: 100, want: false },
    // band 12 + 1·2 = 14
    {
      label: '15 is a burst over mean 12, dev 2 (band 14)',
      state: { n: 2, mean: 12, dev: 2, variance: 0 },
      x: 15,
      want: true,
    },
    {
      label: '14 is not (strictly above the band)',
      state: { n: 2, mean: 12, dev: 2, variance: 0 },
      x: 14,
      want: false,
    },
  ];
  for (const c of bursts) test(c.label, () => assert.equal(isBurst(c.state, c.x, 1), c.want));

  test('rates are counts per second of the window; an empty window has none', () => {
    assert.equal(ratePerSecond(30, 1000), 30);
    assert.equal(ratePerSecond(30, 500), 60);
    assert.equal(ratePerSecond(3, 0), undefined);
  });
});
