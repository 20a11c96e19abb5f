/**
 * Number formatting of the report (summary page, plot legends and subtitles, the CLI's comparison table):
 * independent of the locale, so a report reads the same on every machine. Pure.
 */

/** Durations from this long on are plotted in hours, shorter ones in seconds. */
export const HOURS_FROM_S = 2 * 3600;

/** `n` with thousands separators (`12,345`), independent of the locale. */
export function groupThousands(digits: string): string {
  const [int = '', frac] = digits.split('.');
  const sign = int.startsWith('-') ? '-' : '';
  const grouped = int.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + grouped + (frac !== undefined ? `.${frac}` : '');
}

/**
 * `x` to `digits` significant digits without exponent notation: 3.4321 → "3.43", 0.000471 → "0.000471",
 * 12345.6 → "12,346" (never rounds an integer part away). "n/a" when not finite.
 */
export function formatNumber(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x === 0) return '0';
  // the magnitude after rounding, so 9.996 gives "10.0", not "10.00"
  const magnitude = Math.floor(Math.log10(Number(Math.abs(x).toPrecision(digits))));
  const decimals = Math.min(12, Math.max(0, digits - 1 - magnitude));
  return groupThousands(x.toFixed(decimals));
}

/** `formatNumber` without trailing zeros, for the facts of the run: 2 → "2", 12.50 → "12.5". */
export function formatPlain(x: number): string {
  const text = formatNumber(x);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/**
 * Money in USD: cents from $1 up ("$365.00", "$1,234.50"), up to three significant digits below ("$0.000471",
 * "$0.0123", "$0.50").
 */
export function formatUsd(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  if (a === 0) return '$0.00';
  if (Number(a.toPrecision(3)) >= 1) return `${sign}$${groupThousands(a.toFixed(2))}`;
  if (a < 1e-9) return `${sign}$${a.toExponential(2)}`;
  // trailing zeros past the cents say nothing: $0.50, $0.0003
  return `${sign}$${formatNumber(a, 3).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}

/** A share (0..1) as a percentage: 0.9987 → "99.87 %" with decimals = 2. */
export function formatPercent(share: number, decimals = 1): string {
  return Number.isFinite(share) ? `${(100 * share).toFixed(decimals)} %` : 'n/a';
}

/** A cost ratio: 1.234 → "1.23×"; null (not computed) → "—". */
export function formatRatio(r: number | null): string {
  if (r === null) return '—';
  if (!Number.isFinite(r)) return 'n/a';
  return `${r >= 100 ? r.toFixed(0) : r.toFixed(2)}×`;
}

/** A duration in the unit that reads best: "90 s", "45.0 min", "24.00 h". */
export function formatDuration(s: number): string {
  if (s < 120) return `${formatPlain(s)} s`;
  if (s < HOURS_FROM_S) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

/** A count with thousands separators, rounded to a whole number: 6432107 → "6,432,107". */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? groupThousands(Math.round(n).toString()) : 'n/a';
}
