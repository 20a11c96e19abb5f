/** Small descriptive statistics used by reports and benchmarks. Pure. */

/** The q-quantile (0..1) of `values` with linear interpolation between closest ranks; NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return interpolated(sorted, q);
}

/** The q-quantile of ascending `sorted` (not empty), linear interpolation between closest ranks. */
function interpolated(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/**
 * Latency figures, ms, as every report and benchmark states them (report.json's `latencyMs`, the benchmarks' JSON):
 * percentiles by linear interpolation, mean and max.
 */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

/**
 * Percentiles, mean and max of finite `values`, rounded to `digits` decimals (2: 10 µs, below what a latency
 * measurement here resolves). Every field is NaN (null in JSON) when there are no values. Values already in
 * ascending order (the simulator's millions of latencies) are not copied or sorted again.
 */
export function summarizeLatency(values: ArrayLike<number>, digits = 2): LatencySummary {
  const n = values.length;
  if (n === 0) return { p50: NaN, p95: NaN, p99: NaN, mean: NaN, max: NaN };
  const scale = 10 ** digits;
  const round = (x: number) => Math.round(x * scale) / scale;
  const sorted = ascending(values);
  // summed in the order given, not the sorted one: a mean's last bit depends on the order, and the figures already
  // recorded (bench results, simulated reports) were summed in their callers' order
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i] as number;
  return {
    p50: round(interpolated(sorted, 0.5)),
    p95: round(interpolated(sorted, 0.95)),
    p99: round(interpolated(sorted, 0.99)),
    mean: round(sum / n),
    max: round(sorted[n - 1] as number),
  };
}

/** `values` in ascending order: themselves when they already are, else a sorted copy. */
function ascending(values: ArrayLike<number>): ArrayLike<number> {
  for (let i = 1; i < values.length; i++) {
    if ((values[i - 1] as number) > (values[i] as number)) return Float64Array.from(values).sort();
  }
  return values;
}

/** Deterministic PRNG (mulberry32) for reproducible sampling; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct indices of 0..size-1 in a seeded random order (n capped at size). */
export function sampleIndices(size: number, n: number, seed: number): number[] {
  const idx = Array.from({ length: size }, (_, i) => i);
  const rnd = seededRandom(seed);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx.slice(0, Math.min(n, size));
}
