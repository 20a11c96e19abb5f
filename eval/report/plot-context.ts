/**
 * What every plot of a report needs (policies in order with their colours, the time axis, the run in words) and the
 * encodings they share. Pure.
 */
import { POLICY_COLORS, PLOT_WIDTH, SPARE_COLORS } from './chart-style';
import { downsampleIndices, MAX_POINTS_PER_LINE } from './downsample';
import { formatCount, formatPlain, HOURS_FROM_S } from './format';
import type { ComparisonReport, ComparisonSeries } from './types';

/** What every plot needs: the policies in order with their colours, the time unit, the run in words. */
export interface PlotContext {
  report: ComparisonReport;
  series: ComparisonSeries;
  policies: string[];
  colors: string[];
  /** Seconds per unit of the time axis (1 or 3600) and its title. */
  timeDiv: number;
  timeTitle: string;
  /** The time axis spans the window (or the samples, if they run past it), in its unit. */
  timeEnd: number;
  subtitle: string[];
}

export function plotContext(report: ComparisonReport, series: ComparisonSeries): PlotContext {
  const policies = [...new Set([...Object.keys(report.policies), ...Object.keys(series.policies)])];
  let spare = 0;
  const colors = policies.map((p) => POLICY_COLORS[p] ?? SPARE_COLORS[spare++ % SPARE_COLORS.length] ?? '#000000');
  const durationS = report.trace.durationS > 0 ? report.trace.durationS : (series.timeS[series.timeS.length - 1] ?? 0);
  const hours = durationS >= HOURS_FROM_S;
  return {
    report,
    series,
    policies,
    colors,
    timeDiv: hours ? 3600 : 1,
    timeTitle: hours ? 'time since window start (h)' : 'time since window start (s)',
    timeEnd: Math.max(durationS, series.timeS[series.timeS.length - 1] ?? 0) / (hours ? 3600 : 1),
    subtitle: runSubtitle(report),
  };
}

/** The run in two lines: trace, window, model; SLO, seed, preset. */
function runSubtitle(r: ComparisonReport): string[] {
  const t = r.trace;
  const kind = r.kind === 'sim' ? 'simulated' : 'live replay';
  return [
    `trace ${t.name} ×${formatPlain(t.rateFactor)}, ${formatPlain(t.startS)}–${formatPlain(t.startS + t.durationS)} s ` +
      `(${formatCount(t.queries)} queries, mean ${formatPlain(t.meanRate)} q/s) · model ${r.model} · ${kind}`,
    `SLO ${formatPlain(r.sloMs)} ms · seed ${r.seed}${r.preset !== null ? ` · preset ${r.preset}` : ''}`,
  ];
}

/**
 * The colour encoding every per-policy plot shares: legend titled "policy", fixed order and colours. `labels`
 * replaces a policy's legend label (the cost plot adds the total).
 */
export function policyColor(ctx: PlotContext, labels?: Record<string, string>) {
  return {
    field: 'policy',
    type: 'nominal',
    title: 'policy',
    scale: { domain: ctx.policies, range: ctx.colors },
    sort: ctx.policies,
    legend: {
      symbolType: 'stroke',
      symbolStrokeWidth: 3,
      ...(labels !== undefined ? { labelExpr: `${JSON.stringify(labels)}[datum.label] || datum.label` } : {}),
    },
  } as const;
}

/** The x encoding of the plots over time: exactly the window, not rounded up to a "nice" end. */
export function timeAxis(ctx: PlotContext) {
  return {
    field: 't',
    type: 'quantitative',
    title: ctx.timeTitle,
    scale: ctx.timeEnd > 0 ? { domain: [0, ctx.timeEnd], nice: false } : {},
  } as const;
}

/** The policies in drawing order: the first one (SERFLOW, as run first) last, so on top where lines coincide. */
export function drawOrder(ctx: PlotContext): string[] {
  return [...ctx.policies].reverse();
}

/**
 * Rows `{ t, v }` of one series against `timeS`, downsampled; `t` in the plot's time unit. A minimum and a maximum
 * per pixel column is all a plot `widthPx` wide can show, so no more than 2 × widthPx points are kept.
 */
export function timeRows(
  ctx: PlotContext,
  values: readonly number[],
  widthPx = PLOT_WIDTH,
): Array<{ t: number; v: number }> {
  const n = Math.min(values.length, ctx.series.timeS.length);
  const clipped = values.length > n ? values.slice(0, n) : values;
  return downsampleIndices(clipped, Math.min(MAX_POINTS_PER_LINE, 2 * widthPx)).map((i) => ({
    t: (ctx.series.timeS[i] ?? 0) / ctx.timeDiv,
    v: clipped[i] ?? 0,
  }));
}
