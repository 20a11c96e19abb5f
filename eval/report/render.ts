/**
 * Writes a comparison report directory (`serflow sim`, `serflow bench`): the figures and series as JSON
 * (`report.json`, `series.json`, see ./types.ts), four SVG plots readable without the JSON, and a summary page
 * (`index.md`, `index.html`) that ties them together.
 *
 * The plots are Vega-Lite specs compiled to Vega and rendered to SVG on the server (`renderer: 'none'`, no canvas).
 * Vega 6 and Vega-Lite 6 are ESM-only, and `require()` of them fails even on Node ≥ 20.19 (which can `require()` ESM):
 * vega-canvas holds a top-level `await import('canvas')`, and Node refuses to `require()` an ESM graph with a top-level
 * await (ERR_REQUIRE_ASYNC_MODULE). A real dynamic `import()` is needed, but tsc (`module: commonjs`) rewrites
 * `import()` into `require()`, so `importEsm` below hides the `import()` in a Function body that tsc does not see.
 * Only the types are imported statically (`import type`, erased). Vega-Lite's types are reached through
 * `vega-lite/build/index` because `moduleResolution: node` ignores the package's `exports` map.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Vega from 'vega';
import type * as VegaLite from 'vega-lite/build/index';
import type { TopLevelSpec } from 'vega-lite/build/index';
import type { ComparisonReport, ComparisonSeries, PolicyFigures } from './types';

/** The files of a report directory, in the order `writeReportDir` writes (and returns) them. */
export const REPORT_FILES = {
  report: 'report.json',
  series: 'series.json',
  costOverTime: 'cost-over-time.svg',
  vmsPerStage: 'vms-per-stage.svg',
  latencyCdf: 'latency-cdf.svg',
  arrivals: 'arrivals.svg',
  markdown: 'index.md',
  html: 'index.html',
} as const;

/**
 * Most points drawn per line. A plot is ~600 px wide, so more points add file size, not detail; the downsampling
 * keeps each bucket's minimum and maximum, so spikes (a burst of arrivals, a short-lived VM) survive.
 */
export const MAX_POINTS_PER_LINE = 1000;

/** Durations from this long on are plotted in hours, shorter ones in seconds. */
const HOURS_FROM_S = 2 * 3600;

/** Plot size, px (the plot area; axes, legend and title come on top). */
const PLOT_WIDTH = 600;
const PLOT_HEIGHT = 280;
/** One panel of vms-per-stage.svg, px; two panels a row. */
const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 130;
const PANEL_COLUMNS = 2;

/** Fixed colours for the known policies (Tableau 10), so a policy keeps its colour from one report to the next. */
const POLICY_COLORS: Record<string, string> = {
  serflow: '#e15759',
  libra: '#4e79a7',
  'faas-only': '#f28e2b',
  'vm-auto': '#59a14f',
  'vm-max': '#b07aa1',
  spock: '#76b7b2',
};
/** Colours for other policy names, in order. */
const SPARE_COLORS = ['#edc948', '#ff9da7', '#9c755f', '#bab0ac', '#17becf', '#7f7f7f'];

