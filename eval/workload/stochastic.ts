/**
 * The seeded random processes behind the stochastic synthetic trace shapes (`mmpp:`, `flash:`, `diurnal:` in
 * traces.ts): each shape gives the EXPECTED number of arrivals in every second (the integral of its rate over that
 * second), and `poissonCounts` draws the count of each second as a Poisson variable with that mean. The simulator
 * then places a count trace's arrivals at seeded uniform positions inside their second (placement `random`), so
 * arrivals are a Poisson process within each second, modulated from second to second.
 *
 * Every function is pure: randomness comes only from the `rnd` argument (common/stats.ts `seededRandom`), so the same
 * seed gives the same trace on every machine.
 */

/** Coefficients of the Stirling series of ln Γ (as numpy's `random_loggam`). */
const LOG_GAMMA_SERIES = [
  8.333333333333333e-2, -2.777777777777778e-3, 7.936507936507937e-4, -5.952380952380952e-4, 8.417508417508418e-4,
  -1.917526917526918e-3, 6.41025641025641e-3, -2.955065359477124e-2, 1.796443723688307e-1, -1.3924322169059,
];

/** ln Γ(x) for x > 0 (Stirling series after shifting x above 7; absolute error below 1e-13). */
export function logGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  let x0 = x;
  let n = 0;
  if (x <= 7) {
    n = Math.floor(7 - x);
    x0 = x + n;
  }
  const x2 = 1 / (x0 * x0);
  let gl0 = LOG_GAMMA_SERIES[9] as number;
  for (let k = 8; k >= 0; k--) gl0 = gl0 * x2 + (LOG_GAMMA_SERIES[k] as number);
  let gl = gl0 / x0 + 0.5 * Math.log(2 * Math.PI) + (x0 - 0.5) * Math.log(x0) - x0;
  for (let k = 1; k <= n; k++) {
    x0 -= 1;
    gl -= Math.log(x0);
  }
  return gl;
}

/** Below this mean, Poisson variables are drawn by multiplying uniforms (Knuth); from it on by PTRS. */
const POISSON_PTRS_FROM = 10;

/**
 * One Poisson variable with mean `lambda` ≥ 0, exactly distributed: Knuth's product of uniforms for small means,
 * Hörmann's transformed rejection with squeeze (PTRS, 1993; numpy's method) from POISSON_PTRS_FROM on.
 */
export function poisson(lambda: number, rnd: () => number): number {
  if (!(lambda > 0)) return 0;
  if (lambda < POISSON_PTRS_FROM) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = rnd();
    while (p > limit) {
      k++;
      p *= rnd();
    }
    return k;
  }
  const slam = Math.sqrt(lambda);
  const logLam = Math.log(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rnd() - 0.5;
    const v = rnd();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -lambda + k * logLam - logGamma(k + 1)) {
      return k;
    }
  }
}

/** One Poisson count per second from the expected counts (`expected[t]` ≥ 0). */
export function poissonCounts(expected: ArrayLike<number>, rnd: () => number): number[] {
  const out = new Array<number>(expected.length);
  for (let t = 0; t < expected.length; t++) out[t] = poisson(expected[t] as number, rnd);
  return out;
}

/** An exponential variable with the given mean (> 0). */
export function exponential(mean: number, rnd: () => number): number {
  // 1 − u lies in (0, 1], so the log is finite
  return -mean * Math.log(1 - rnd());
}

