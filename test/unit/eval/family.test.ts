/**
 * eval/workload/stochastic.ts, the stochastic trace specs of traces.ts (`mmpp:`, `flash:`, `diurnal:`) and the trace
 * family (family.ts): hand-checkable properties of the random processes (Poisson moments, the modulated process's
 * analytic mean and burst ratio, exact integrals of the flash crowd and the compressed day), seed determinism, and
 * errors that name the bad field.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../../common/stats';
import {
  diurnalCumulative,
  diurnalExpected,
  flashCumulative,
  flashExpected,
  flashRate,
  logGamma,
  mmppBursts,
  mmppExpected,
  mmppMeanRate,
  poisson,
  poissonCounts,
  type FlashParams,
} from '../../../eval/workload/stochastic';
import { FAMILY_SHAPES, TRACE_FAMILY, familyMembers, memberTrace } from '../../../eval/workload/family';
import { TraceError, loadTrace, traceStats } from '../../../eval/workload/traces';

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

function meanVar(xs: readonly number[]): { mean: number; variance: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

describe('Poisson draws', () => {
  test('logGamma matches factorials and Γ(1/2) = √π', () => {
    near(logGamma(5), Math.log(24), 1e-12, 'ln 4!');
    near(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-12, 'ln Γ(1/2)');
    near(logGamma(11), Math.log(3628800), 1e-10, 'ln 10!');
    // ln 100! (known constant)
    near(logGamma(101), 363.73937555556347, 1e-9, 'ln 100!');
  });

  for (const lambda of [0.5, 3, 9.9, 10, 40, 400]) {
    test(`mean and variance are both λ = ${lambda} (Knuth below 10, PTRS from 10)`, () => {
      const rnd = seededRandom(7);
      const n = 40_000;
      const xs = Array.from({ length: n }, () => poisson(lambda, rnd));
      const { mean, variance } = meanVar(xs);
      // standard error of the mean √(λ/n); of the variance about λ·√(2/n) (+ a small excess term)
      near(mean, lambda, 5 * Math.sqrt(lambda / n), `mean at λ=${lambda}`);
      near(variance, lambda, 6 * lambda * Math.sqrt(2 / n) + 0.02, `variance at λ=${lambda}`);
      assert.ok(
        xs.every((x) => Number.isInteger(x) && x >= 0),
        'non-negative integers',
      );
    });
  }

  test('P(0) at λ = 3 is e^−3 and λ ≤ 0 gives 0', () => {
    const rnd = seededRandom(11);
    const n = 50_000;
    let zeros = 0;
    for (let i = 0; i < n; i++) if (poisson(3, rnd) === 0) zeros++;
    near(zeros / n, Math.exp(-3), 5 * Math.sqrt((Math.exp(-3) * (1 - Math.exp(-3))) / n), 'P(0)');
    assert.equal(poisson(0, rnd), 0);
    assert.equal(poisson(-1, rnd), 0);
  });
});

describe('Markov-modulated bursts', () => {
  // bursts of mean 30 s every 150 s on average (gap 120 s): 20 % of the time at 5 × 10 q/s
  const p = { base: 10, ratio: 5, burstS: 30, gapS: 120, durationS: 1_000_000 };
  const rnd = seededRandom(3);
  const bursts = mmppBursts(p, rnd);
  const expected = mmppExpected(p, bursts);
  const counts = poissonCounts(expected, rnd);

  test('the analytic mean is base · (1 + (ratio − 1) · burst/(burst + gap)) = 18 q/s', () => {
    assert.equal(mmppMeanRate(p), 18);
  });

  test('the mean rate over a long trace is the analytic mean (within 3 %)', () => {
    const mean = counts.reduce((s, x) => s + x, 0) / p.durationS;
    // the burst indicator's time average has a standard deviation of about 0.6 % here (correlation time 24 s)
    near(mean, 18, 0.03 * 18, 'mean rate');
  });

  test('bursts last 30 s on average, cover 20 % of the time, and never overlap', () => {
    const lengths = bursts.slice(0, -1).map((b) => b.endS - b.startS);
    near(meanVar(lengths).mean, 30, 0.05 * 30, 'mean burst length');
    const covered = bursts.reduce((s, b) => s + (b.endS - b.startS), 0) / p.durationS;
    near(covered, 0.2, 0.01, 'share of time in bursts');
    for (let i = 1; i < bursts.length; i++) {
      assert.ok(
        (bursts[i] as { startS: number }).startS > (bursts[i - 1] as { endS: number }).endS,
        'a gap between bursts',
      );
    }
  });

  test('seconds inside a burst carry ratio × the rate of seconds outside (within 2 %)', () => {
    const inside: number[] = [];
    const outside: number[] = [];
    for (let s = 0; s < p.durationS; s++) {
      const e = expected[s] as number;
      if (e === 50) inside.push(counts[s] as number);
      else if (e === 10) outside.push(counts[s] as number);
    }
    assert.ok(inside.length > 100_000 && outside.length > 500_000, 'both kinds of seconds are common');
    const ratio = meanVar(inside).mean / meanVar(outside).mean;
    near(ratio, 5, 0.02 * 5, 'burst ratio');
  });

  test('a second partly in a burst gets the time-weighted rate', () => {
    const e = mmppExpected({ base: 2, ratio: 11, burstS: 1, gapS: 1, durationS: 4 }, [{ startS: 0.5, endS: 2.25 }]);
    // 2 + 20·0.5, 2 + 20·1, 2 + 20·0.25, 2
    assert.deepEqual(Array.from(e), [12, 22, 7, 2]);
  });

  test('the spec gives the same counts as the process drawn from its seed', () => {
    const spec = 'mmpp:base=10,ratio=5,burst=30,gap=120,duration=2000,seed=3';
    const q = { ...p, durationS: 2000 };
    const r = seededRandom(3);
    assert.deepEqual(loadTrace(spec).counts, poissonCounts(mmppExpected(q, mmppBursts(q, r)), r));
  });
});

describe('flash crowd and compressed day', () => {
  const f: FlashParams = { base: 10, ratio: 5, atS: 100, rampS: 20, holdS: 50, decayS: 0, durationS: 300 };

  test('the flash crowd ramps, holds and steps back (decay 0)', () => {
    assert.equal(flashRate(f, 90), 10);
    assert.equal(flashRate(f, 110), 30);
    assert.equal(flashRate(f, 150), 50);
    assert.equal(flashRate(f, 200), 10);
    // 10·300 + 40·20/2 + 40·50
    near(flashCumulative(f, 300), 5400, 1e-9, 'total');
    near(
      flashExpected(f).reduce((s, x) => s + x, 0),
      5400,
      1e-9,
      'expected counts add up to the integral',
    );
  });

  test('its decay adds (ratio − 1) · base · τ · (1 − e^(−t/τ)) after the plateau', () => {
    const g = { ...f, decayS: 30 };
    near(flashCumulative(g, 300), 5400 + 40 * 30 * (1 - Math.exp(-130 / 30)), 1e-9, 'total with decay');
    near(flashRate(g, 200), 10 + 40 * Math.exp(-1), 1e-9, 'rate one time constant after the plateau');
  });

  test('a compressed day integrates to mean × period and runs from night to midday', () => {
    const d = { mean: 20, amplitude: 0.8, periodS: 600, noise: 0, corrS: 60, durationS: 600 };
    near(diurnalCumulative(d, 600), 12_000, 1e-9, 'one period');
    const e = diurnalExpected(d, seededRandom(1));
    near(e[0] as number, 20 * (1 - 0.8), 0.01, 'night');
    near(e[299] as number, 20 * (1 + 0.8), 0.01, 'midday');
  });

  test('its noise has mean one (a long noisy day keeps the mean rate)', () => {
    const d = { mean: 20, amplitude: 0.5, periodS: 1000, noise: 0.5, corrS: 30, durationS: 200_000 };
    const e = diurnalExpected(d, seededRandom(5));
    near(e.reduce((s, x) => s + x, 0) / d.durationS, 20, 0.03 * 20, 'mean expected rate');
  });
});

describe('stochastic specs', () => {
  const spec = 'mmpp:base=10,ratio=20,burst=60,duration=900,seed=4';

  test('same spec ⇒ same counts; another seed ⇒ other counts', () => {
    assert.deepEqual(loadTrace(spec).counts, loadTrace(spec).counts);
    assert.notDeepEqual(loadTrace(spec).counts, loadTrace(spec.replace('seed=4', 'seed=5')).counts);
    const flash = 'flash:base=5,ratio=10,at=100,ramp=30,hold=200,decay=100,duration=600,seed=2';
    assert.deepEqual(loadTrace(flash).counts, loadTrace(flash).counts);
    const day = 'diurnal:mean=10,amplitude=0.8,period=600,noise=0.3,duration=600,seed=2';
    assert.deepEqual(loadTrace(day).counts, loadTrace(day).counts);
  });

  test('gap defaults to 4 × burst and corr to 60 s', () => {
    assert.deepEqual(loadTrace(spec).counts, loadTrace(spec.replace('burst=60', 'burst=60,gap=240')).counts);
    const day = 'diurnal:mean=10,amplitude=0.8,period=600,noise=0.3,duration=600,seed=2';
    assert.deepEqual(loadTrace(day).counts, loadTrace(day.replace('noise=0.3', 'noise=0.3,corr=60')).counts);
  });

  test('the trace has the spec as its name and source, and its duration', () => {
    const t = loadTrace(spec);
    assert.equal(t.name, spec);
    assert.equal(t.format, 'synthetic');
    assert.equal(t.durationS, 900);
    assert.equal(t.counts.length, 900);
  });

  const bad: Array<[string, RegExp]> = [
    ['mmpp:base=10,ratio=0.5,burst=30,duration=100,seed=1', /ratio=0\.5 must be ≥ 1/],
    ['mmpp:base=10,ratio=2,burst=0,duration=100,seed=1', /burst=0 must be > 0/],
    ['mmpp:base=10,ratio=2,burst=30,gap=0,duration=100,seed=1', /gap=0 must be > 0/],
    ['mmpp:base=10,ratio=2,burst=30,duration=100', /missing seed/],
    ['mmpp:base=10,ratio=2,burst=30,duration=100,seed=1.5', /seed=1\.5 must be a whole number/],
    ['mmpp:base=10,ratio=2,burts=30,duration=100,seed=1', /unknown key "burts"/],
    ['mmpp:base=-1,ratio=2,burst=30,duration=100,seed=1', /base=-1 must be a non-negative number/],
    ['mmpp:base=1,ratio=2,burst=30,duration=0.5,seed=1', /duration=0\.5 must be a whole number of seconds/],
    ['flash:base=5,ratio=10,at=600,ramp=30,hold=200,decay=100,duration=600,seed=2', /at=600 must be < duration=600/],
    ['flash:base=5,ratio=0.9,at=100,ramp=30,hold=200,decay=100,duration=600,seed=2', /ratio=0\.9 must be ≥ 1/],
    ['flash:base=5,ratio=2,at=100,hold=200,decay=100,duration=600,seed=2', /missing ramp/],
    ['diurnal:mean=10,amplitude=1.5,period=600,noise=0.3,duration=600,seed=2', /amplitude=1\.5 must be ≤ 1/],
    ['diurnal:mean=10,amplitude=0.5,period=0,noise=0.3,duration=600,seed=2', /period=0 must be > 0/],
    ['diurnal:mean=10,amplitude=0.5,period=600,noise=9,duration=600,seed=2', /noise=9 must be ≤ 3/],
  ];
  for (const [s, message] of bad) {
    test(`${s} → ${message.source}`, () => {
      assert.throws(
        () => loadTrace(s),
        (err: unknown) => err instanceof TraceError && message.test(err.message) && err.message.includes('expected'),
      );
    });
  }
});

describe('the trace family', () => {
  const members = familyMembers();

  test('has the documented size: 4 × 3 mmpp grid points and 10 flash and 10 diurnal seeds per base rate', () => {
    const bases = TRACE_FAMILY.baseRates.length;
    assert.equal(members.filter((m) => m.shape === 'mmpp').length, bases * 4 * 3);
    assert.equal(members.filter((m) => m.shape === 'flash').length, bases * 10);
    assert.equal(members.filter((m) => m.shape === 'diurnal').length, bases * 10);
    for (const shape of FAMILY_SHAPES) {
      assert.ok(
        new Set(members.filter((m) => m.shape === shape).map((m) => m.seed)).size >= 10,
        `${shape}: ≥ 10 seeds`,
      );
    }
  });

  test('ids and seeds are unique, and the grid is the same at every call', () => {
    assert.equal(new Set(members.map((m) => m.id)).size, members.length);
    assert.equal(new Set(members.map((m) => m.seed)).size, members.length);
    assert.deepEqual(familyMembers(), members);
  });

  test('mmpp covers burst lengths from 10 s to 5 min and ratios from 2 to 20 at every base rate', () => {
    const mmpp = members.filter((m) => m.shape === 'mmpp');
    for (const base of TRACE_FAMILY.baseRates) {
      const at = mmpp.filter((m) => m.baseRate === base);
      assert.deepEqual(
        [...new Set(at.map((m) => m.params.burst as number))].sort((a, b) => a - b),
        [10, 30, 120, 300],
      );
      assert.deepEqual(
        [...new Set(at.map((m) => m.params.ratio as number))].sort((a, b) => a - b),
        [2, 5, 20],
      );
      // bursts 20 % of the time
      for (const m of at) near((m.params.gap as number) / (m.params.burst as number), 4, 1e-9, `${m.id} gap`);
    }
  });

  test('drawn flash and diurnal values lie in the grid’s ranges', () => {
    const f = TRACE_FAMILY.flash;
    for (const m of members.filter((x) => x.shape === 'flash')) {
      const v = m.params;
      assert.ok(v.ratio! >= f.ratio[0] && v.ratio! <= f.ratio[1], `${m.id} ratio ${v.ratio}`);
      assert.ok(v.hold! >= f.holdS[0] && v.hold! <= f.holdS[1], `${m.id} hold ${v.hold}`);
      assert.ok(v.at! >= f.atShare[0] * TRACE_FAMILY.durationS && v.at! <= f.atShare[1] * TRACE_FAMILY.durationS);
    }
    const g = TRACE_FAMILY.diurnal;
    for (const m of members.filter((x) => x.shape === 'diurnal')) {
      const v = m.params;
      assert.ok(v.amplitude! >= g.amplitude[0] && v.amplitude! <= g.amplitude[1], `${m.id} amplitude`);
      assert.equal(v.period, TRACE_FAMILY.durationS);
    }
  });

  test('every member is its spec: loading the spec gives the member’s counts', () => {
    for (const m of members.filter((_, i) => i % 7 === 0)) {
      const t = memberTrace(m);
      assert.equal(t.name, m.id);
      assert.equal(t.source, m.spec);
      assert.equal(t.durationS, TRACE_FAMILY.durationS);
      assert.deepEqual(loadTrace(m.spec).counts, t.counts);
    }
  });

  test('a 20× mmpp member at base 50 reaches far above the base; a 2× one at base 2 stays low', () => {
    // 10 s bursts every 50 s on average: a 30-minute member has dozens of them
    const hi = members.find((m) => m.id === 'mmpp-b50-L10-r20');
    const lo = members.find((m) => m.id === 'mmpp-b2-L10-r2');
    assert.ok(hi && lo);
    assert.ok(traceStats(memberTrace(hi)).peakRate > 500);
    assert.ok(traceStats(memberTrace(lo)).peakRate < 20);
  });
});
