/**
 * The time axis every report's series share (`serflow sim` and `serflow bench`), so a simulated and a live run of the
 * same trace are sampled alike and their series.json line up. Pure.
 */

/** About this many samples per time series: enough for a smooth plot, small enough for series.json. */
export const SERIES_POINTS = 600;

/** Series step, trace seconds: about SERIES_POINTS samples over the window, whole seconds (at least 1 s). */
export function seriesStepS(durationS: number): number {
  return Math.max(1, Math.round(durationS / SERIES_POINTS));
}
