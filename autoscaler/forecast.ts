/**
 * SERFLOW's demand forecast per stage, and VM sizing from it (the policy the others should not beat). Pure: plain-data
 * state in, next state out; nothing reads a clock.
 *
 * The forecaster: a slow level plus an AR(1) deviation. A VM bought now serves only from its ready time (a boot
 * later) until it is let go, so what matters is the demand over that horizon, not now. Bursts of seconds to
 * minutes decay; a diurnal swing or a step persists. Per tick with rate x (queries/s):
 * ```
 *   first sample:  level = x; d = 0; variance = 0; cov = 0
 *   otherwise:     d = x − level                                (deviation from the old level)
 *                  (a, w at least 1/n for the n-th sample: a running mean until the weights take over)
 *                  cov      = (1 − w)·cov      + w·d·d_prev     (lag-1 covariance of the deviations)
 *                  variance = (1 − w)·variance + w·d²
 *                  level    = level + a·d
 *   persistence ρ = clamp(cov / variance, 0, MAX_PERSISTENCE)  (0 while variance is 0)
 * ```
 * The forecast h ticks ahead is `level + d·ρ^h` (the deviation decays geometrically, an AR(1)); over ticks h0..h1
 * its mean is `level + d·(ρ^h0 − ρ^(h1+1)) / ((1 − ρ)(h1 − h0 + 1))`, and the demand in one tick around it has the
 * deviations' standard deviation `sqrt(variance)`. Worked example, a = w = 0.5, x = 10, 20, 20:
 * - x = 10: level 10, d 0, variance 0, cov 0;
 * - x = 20: d = 10; cov = 0.5·0 + 0.5·10·0 = 0; variance = 0.5·0 + 0.5·100 = 50; level 15;
 * - x = 20: d = 5; cov = 0.5·0 + 0.5·5·10 = 25; variance = 0.5·50 + 0.5·25 = 37.5; level 17.5; ρ = 2/3.
 *
 * Sizing (a newsvendor by the VM): demand in a tick is taken as lognormal with the forecast's mean m and spread s
 * (never negative, and skewed like bursty load; a normal with the same moments would put demand below zero and
 * overstate the excess at low rates). With the expected excess over x,
 * `L(x) = E[(D − x)+] = m·Φ(d1) − x·Φ(d2)`, σ² = ln(1 + s²/m²), d1 = (ln(m/x) + σ²/2)/σ, d2 = d1 − σ
 * (L(0) = m; max(0, m − x) when s = 0), the n-th VM carries `L((n−1)·mu) − L(n·mu)` queries/s that would
 * otherwise go to functions. It pays while that is at least T-CIP (its price in function executions per second):
 * the marginal form of the newsvendor rule "hold capacity up to the (1 − T-CIP/mu) quantile of demand". With
 * s = 0 it is the per-stage rule of method.md (vmsForShare).
 * Break-even over the whole paid life: a NEW VM is paid through its boot and serves for `serveMs` at least, so it
 * must carry `T-CIP · (1 + bootMs / serveMs)`; a VM already held only needs to keep paying its way (T-CIP).
 */

export interface ForecastState {
  /** Samples folded in (0: empty). */
  n: number;
  /** Slow level, queries/s. */
  level: number;
  /** The latest deviation from the level, queries/s. */
  deviation: number;
  /** Exponentially weighted variance and lag-1 covariance of the deviations. */
  variance: number;
  covariance: number;
}

export interface ForecastParams {
  /** Weight of the newest sample in the level, in (0, 1]. */
  levelWeight: number;
  /** Weight of the newest sample in the variance and covariance, in (0, 1]. */
  momentWeight: number;
}

/**
 * Persistence is capped below 1 so the deviation always decays: a forecast never extrapolates a burst for ever,
 * and (1 − ρ) in the horizon mean stays away from 0.
 */
export const MAX_PERSISTENCE = 0.999;

export function emptyForecast(): ForecastState {
  return { n: 0, level: 0, deviation: 0, variance: 0, covariance: 0 };
}

/** Fold one tick's rate into the forecaster (see the module comment). */
export function forecastRecord(s: ForecastState, x: number, p: ForecastParams): ForecastState {
  if (s.n === 0) return { n: 1, level: x, deviation: 0, variance: 0, covariance: 0 };
  const d = x - s.level;
  // Early on the weights are those of a running mean (1/n), so the first samples (a burst at start) are not held
  // for a whole time constant; then the configured ones.
  const n = s.n + 1;
  const a = Math.max(p.levelWeight, 1 / n);
  const w = Math.max(p.momentWeight, 1 / n);
  return {
    n,
    level: s.level + a * d,
    deviation: d,
    variance: (1 - w) * s.variance + w * d * d,
    covariance: (1 - w) * s.covariance + w * d * s.deviation,
  };
}

/** ρ: how much of a deviation is left one tick later, in [0, MAX_PERSISTENCE]. */
export function persistence(s: ForecastState): number {
  if (!(s.variance > 0)) return 0;
  return Math.min(MAX_PERSISTENCE, Math.max(0, s.covariance / s.variance));
}

/** Mean of ρ^h over h = h0..h1 (h0 <= h1, whole ticks). */
export function meanPower(rho: number, h0: number, h1: number): number {
  const count = h1 - h0 + 1;
  if (rho <= 0) return h0 === 0 ? 1 / count : 0;
  return (rho ** h0 - rho ** (h1 + 1)) / ((1 - rho) * count);
}

/** The demand a VM bought now would serve: mean over ticks h0..h1 ahead, and the spread of one tick's demand. */
export function forecastOver(s: ForecastState, h0: number, h1: number): { mean: number; sd: number; rho: number } {
  const rho = persistence(s);
  const mean = Math.max(0, s.level + s.deviation * meanPower(rho, h0, h1));
  return { mean, sd: Math.sqrt(Math.max(0, s.variance)), rho };
}

/** The standard normal distribution function (Abramowitz–Stegun 7.1.26 for erf, |error| < 1.5e-7). */
function bigPhi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** L(x) = E[(D − x)+] for a lognormal D of mean `mean` and standard deviation `sd` (module comment). */
export function expectedExcess(mean: number, sd: number, x: number): number {
  if (!(mean > 0)) return 0;
  if (x <= 0) return mean;
  if (!(sd > 0)) return Math.max(0, mean - x);
  const variance = Math.log(1 + (sd * sd) / (mean * mean));
  const sigma = Math.sqrt(variance);
  const d1 = (Math.log(mean / x) + variance / 2) / sigma;
  return Math.max(0, mean * bigPhi(d1) - x * bigPhi(d1 - sigma));
}

/**
 * VMs worth holding for lognormal demand of `mean` and `sd` at `mu` queries/s per VM: each one while the load it takes off
 * functions, `L((n−1)·mu) − L(n·mu)`, is at least `threshold` queries/s (T-CIP, or T-CIP inflated for a new VM's
 * boot). At most `max`.
 */
export function vmsForDemand(mean: number, sd: number, mu: number, threshold: number, max: number): number {
  if (!(mu > 0) || threshold > mu) return 0;
  let n = 0;
  while (n < max && expectedExcess(mean, sd, n * mu) - expectedExcess(mean, sd, (n + 1) * mu) >= threshold) n++;
  return n;
}

/** T-CIP a new VM must carry to pay for its boot over the `serveMs` it will at least serve (module comment). */
export function buyThreshold(tCip: number, bootMs: number, serveMs: number): number {
  return serveMs > 0 ? tCip * (1 + bootMs / serveMs) : Infinity;
}
