/** Downsampling of the plotted lines: a plot shows no more than its pixels, spikes included. Pure. */

/**
 * Most points drawn per line. A plot is ~600 px wide, so more points add file size, not detail; the downsampling
 * keeps each bucket's minimum and maximum, so spikes (a burst of arrivals, a short-lived VM) survive.
 */
export const MAX_POINTS_PER_LINE = 1000;

/**
 * Indices of `values` worth drawing: drops the points inside a run of equal values (exact for a step line, and for a
 * straight one too as a flat run draws the same), then, if more than `maxPoints` remain, keeps the first and last and,
 * per bucket of the rest, the minimum and the maximum in index order. Returns increasing indices.
 */
export function downsampleIndices(values: readonly number[], maxPoints = MAX_POINTS_PER_LINE): number[] {
  const n = values.length;
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (i === 0 || i === n - 1 || v !== values[i - 1] || v !== values[i + 1]) kept.push(i);
  }
  if (kept.length <= maxPoints) return kept;
  const first = kept[0] ?? 0;
  const last = kept[kept.length - 1] ?? 0;
  const inner = kept.slice(1, -1);
  const buckets = Math.max(1, Math.floor((maxPoints - 2) / 2));
  const out = [first];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * inner.length) / buckets);
    const hi = Math.floor(((b + 1) * inner.length) / buckets);
    if (hi <= lo) continue;
    let iMin = inner[lo] ?? 0;
    let iMax = iMin;
    for (let j = lo; j < hi; j++) {
      const i = inner[j] ?? 0;
      if ((values[i] ?? 0) < (values[iMin] ?? 0)) iMin = i;
      if ((values[i] ?? 0) > (values[iMax] ?? 0)) iMax = i;
    }
    out.push(Math.min(iMin, iMax));
    if (iMax !== iMin) out.push(Math.max(iMin, iMax));
  }
  out.push(last);
  return out;
}
