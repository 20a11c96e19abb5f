/**
 * Exits in the simulator: per stage, the probability that a query which reached the stage exits there, from the
 * exit shares q_k in force (the profile's, or a drift schedule's): `q_k / p_k` with `p_k = 1 − (q_1 + … + q_{k−1})`.
 * The last stage always exits (a query no exit is confident about ends there, as in the workflow).
 */
import { seededRandom } from '../common/stats';

/** Conditional exit probabilities from a segment start on. */
export interface ExitSegment {
  fromMs: number;
  /** exitProbability[k] for stage index k (0-based); the last is 1. */
  exitProbability: Float64Array;
}

/** Conditional exit probabilities from exit shares (any non-negative numbers; normalised here). */
export function conditionalExits(exitShares: readonly number[]): Float64Array {
  const total = exitShares.reduce((s, x) => s + x, 0);
  if (!(total > 0) || exitShares.some((x) => !(x >= 0))) {
    throw new RangeError(`exit shares must be >= 0 with a positive sum, got ${exitShares.join(', ')}`);
  }
  const out = new Float64Array(exitShares.length);
  let reach = 1;
  exitShares.forEach((x, k) => {
    const q = x / total;
    out[k] = k === exitShares.length - 1 || reach <= 1e-12 ? 1 : Math.min(1, q / reach);
    reach -= q;
  });
  return out;
}

/** Reach probabilities p_k of exit shares q_k (normalised). */
export function reachOf(exitShares: readonly number[]): number[] {
  const total = exitShares.reduce((s, x) => s + x, 0);
  let reach = 1;
  return exitShares.map((x) => {
    const p = reach;
    reach -= x / total;
    return Math.max(0, p);
  });
}

/** The segment in force at `tMs` (segments sorted by `fromMs`, the first from 0). */
export function segmentAt(segments: readonly ExitSegment[], tMs: number): ExitSegment {
  let found = segments[0] as ExitSegment;
  for (const s of segments) {
    if (s.fromMs <= tMs) found = s;
    else break;
  }
  return found;
}

/**
 * The exit stage (0-based) of every query, drawn from the segment in force at its arrival with its own seeded
 * stream, independent of any policy: the same trace and seed give the same exits in every run.
 */
export function drawExitStages(arrivalsMs: Float64Array, segments: readonly ExitSegment[], seed: number): Int8Array {
  const rnd = seededRandom(seed ^ EXIT_STREAM_SALT);
  const out = new Int8Array(arrivalsMs.length);
  let seg = 0;
  for (let q = 0; q < arrivalsMs.length; q++) {
    const t = arrivalsMs[q] as number;
    while (seg + 1 < segments.length && (segments[seg + 1] as ExitSegment).fromMs <= t) seg++;
    const p = (segments[seg] as ExitSegment).exitProbability;
    let k = 0;
    while (k < p.length - 1 && rnd() >= (p[k] as number)) k++;
    out[q] = k;
  }
  return out;
}

/** Keeps the exit draws' stream apart from the simulator's other draws for the same seed. */
const EXIT_STREAM_SALT = 0x5eed_e417;