/** A standard normal variable (Box–Muller, one of the pair). */
export function standardNormal(rnd: () => number): number {
  const u = 1 - rnd();
  const v = rnd();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

// ---------------------------------------------------------------------------------------------------------------
// Markov-modulated bursts

export interface MmppParams {
  /** Rate outside bursts, queries/s. */
  base: number;
  /** Rate inside a burst as a multiple of `base` (≥ 1). */
  ratio: number;
  /** Mean burst length, s (burst lengths are exponential with this mean). */
  burstS: number;
  /** Mean gap between bursts, s (exponential). */
  gapS: number;
  durationS: number;
}

/** A burst, [startS, endS) in seconds from the trace start (real-valued). */
export interface BurstInterval {
  startS: number;
  endS: number;
}

/** Share of time in a burst of the stationary two-state chain: burst / (burst + gap). */
export function mmppBurstShare(p: Pick<MmppParams, 'burstS' | 'gapS'>): number {
  return p.burstS / (p.burstS + p.gapS);
}

/** The long-run mean rate of the process: base · (1 + (ratio − 1) · burst share), queries/s. */
export function mmppMeanRate(p: Pick<MmppParams, 'base' | 'ratio' | 'burstS' | 'gapS'>): number {
  return p.base * (1 + (p.ratio - 1) * mmppBurstShare(p));
}

/**
 * The bursts of a two-state continuous-time Markov chain over [0, durationS): in a burst for an exponential time of
 * mean `burstS`, then out of it for an exponential time of mean `gapS`, and so on. The chain starts in its
 * stationary distribution (in a burst with probability burst share), so the expected rate is the same at every
 * instant, `mmppMeanRate`.
 */
export function mmppBursts(p: Pick<MmppParams, 'burstS' | 'gapS' | 'durationS'>, rnd: () => number): BurstInterval[] {
  const out: BurstInterval[] = [];
  let inBurst = rnd() < mmppBurstShare(p);
  let t = 0;
  while (t < p.durationS) {
    const length = exponential(inBurst ? p.burstS : p.gapS, rnd);
    if (inBurst) out.push({ startS: t, endS: Math.min(p.durationS, t + length) });
    t += length;
    inBurst = !inBurst;
  }
  return out;
}

/**
 * Expected arrivals in each second of the modulated process: base, plus (ratio − 1) · base times the part of the
 * second spent in a burst.
 */
export function mmppExpected(p: MmppParams, bursts: readonly BurstInterval[]): Float64Array {
  const out = new Float64Array(p.durationS).fill(p.base);
  const extra = (p.ratio - 1) * p.base;
  for (const { startS, endS } of bursts) {
    for (let s = Math.floor(startS); s < Math.min(p.durationS, Math.ceil(endS)); s++) {
      const covered = Math.min(s + 1, endS) - Math.max(s, startS);
      out[s] = (out[s] as number) + extra * covered;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Flash crowd

export interface FlashParams {
  /** Rate before the crowd and long after it, queries/s. */
  base: number;
  /** Plateau rate as a multiple of `base` (≥ 1). */
  ratio: number;
  /** When the ramp starts, s. */
  atS: number;
  /** Linear ramp from base to the plateau, s (0 = a step). */
  rampS: number;
  /** Plateau length, s. */
  holdS: number;
  /** Time constant of the exponential decay back to base after the plateau, s (0 = a step down). */
  decayS: number;
  durationS: number;
}

/** The flash crowd's rate at time t, queries/s. */
export function flashRate(p: FlashParams, t: number): number {
  const extra = (p.ratio - 1) * p.base;
  const rampEnd = p.atS + p.rampS;
  const holdEnd = rampEnd + p.holdS;
  if (t < p.atS) return p.base;
  if (t < rampEnd) return p.base + (extra * (t - p.atS)) / p.rampS;
  if (t < holdEnd) return p.base + extra;
  return p.decayS > 0 ? p.base + extra * Math.exp(-(t - holdEnd) / p.decayS) : p.base;
}

/** ∫₀ᵗ flashRate, in closed form. */
export function flashCumulative(p: FlashParams, t: number): number {
  const extra = (p.ratio - 1) * p.base;
  const rampEnd = p.atS + p.rampS;
  const holdEnd = rampEnd + p.holdS;
  let sum = p.base * t;
  if (t > p.atS) {
    const inRamp = Math.min(t, rampEnd) - p.atS;
    sum += p.rampS > 0 ? (extra * inRamp * inRamp) / (2 * p.rampS) : 0;
  }
  if (t > rampEnd) sum += extra * (Math.min(t, holdEnd) - rampEnd);
  if (t > holdEnd && p.decayS > 0) sum += extra * p.decayS * (1 - Math.exp(-(t - holdEnd) / p.decayS));
  return sum;
}

/** Expected arrivals in each second of a flash crowd (no randomness: the counts carry the Poisson noise). */
export function flashExpected(p: FlashParams): Float64Array {
  const out = new Float64Array(p.durationS);
  let prev = 0;
  for (let s = 0; s < p.durationS; s++) {
    const next = flashCumulative(p, s + 1);
    out[s] = Math.max(0, next - prev);
    prev = next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Diurnal with noise

export interface DiurnalParams {
  /** Mean rate over a whole period, queries/s. */
  mean: number;
  /** Relative amplitude in [0, 1]: the rate runs from mean·(1 − a) (night, at t = 0) to mean·(1 + a). */
  amplitude: number;
  /** Length of one (compressed) day, s. */
  periodS: number;
  /** σ of the log of the multiplicative noise (0 = none); the noise factor has mean 1. */
  noise: number;
  /** Correlation time of the noise, s: its log is an AR(1) with coefficient exp(−1/corr) per second (0 = white). */
  corrS: number;
  durationS: number;
}

/** ∫₀ᵗ mean · (1 − a · cos(2πt/P)). */
export function diurnalCumulative(p: Pick<DiurnalParams, 'mean' | 'amplitude' | 'periodS'>, t: number): number {
  const w = (2 * Math.PI) / p.periodS;
  return p.mean * t - ((p.mean * p.amplitude) / w) * Math.sin(w * t);
}

/**
 * Multiplicative noise, one factor per second: exp(σ·x_t − σ²/2) with x a stationary AR(1) of unit variance
 * (x_0 ~ N(0, 1), x_{t+1} = φ·x_t + √(1 − φ²)·ε, φ = exp(−1/corr)), so every factor has mean exactly 1.
 */
export function lognormalNoise(n: number, sigma: number, corrS: number, rnd: () => number): Float64Array {
  const out = new Float64Array(n).fill(1);
  if (!(sigma > 0)) return out;
  const phi = corrS > 0 ? Math.exp(-1 / corrS) : 0;
  const innovation = Math.sqrt(1 - phi * phi);
  let x = standardNormal(rnd);
  for (let t = 0; t < n; t++) {
    if (t > 0) x = phi * x + innovation * standardNormal(rnd);
    out[t] = Math.exp(sigma * x - (sigma * sigma) / 2);
  }
  return out;
}

/** Expected arrivals in each second: the sinusoid's integral over the second times that second's noise factor. */
export function diurnalExpected(p: DiurnalParams, rnd: () => number): Float64Array {
  const noise = lognormalNoise(p.durationS, p.noise, p.corrS, rnd);
  const out = new Float64Array(p.durationS);
  let prev = 0;
  for (let s = 0; s < p.durationS; s++) {
    const next = diurnalCumulative(p, s + 1);
    out[s] = Math.max(0, next - prev) * (noise[s] as number);
    prev = next;
  }
  return out;
}
