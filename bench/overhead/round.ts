/** How the overhead benchmark rounds the figures it writes. */

/** Figures in the JSON: `d` decimals, null when not finite (no value measured). */
export const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
