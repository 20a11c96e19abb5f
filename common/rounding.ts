/**
 * Float-tolerant rounding to whole units, shared by billing (billed seconds, granularity units) and the policies
 * (VM counts): a value within ROUNDING_TOLERANCE of a whole number is taken as that number before floor/ceil.
 * Without it, float noise (0.1 × 3 = 0.30000000000000004 s, 0.1 × 30 = 3.0000000000000004 VMs) would bill one unit
 * more or buy one VM more or less. 1e-9 is far below a nanosecond of billing or a thousandth of a VM.
 */
export const ROUNDING_TOLERANCE = 1e-9;

/** Smallest whole number >= x, ignoring float noise below ROUNDING_TOLERANCE. */
export function ceilTolerant(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= ROUNDING_TOLERANCE ? r : Math.ceil(x);
}

/** Largest whole number <= x, ignoring float noise below ROUNDING_TOLERANCE. */
export function floorTolerant(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= ROUNDING_TOLERANCE ? r : Math.floor(x);
}