/** Shared look of the plots. */
const PLOT_CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  title: { anchor: 'start', fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555555', offset: 10 },
  axis: { labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
  header: { labelFontSize: 11, labelFontWeight: 'bold' },
  line: { strokeWidth: 1.5 },
} as const;

/**
 * Writes `report.json`, `series.json`, the four plots and `index.md` / `index.html` into `dir` (created if missing).
 * Returns the written paths, in the order of `REPORT_FILES`.
 */
export async function writeReportDir(
  dir: string,
  report: ComparisonReport,
  series: ComparisonSeries,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ctx = plotContext(report, series);
  const svgs = await Promise.all([
    renderSvg(costOverTimeSpec(ctx)),
    renderSvg(vmsPerStageSpec(ctx)),
    renderSvg(latencyCdfSpec(ctx)),
    renderSvg(arrivalsSpec(ctx)),
  ]);
  const doc = summaryDocument(report);
  const files: Array<[string, string]> = [
    [REPORT_FILES.report, JSON.stringify(report, null, 2) + '\n'],
    // compact: the series run to thousands of numbers, one a line when indented
    [REPORT_FILES.series, JSON.stringify(series) + '\n'],
    [REPORT_FILES.costOverTime, svgs[0]],
    [REPORT_FILES.vmsPerStage, svgs[1]],
    [REPORT_FILES.latencyCdf, svgs[2]],
    [REPORT_FILES.arrivals, svgs[3]],
    [REPORT_FILES.markdown, toMarkdown(doc)],
    [REPORT_FILES.html, toHtml(doc, summaryTitle(report))],
  ];
  const written: string[] = [];
  for (const [name, text] of files) {
    const file = path.join(dir, name);
    await writeFile(file, text, 'utf8');
    written.push(file);
  }
  return written;
}

// ---------------------------------------------------------------------------------------------------------------
// Number formatting

/** `n` with thousands separators (`12,345`), independent of the locale. */
function groupThousands(digits: string): string {
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
function formatPlain(x: number): string {
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
function formatRatio(r: number | null): string {
  if (r === null) return '—';
  if (!Number.isFinite(r)) return 'n/a';
  return `${r >= 100 ? r.toFixed(0) : r.toFixed(2)}×`;
}

/** A duration in the unit that reads best: "90 s", "45.0 min", "24.00 h". */
function formatDuration(s: number): string {
  if (s < 120) return `${formatPlain(s)} s`;
  if (s < HOURS_FROM_S) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

// ---------------------------------------------------------------------------------------------------------------
// Downsampling

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

// ---------------------------------------------------------------------------------------------------------------
// Plots

/** What every plot needs: the policies in order with their colours, the time unit, the run in words. */
interface PlotContext {
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

function plotContext(report: ComparisonReport, series: ComparisonSeries): PlotContext {
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

function formatCount(n: number): string {
  return Number.isFinite(n) ? groupThousands(Math.round(n).toString()) : 'n/a';
}

/**
 * The colour encoding every per-policy plot shares: legend titled "policy", fixed order and colours. `labels`
 * replaces a policy's legend label (the cost plot adds the total).
 */
function policyColor(ctx: PlotContext, labels?: Record<string, string>) {
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
function timeAxis(ctx: PlotContext) {
  return {
    field: 't',
    type: 'quantitative',
    title: ctx.timeTitle,
    scale: ctx.timeEnd > 0 ? { domain: [0, ctx.timeEnd], nice: false } : {},
  } as const;
}

/** The policies in drawing order: the first one (SERFLOW, as run first) last, so on top where lines coincide. */
function drawOrder(ctx: PlotContext): string[] {
  return [...ctx.policies].reverse();
}

/**
 * Rows `{ t, v }` of one series against `timeS`, downsampled; `t` in the plot's time unit. A minimum and a maximum
 * per pixel column is all a plot `widthPx` wide can show, so no more than 2 × widthPx points are kept.
 */
function timeRows(ctx: PlotContext, values: readonly number[], widthPx = PLOT_WIDTH): Array<{ t: number; v: number }> {
  const n = Math.min(values.length, ctx.series.timeS.length);
  const clipped = values.length > n ? values.slice(0, n) : values;
  return downsampleIndices(clipped, Math.min(MAX_POINTS_PER_LINE, 2 * widthPx)).map((i) => ({
    t: (ctx.series.timeS[i] ?? 0) / ctx.timeDiv,
    v: clipped[i] ?? 0,
  }));
}

function costOverTimeSpec(ctx: PlotContext): TopLevelSpec {
  const rows = drawOrder(ctx).flatMap((policy) =>
    timeRows(ctx, ctx.series.policies[policy]?.cumulativeUsd ?? []).map((r) => ({ policy, ...r })),
  );
  // the legend tells the totals, which a linear axis cannot show for both $0.0005 and $365
  const totals = Object.fromEntries(
    ctx.policies.map((p) => {
      const total = ctx.report.policies[p]?.totalUsd ?? ctx.series.policies[p]?.cumulativeUsd.at(-1);
      return [p, total !== undefined ? `${p}  ${formatUsd(total)}` : p];
    }),
  );
  return {
    title: { text: 'Cumulative cost per policy (legend: total)', subtitle: ctx.subtitle },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    config: PLOT_CONFIG,
    data: { values: rows },
    mark: { type: 'line' },
    encoding: {
      x: timeAxis(ctx),
      y: { field: 'v', type: 'quantitative', title: 'cumulative cost (USD)' },
      color: policyColor(ctx, totals),
    },
  };
}

/** Pool keys in numeric order ('0' first), without the pools that are zero throughout for every policy. */
function activePools(ctx: PlotContext): string[] {
  const pools = new Set<string>();
  for (const policy of ctx.policies) {
    for (const [pool, values] of Object.entries(ctx.series.policies[policy]?.vmsByPool ?? {})) {
      if (values.some((v) => v !== 0)) pools.add(pool);
    }
  }
  return [...pools].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
}

function poolLabel(pool: string): string {
  return pool === '0' ? 'pool 0: whole-model VMs' : `pool ${pool}: stage ${pool} VMs`;
}

function vmsPerStageSpec(ctx: PlotContext): TopLevelSpec {
  const pools = activePools(ctx);
  const title = { text: 'VMs alive per pool', subtitle: ctx.subtitle };
  if (pools.length === 0) {
    return {
      title,
      width: PLOT_WIDTH,
      height: 60,
      config: PLOT_CONFIG,
      data: { values: [{ text: 'No policy had a VM alive in any pool.' }] },
      mark: { type: 'text', fontSize: 13, align: 'left', x: 0, y: 30 },
      encoding: { text: { field: 'text', type: 'nominal' } },
    };
  }
  const rows = drawOrder(ctx).flatMap((policy) =>
    pools.flatMap((pool) => {
      const values = ctx.series.policies[policy]?.vmsByPool[pool];
      return values === undefined
        ? []
        : timeRows(ctx, values, PANEL_WIDTH).map((r) => ({ policy, panel: poolLabel(pool), ...r }));
    }),
  );
  return {
    title,
    config: PLOT_CONFIG,
    data: { values: rows },
    columns: Math.min(PANEL_COLUMNS, pools.length),
    facet: { field: 'panel', type: 'nominal', sort: pools.map(poolLabel), title: null },
    spec: {
      width: PANEL_WIDTH,
      height: PANEL_HEIGHT,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: timeAxis(ctx),
        y: { field: 'v', type: 'quantitative', title: 'VMs alive', axis: { tickMinStep: 1 } },
        color: policyColor(ctx),
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

function latencyCdfSpec(ctx: PlotContext): TopLevelSpec {
  const sloMs = ctx.report.sloMs;
  const rows = drawOrder(ctx).flatMap((policy) => {
    // a log axis has no place for 0 ms
    const cdf = (ctx.series.policies[policy]?.latencyCdf ?? []).filter(([ms]) => ms > 0);
    return downsampleIndices(cdf.map(([ms]) => ms)).map((i) => {
      const [ms, share] = cdf[i] ?? [0, 0];
      return { policy, ms, share };
    });
  });
  return {
    title: { text: 'Latency CDF of the completed queries', subtitle: ctx.subtitle },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    config: PLOT_CONFIG,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
          y: {
            field: 'share',
            type: 'quantitative',
            title: 'completed queries at or below (%)',
            scale: { domain: [0, 1] },
            axis: { format: '.0%' },
          },
          color: policyColor(ctx),
        },
      },
      // a layer draws one mark per data row, and has none of its own without `data`
      {
        data: { values: [{ sloMs }] },
        mark: { type: 'rule', color: '#333333', strokeDash: [5, 4] },
        encoding: { x: { field: 'sloMs', type: 'quantitative' } },
      },
      {
        data: { values: [{ sloMs }] },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontSize: 11, color: '#333333' },
        encoding: {
          x: { field: 'sloMs', type: 'quantitative' },
          y: { value: 0 },
          text: { value: `SLO ${formatPlain(sloMs)} ms` },
        },
      },
    ],
  };
}

/** Legend entries of arrivals.svg. */
const ARRIVALS = 'arrivals (per step)';
const ESTIMATE = 'estimated rate (EWMA mean)';
const BAND = 'estimate band: mean to mean + z·dev';

function arrivalsSpec(ctx: PlotContext): TopLevelSpec {
  const { series } = ctx;
  const from = series.policies.serflow?.estimatedRate
    ? 'serflow'
    : ctx.policies.find((p) => series.policies[p]?.estimatedRate !== undefined);
  const estimate = from !== undefined ? series.policies[from]?.estimatedRate : undefined;
  const lines = timeRows(ctx, series.arrivalRate).map((r) => ({ series: ARRIVALS, ...r }));
  const layer: NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']> = [];
  const domain = [ARRIVALS];
  const range = ['#4e79a7'];
  if (estimate !== undefined) {
    lines.push(...timeRows(ctx, estimate.mean).map((r) => ({ series: ESTIMATE, ...r })));
    const n = Math.min(estimate.mean.length, estimate.upper.length, series.timeS.length);
    // the band's outline is its upper edge: downsample on it (the mean is drawn, and downsampled, as its own line)
    const band = downsampleIndices(estimate.upper.slice(0, n)).map((i) => ({
      t: (series.timeS[i] ?? 0) / ctx.timeDiv,
      lo: estimate.mean[i] ?? 0,
      hi: estimate.upper[i] ?? 0,
      series: BAND,
    }));
    layer.push({
      data: { values: band },
      mark: { type: 'area', opacity: 0.3 },
      encoding: {
        x: timeAxis(ctx),
        y: { field: 'lo', type: 'quantitative', title: 'arrival rate (q/s)' },
        y2: { field: 'hi' },
      },
    });
    domain.push(ESTIMATE, BAND);
    range.push('#e15759', '#f28e2b');
  }
  layer.push({
    data: { values: lines },
    mark: { type: 'line' },
    encoding: {
      x: timeAxis(ctx),
      y: { field: 'v', type: 'quantitative', title: 'arrival rate (q/s)' },
    },
  });
  const t = ctx.report.trace;
  const subtitle = [
    ...ctx.subtitle,
    `mean ${formatPlain(t.meanRate)} q/s, peak ${formatPlain(t.peakRate)} q/s` +
      (from !== undefined ? ` · estimate of policy ${from}` : ' · no policy recorded a rate estimate'),
  ];
  return {
    title: { text: 'Arrival rate', subtitle },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    config: PLOT_CONFIG,
    resolve: { scale: { color: 'shared' } },
    encoding: {
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain, range },
        sort: domain,
        legend: { symbolType: 'stroke', symbolStrokeWidth: 4, symbolOpacity: 1 },
      },
    },
    layer,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Vega

interface PlotLibraries {
  vega: typeof Vega;
  vegaLite: typeof VegaLite;
}

/**
 * Node's own `import()`. tsc (module: commonjs) compiles `import(x)` to `require(x)`, which cannot load Vega (see the
 * file comment); code in a Function body is not compiled, so this stays a real dynamic import.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- a constant body, not eval of data (see above)
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** The package's entry as a file URL, resolved from this module like a `require` of it, so the cwd does not matter. */
function entryUrl(name: string): string {
  return pathToFileURL(require.resolve(name)).href;
}

let libraries: Promise<PlotLibraries> | undefined;

/** Loads Vega and Vega-Lite once per process (~150 ms). */
function loadPlotLibraries(): Promise<PlotLibraries> {
  libraries ??= Promise.all([importEsm(entryUrl('vega')), importEsm(entryUrl('vega-lite'))]).then(
    ([vega, vegaLite]) => ({ vega: vega as typeof Vega, vegaLite: vegaLite as typeof VegaLite }),
    (err: unknown) => {
      libraries = undefined;
      throw new Error('cannot load the plotting libraries vega and vega-lite', { cause: err });
    },
  );
  return libraries;
}

/** Compiles a Vega-Lite spec and renders it to an SVG document (a string starting with `<svg`). */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite } = await loadPlotLibraries();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return (await view.toSVG()) + '\n';
  } finally {
    view.finalize();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Summary page: one document model, rendered as Markdown and as HTML

interface ListItem {
  /** Shown in bold before the text. */
  label?: string;
  text: string;
}

type Block =
  | { type: 'heading'; level: 1 | 2 | 3; text: string }
  | { type: 'paragraph'; text: string }
  | { type: 'list'; items: ListItem[] }
  | { type: 'table'; header: string[]; numeric: boolean[]; rows: string[][] }
  | { type: 'code'; text: string }
  | { type: 'image'; src: string; alt: string };

function summaryTitle(r: ComparisonReport): string {
  return `SERFLOW comparison (${r.kind === 'sim' ? 'simulation' : 'live replay'}): ${r.trace.name}, SLO ${formatPlain(r.sloMs)} ms`;
}

const TABLE_HEADER = [
  'policy',
  'total $',
  'VM $',
  'serverless $',
  '$/1k queries',
  'SLO attainment',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'VM-hours',
  'VM idle',
  'serverless executions',
  '× SERFLOW',
  '× bound',
];

function policyRow(p: PolicyFigures): string[] {
  return [
    p.policy,
    formatUsd(p.totalUsd),
    formatUsd(p.vmUsd),
    formatUsd(p.serverlessUsd),
    formatUsd(p.usdPer1kQueries),
    formatPercent(p.sloAttainment, 2),
    formatNumber(p.latencyMs.p50),
    formatNumber(p.latencyMs.p95),
    formatNumber(p.latencyMs.p99),
    formatNumber(p.vmHours),
    formatPercent(p.vmIdleShare),
    formatPercent(p.serverlessExecutionShare),
    formatRatio(p.costRatioToSerflow),
    formatRatio(p.costRatioToBound),
  ];
}

function summaryDocument(r: ComparisonReport): Block[] {
  const t = r.trace;
  const policies = Object.entries(r.policies).map(([name, p]) => ({ ...p, policy: p.policy || name }));
  const blocks: Block[] = [
    { type: 'heading', level: 1, text: summaryTitle(r) },
    {
      type: 'list',
      items: [
        {
          label: 'Trace',
          text:
            `${t.name} (${t.source}), rate factor ×${formatPlain(t.rateFactor)}, window ${formatPlain(t.startS)}–` +
            `${formatPlain(t.startS + t.durationS)} s (${formatDuration(t.durationS)}), ${formatCount(t.queries)} queries, ` +
            `mean ${formatPlain(t.meanRate)} q/s, peak ${formatPlain(t.peakRate)} q/s`,
        },
        { label: 'Model', text: r.model },
        { label: 'Preset', text: r.preset ?? 'none' },
        { label: 'SLO', text: `${formatPlain(r.sloMs)} ms` },
        { label: 'Seed', text: String(r.seed) },
        ...(r.timeScale !== 1 ? [{ label: 'Time scale', text: `${formatPlain(r.timeScale)} s cloud time per s` }] : []),
        { label: 'Created', text: r.createdAt },
      ],
    },
    { type: 'paragraph', text: 'Command:' },
    { type: 'code', text: r.command },
    { type: 'heading', level: 2, text: 'Comparison' },
    {
      type: 'paragraph',
      text:
        'Costs in USD of cloud time. SLO attainment counts failed queries as violations; latencies are of the ' +
        'completed queries. VM idle: share of billed VM time with no execution running. × SERFLOW and × bound: total ' +
        'cost over SERFLOW’s and over the clairvoyant lower bound.',
    },
    {
      type: 'table',
      header: TABLE_HEADER,
      numeric: TABLE_HEADER.map((_, i) => i > 0),
      rows: policies.map(policyRow),
    },
  ];
  const notes = policies.flatMap((p) => p.notes.map((text) => ({ label: p.policy, text })));
  if (notes.length > 0)
    blocks.push({ type: 'heading', level: 3, text: 'Policy notes' }, { type: 'list', items: notes });

  blocks.push({ type: 'heading', level: 2, text: 'Clairvoyant lower bound' });
  if (r.bound === null) {
    blocks.push({ type: 'paragraph', text: 'No bound was computed for this run.' });
  } else {
    const b = r.bound;
    blocks.push({
      type: 'paragraph',
      text:
        `${formatUsd(b.totalUsd)} (VM ${formatUsd(b.vmUsd)}, serverless ${formatUsd(b.serverlessUsd)}; ` +
        `${formatNumber(b.vmSeconds)} VM-seconds). It assumes:`,
    });
    blocks.push({ type: 'list', items: b.assumptions.map((text) => ({ text })) });
  }

  blocks.push({ type: 'heading', level: 2, text: 'Targets' });
  blocks.push(
    r.targets.length === 0
      ? { type: 'paragraph', text: 'No targets were checked.' }
      : {
          type: 'list',
          items: r.targets.map((x) => ({ label: x.met ? 'met' : 'NOT met', text: `${x.name}: ${x.detail}` })),
        },
  );

  if (r.notes.length > 0) {
    blocks.push(
      { type: 'heading', level: 2, text: 'Notes' },
      { type: 'list', items: r.notes.map((text) => ({ text })) },
    );
  }

  blocks.push(
    { type: 'heading', level: 2, text: 'Plots' },
    { type: 'image', src: REPORT_FILES.costOverTime, alt: 'Cumulative cost (USD) over time per policy' },
    { type: 'image', src: REPORT_FILES.vmsPerStage, alt: 'VMs alive over time per pool and policy' },
    { type: 'image', src: REPORT_FILES.latencyCdf, alt: 'Latency CDF per policy, with the SLO' },
    { type: 'image', src: REPORT_FILES.arrivals, alt: 'Arrival rate (q/s) and the estimated rate over time' },
  );
  return blocks;
}

/** Escapes what Markdown (and the HTML it lets through) would read as markup. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

function toMarkdown(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${escapeMarkdown(b.text)}`);
        break;
      case 'paragraph':
        out.push(escapeMarkdown(b.text));
        break;
      case 'list':
        out.push(
          b.items
            .map((x) => `- ${x.label !== undefined ? `**${escapeMarkdown(x.label)}**: ` : ''}${escapeMarkdown(x.text)}`)
            .join('\n'),
        );
        break;
      case 'table': {
        const row = (cells: string[]) => `| ${cells.map(escapeMarkdown).join(' | ')} |`;
        const rule = `|${b.numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`;
        out.push([row(b.header), rule, ...b.rows.map(row)].join('\n'));
        break;
      }
      case 'code': {
        // a fence longer than any backtick run in the text
        const fence = '`'.repeat(Math.max(3, ...(b.text.match(/`+/g) ?? []).map((s) => s.length + 1)));
        out.push(`${fence}\n${b.text}\n${fence}`);
        break;
      }
      case 'image':
        out.push(`![${escapeMarkdown(b.alt)}](${b.src})`);
        break;
    }
  }
  return out.join('\n\n') + '\n';
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const HTML_STYLE = `
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
img { display: block; max-width: 100%; margin: 1em 0; }
`;

function toHtml(blocks: Block[], title: string): string {
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'heading':
        body.push(`<h${b.level}>${escapeHtml(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        body.push(`<p>${escapeHtml(b.text)}</p>`);
        break;
      case 'list':
        body.push(
          '<ul>\n' +
            b.items
              .map(
                (x) =>
                  `<li>${x.label !== undefined ? `<strong>${escapeHtml(x.label)}</strong>: ` : ''}${escapeHtml(x.text)}</li>`,
              )
              .join('\n') +
            '\n</ul>',
        );
        break;
      case 'table': {
        const cls = (i: number) => (b.numeric[i] ? ' class="num"' : '');
        const head = `<tr>${b.header.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join('')}</tr>`;
        const rows = b.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${escapeHtml(c)}</td>`).join('')}</tr>`);
        body.push(`<table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`);
        break;
      }
      case 'code':
        body.push(`<pre><code>${escapeHtml(b.text)}</code></pre>`);
        break;
      case 'image':
        body.push(`<img src="${escapeHtml(b.src)}" alt="${escapeHtml(b.alt)}">`);
        break;
    }
  }
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${HTML_STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
