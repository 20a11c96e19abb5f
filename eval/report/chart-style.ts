/**
 * The shared look of the report's plots (sizes, policy colours, fonts), also used by the benchmark charts
 * (bench/overhead, bench/serverless), so every chart of the project reads alike.
 */

/** Plot size, px (the plot area; axes, legend and title come on top). */
export const PLOT_WIDTH = 600;
export const PLOT_HEIGHT = 280;
/** One panel of vms-per-stage.svg, px; two panels a row. */
export const PANEL_WIDTH = 300;
export const PANEL_HEIGHT = 130;
export const PANEL_COLUMNS = 2;

/** Fixed colours for the known policies (Tableau 10), so a policy keeps its colour from one report to the next. */
export const POLICY_COLORS: Record<string, string> = {
  serflow: '#e15759',
  libra: '#4e79a7',
  'faas-only': '#f28e2b',
  'vm-auto': '#59a14f',
  'vm-max': '#b07aa1',
  spock: '#76b7b2',
};
/** Colours for other policy names, in order. */
export const SPARE_COLORS = ['#edc948', '#ff9da7', '#9c755f', '#bab0ac', '#17becf', '#7f7f7f'];

/** Shared look of the plots. */
export const PLOT_CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  title: { anchor: 'start', fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555555', offset: 10 },
  axis: { labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
  header: { labelFontSize: 11, labelFontWeight: 'bold' },
  line: { strokeWidth: 1.5 },
} as const;

/**
 * Gridlines of a log axis: the powers of ten from the one at or below the smallest positive value to the one at or
 * above the largest (at least two), so every bar and whisker falls inside and each line reads as a round number.
 */
export function logDecades(values: readonly number[]): number[] {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (positive.length === 0) return [1, 10];
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive))));
  // 1e-1 parsed, not 10 ** -1 computed, so each value is the exact decimal
  return Array.from({ length: hi - lo + 1 }, (_, i) => Number(`1e${lo + i}`));
}

/**
 * The y encoding of grouped bars of milliseconds on a log axis with gridlines at the powers of ten around
 * `values`. Bars of one group stand side by side (an xOffset), never stacked: a stack starts at 0, which a log
 * axis cannot show.
 */
export function logMsAxis(field: string, values: readonly number[]) {
  const ticks = logDecades(values);
  return {
    field,
    type: 'quantitative',
    title: 'ms (log scale)',
    scale: { type: 'log', domainMin: ticks[0], domainMax: ticks[ticks.length - 1], nice: false },
    axis: { values: ticks },
    stack: null,
  } as const;
}
