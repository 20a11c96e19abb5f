/** common/stats.ts: quantiles, latency summaries and the seeded sampling used by benchmarks. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { quantile, sampleIndices, seededRandom, summarizeLatency } from '../../../common/stats';

describe('quantile', () => {
  const cases: Array<{ values: number[]; q: number; want: number }> = [
    { values: [1, 2, 3, 4], q: 0.5, want: 2.5 },
    { values: [1, 2, 3, 4], q: 0, want: 1 },
    { values: [1, 2, 3, 4], q: 1, want: 4 },
    { values: [1, 2, 3, 4], q: 0.25, want: 1.75 },
    { values: [1, 2, 3, 4, 5], q: 0.5, want: 3 },
    { values: [4, 1, 3, 2], q: 0.5, want: 2.5 },
    { values: [10, 20], q: 0.9, want: 19 },
    { values: [7], q: 0.99, want: 7 },
    { values: [5, 5, 5], q: 0.3, want: 5 },
    { values: [-3, 0, 3], q: 0.75, want: 1.5 },
    { values: [1, 2, 3, 4], q: -0.5, want: 1 },
    { values: [1, 2, 3, 4], q: 1.5, want: 4 },
    { values: [2, 10, 1], q: 0.5, want: 2 },
  ];
  for (const { values, q, want } of cases) {
    test(`the ${q}-quantile of [${values.join(', ')}] is ${want}`, () => {
      assert.ok(Math.abs(quantile(values, q) - want) < 1e-12, `got ${quantile(values, q)}`);
    });
  }

  test('the quantile of no values is NaN', () => {
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });

  test('quantile does not reorder its input', () => {
    const values = [3, 1, 2];
    quantile(values, 0.5);
    assert.deepEqual(values, [3, 1, 2]);
  });

  test('quantile sorts numerically, not as strings', () => {
    assert.equal(quantile([100, 9, 20], 0), 9);
    assert.equal(quantile([100, 9, 20], 1), 100);
  });
});

describe('summarizeLatency', () => {
  test('1..100 ms summarize to hand-computed percentiles, mean and max', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.deepEqual(summarizeLatency(values), { p50: 50.5, p95: 95.05, p99: 99.01, mean: 50.5, max: 100 });
  });

  test('figures are rounded to two decimals', () => {
    assert.deepEqual(summarizeLatency([1, 2, 2]), { p50: 2, p95: 2, p99: 2, mean: 1.67, max: 2 });
    assert.deepEqual(summarizeLatency([0.123456]), { p50: 0.12, p95: 0.12, p99: 0.12, mean: 0.12, max: 0.12 });
  });

  test('a single slow outlier moves the tail and the mean but not the median', () => {
    const s = summarizeLatency([10, 10, 10, 10, 10, 10, 10, 10, 10, 1000]);
    assert.equal(s.p50, 10);
    assert.equal(s.max, 1000);
    assert.equal(s.mean, 109);
    assert.equal(s.p95, 554.5);
    assert.equal(s.p99, 910.9);
  });

  test('no values: every figure is NaN (null in JSON)', () => {
    assert.deepEqual(summarizeLatency([]), { p50: NaN, p95: NaN, p99: NaN, mean: NaN, max: NaN });
  });

  test('the same figures whatever the order or the array type (the simulator passes a sorted Float32Array)', () => {
    const values = [12.5, 3, 480, 7.25, 7.25, 96, 0.5, 33];
    const sorted = Float32Array.from(values).sort();
    assert.deepEqual(summarizeLatency(sorted), summarizeLatency(values));
    assert.deepEqual(summarizeLatency([...values].reverse()), summarizeLatency(values));
  });

  test('digits sets the rounding (the profiler keeps µs)', () => {
    assert.deepEqual(summarizeLatency([0.1234567, 0.2345678], 3), {
      p50: 0.179,
      p95: 0.229,
      p99: 0.233,
      mean: 0.179,
      max: 0.235,
    });
  });
});

describe('seededRandom', () => {
  /** Reference mulberry32 (public domain, bryc), written out independently of the module. */
  function referenceMulberry32(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const draw = (rnd: () => number, n: number) => Array.from({ length: n }, () => rnd());

  for (const seed of [0, 1, 42, 0xdeadbeef, 2 ** 32 - 1]) {
    test(`seed ${seed} yields the mulberry32 sequence`, () => {
      assert.deepEqual(draw(seededRandom(seed), 20), draw(referenceMulberry32(seed), 20));
    });
  }

  test('the same seed gives the same sequence and different seeds differ', () => {
    assert.deepEqual(draw(seededRandom(7), 50), draw(seededRandom(7), 50));
    assert.notDeepEqual(draw(seededRandom(7), 50), draw(seededRandom(8), 50));
  });

  test('values lie in [0, 1) and spread over the interval', () => {
    const values = draw(seededRandom(123), 10_000);
    assert.ok(values.every((v) => v >= 0 && v < 1));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
    const lowHalf = values.filter((v) => v < 0.5).length;
    assert.ok(lowHalf > 4700 && lowHalf < 5300, `below 0.5: ${lowHalf}`);
  });
});

describe('sampleIndices', () => {
  const cases: Array<{ size: number; n: number; wantLength: number }> = [
    { size: 2008, n: 200, wantLength: 200 },
    { size: 10, n: 10, wantLength: 10 },
    { size: 10, n: 25, wantLength: 10 },
    { size: 10, n: 0, wantLength: 0 },
    { size: 0, n: 5, wantLength: 0 },
    { size: 1, n: 1, wantLength: 1 },
  ];
  for (const { size, n, wantLength } of cases) {
    test(`${n} of ${size} gives ${wantLength} distinct indices in range`, () => {
      const idx = sampleIndices(size, n, 99);
      assert.equal(idx.length, wantLength);
      assert.equal(new Set(idx).size, idx.length, 'distinct');
      assert.ok(
        idx.every((i) => Number.isInteger(i) && i >= 0 && i < size),
        'in range',
      );
    });
  }

  test('taking every index gives a permutation', () => {
    assert.deepEqual(
      [...sampleIndices(50, 50, 5)].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  test('the same seed gives the same sample and different seeds differ', () => {
    assert.deepEqual(sampleIndices(2008, 200, 1), sampleIndices(2008, 200, 1));
    assert.notDeepEqual(sampleIndices(2008, 200, 1), sampleIndices(2008, 200, 2));
  });

  test('a smaller sample is a prefix of a larger one with the same seed', () => {
    assert.deepEqual(sampleIndices(500, 20, 3), sampleIndices(500, 100, 3).slice(0, 20));
  });

  test('the sample is shuffled, not the first n indices', () => {
    assert.notDeepEqual(
      sampleIndices(1000, 10, 1),
      Array.from({ length: 10 }, (_, i) => i),
    );
  });
});
