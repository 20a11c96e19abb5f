/**
 * Rate statistics of the control plane: an exponentially weighted mean of a per-epoch sample (queries/s at one
 * stage) and of its deviation. Pure: the state is plain data, every function takes it (and `now`) and returns the
 * next state; nothing reads a clock.
 *
 * Two deviations are offered (method.md, "Online estimation per stage"):
 *
 * - `'libra'` (the default, exactly as LIBRA's authors' simulator does it): an exponentially weighted mean
 *   absolute deviation that uses the OLD mean.
 *   ```
 *   first sample: mean = x;  dev = 0
 *   otherwise:    dev  = (1 − mu) · dev + mu · |mean − x|      (old mean)
 *                 mean = (1 − alpha) · mean + alpha · x
 *   ```
 *   Worked example, alpha = mu = 0.2, x = 10, 20, 20, 5:
 *   - x = 10: mean 10, dev 0;
 *   - x = 20: dev = 0.8·0 + 0.2·|10 − 20| = 2;      mean = 0.8·10 + 0.2·20 = 12;
 *   - x = 20: dev = 0.8·2 + 0.2·|12 − 20| = 3.2;    mean = 0.8·12 + 0.2·20 = 13.6;
 *   - x = 5:  dev = 0.8·3.2 + 0.2·|13.6 − 5| = 4.28; mean = 0.8·13.6 + 0.2·5 = 11.88.
 *
 * - `'ewstd'`: a true exponentially weighted standard deviation, the incremental form of Finch (2009),
 *   "Incremental calculation of weighted mean and variance", with the variance weighted by `mu`:
 *   ```
 *   first sample: mean = x;  variance = 0
 *   otherwise:    d = x − mean                                   (old mean)
 *                 variance = (1 − mu) · (variance + mu · d²)
 *                 mean     = mean + alpha · d                     (= (1 − alpha) · mean + alpha · x)
 *                 dev      = sqrt(variance)
 *   ```
 *   With mu = alpha this is exactly the exponentially weighted variance around the exponentially weighted mean.
 *   Worked example, alpha = mu = 0.2, x = 10, 20, 20, 5:
 *   - x = 10: mean 10, variance 0, dev 0;
 *   - x = 20: d = 10;   variance = 0.8·(0 + 0.2·100) = 16;          dev 4;      mean 12;
 *   - x = 20: d = 8;    variance = 0.8·(16 + 0.2·64) = 23.04;       dev 4.8;    mean 13.6;
 *   - x = 5:  d = −8.6; variance = 0.8·(23.04 + 0.2·73.96) = 30.2656; dev ≈ 5.5014; mean 11.88.
 *   On this sequence the true std reacts more strongly to the jumps (5.50 vs 4.28 at the end).
 */

/** Which deviation the estimator keeps (see the module comment). */
export type DeviationKind = 'libra' | 'ewstd';
export const DEVIATION_KINDS: readonly DeviationKind[] = ['libra', 'ewstd'];

/** Smoothing parameters. LIBRA: alpha = mu = 0.2 and the 'libra' deviation. */
export interface EwmaParams {
  /** Weight of the newest sample in the mean, in (0, 1]. */
  alpha: number;
  /** Weight of the newest sample in the deviation (or variance), in (0, 1]. */
  mu: number;
  deviation: DeviationKind;
}

/** State of one estimator; plain data (serialisable as JSON). */
export interface EwmaState {
  /** Samples folded in so far (0 = empty: mean and dev are meaningless). */
  n: number;
  mean: number;
  /** The deviation in use: LIBRA's mean absolute deviation, or sqrt(variance) for 'ewstd'. */
  dev: number;
  /** Exponentially weighted variance ('ewstd' only; 0 for 'libra'). */
  variance: number;
  /** `now` of the latest sample (ms), for diagnostics; undefined while empty. */
  updatedAt?: number;
}

/** An estimator with no samples. */
export function emptyEwma(): EwmaState {
  return { n: 0, mean: 0, dev: 0, variance: 0 };
}

/** Fold the sample `x` taken at `now` into `state`; returns the new state (the input is not changed). */
export function ewmaRecord(state: EwmaState, now: number, x: number, params: EwmaParams): EwmaState {
  if (state.n === 0) return { n: 1, mean: x, dev: 0, variance: 0, updatedAt: now };
  const { alpha, mu } = params;
  const mean = (1 - alpha) * state.mean + alpha * x;
  if (params.deviation === 'libra') {
    const dev = (1 - mu) * state.dev + mu * Math.abs(state.mean - x);
    return { n: state.n + 1, mean, dev, variance: 0, updatedAt: now };
  }
  const d = x - state.mean;
  const variance = (1 - mu) * (state.variance + mu * d * d);
  return { n: state.n + 1, mean, dev: Math.sqrt(variance), variance, updatedAt: now };
}

/** `mean + z · dev`: the provisioning share (LIBRA's `vm_share` before truncation, SERFLOW's `share_k`). */
export function ewmaUpper(state: EwmaState, z: number): number {
  return state.mean + z * state.dev;
}

/**
 * Whether `x` is a burst against the estimator as it stood BEFORE `x` is folded in: `x > mean + z · dev`.
 * An empty estimator sees no burst (it has nothing to compare with).
 */
export function isBurst(before: EwmaState, x: number, z: number): boolean {
  return before.n > 0 && x > ewmaUpper(before, z);
}

/** Queries per second from a count over a window of `windowMs`; undefined for an empty window (no rate). */
export function ratePerSecond(count: number, windowMs: number): number | undefined {
  return windowMs > 0 ? count / (windowMs / 1000) : undefined;
}
