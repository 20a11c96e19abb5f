/**
 * Service-time samplers for the simulator, built from the profiled quantiles (p50 / p95 / p99) so that the long
 * tail the profile measured is kept: a sampler reproduces p50, p95 and p99 exactly.
 *
 * Shape: log-linear in the standard-normal quantile z between the knots (a log-normal between two adjacent
 * quantiles); below p50 the p50→p95 slope continues down, beyond p99 the p95→p99 slope continues up. A profile
 * whose tail is heavier than log-normal (p99/p95 large against p95/p50) keeps that heavier tail. The mean of the
 * sampler is close to, not equal to, the profiled mean (reported by `meanOf`).
 *
 * Speed: sampling is one table look-up (TABLE_SIZE precomputed quantiles), because the simulator draws millions.
 */

/** Quantiles a sampler is built from, ms. */
export interface QuantileFigures {
  p50: number;
  p95: number;
  p99: number;
}

/** Precomputed quantiles per sampler: 4096 buckets put the top one beyond p99.97. */
export const TABLE_SIZE = 4096;

/** Times at or below this (ms) are taken as this in log space, so a 0 ms profile entry stays 0-ish, not NaN. */
const FLOOR_MS = 1e-6;

const Z50 = 0;
const Z95 = 1.6448536269514722;
const Z99 = 2.3263478740408408;

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9), for p in (0, 1).
 */
export function probit(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probit: p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** The quantile at standard-normal quantile `z` of the shape described above. */
function quantileAtZ(f: QuantileFigures, z: number): number {
  const l50 = Math.log(Math.max(FLOOR_MS, f.p50));
  const l95 = Math.log(Math.max(FLOOR_MS, f.p95, f.p50));
  const l99 = Math.log(Math.max(FLOOR_MS, f.p99, f.p95, f.p50));
  const body = (l95 - l50) / (Z95 - Z50);
  const tail = (l99 - l95) / (Z99 - Z95);
  let l: number;
  if (z <= Z95) l = l50 + body * (z - Z50);
  else if (z <= Z99) l = l95 + tail * (z - Z95);
  else l = l99 + tail * (z - Z99);
  const x = Math.exp(l);
  return x <= FLOOR_MS * 1.000001 ? 0 : x;
}

/** A sampler: `table[i]` is the quantile at (i + 0.5) / TABLE_SIZE. */
export interface Sampler {
  readonly table: Float64Array;
  /** A deterministic sampler (every draw the same) skips the look-up. */
  readonly constant: number | undefined;
}

/** Build a sampler from profiled quantiles (ms). Throws on a negative or non-finite quantile. */
export function samplerFrom(f: QuantileFigures): Sampler {
  for (const [k, v] of Object.entries(f)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`sampler: ${k} must be a finite number >= 0, got ${v}`);
  }
  if (f.p50 === f.p95 && f.p95 === f.p99) return { table: new Float64Array([f.p50]), constant: f.p50 };
  const table = new Float64Array(TABLE_SIZE);
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = quantileAtZ(f, probit((i + 0.5) / TABLE_SIZE));
  return { table, constant: undefined };
}

/** One draw for a uniform `u` in [0, 1). */
export function sample(s: Sampler, u: number): number {
  if (s.constant !== undefined) return s.constant;
  return s.table[(u * TABLE_SIZE) | 0] as number;
}

/** The sampler's mean, ms (the average of its table). */
export function meanOf(s: Sampler): number {
  if (s.constant !== undefined) return s.constant;
  let sum = 0;
  for (const x of s.table) sum += x;
  return sum / s.table.length;
}

/** The sampler's q-quantile (nearest table entry), ms. */
export function quantileOf(s: Sampler, q: number): number {
  if (s.constant !== undefined) return s.constant;
  const i = Math.min(TABLE_SIZE - 1, Math.max(0, Math.round(q * TABLE_SIZE - 0.5)));
  return s.table[i] as number;
}
