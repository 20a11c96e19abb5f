/** The four plots of a report as Vega-Lite specs: cost over time, VMs per pool, latency CDF, arrival rate. Pure. */
import type { TopLevelSpec } from 'vega-lite/build/index';
import { PANEL_COLUMNS, PANEL_HEIGHT, PANEL_WIDTH, PLOT_CONFIG, PLOT_HEIGHT, PLOT_WIDTH } from './chart-style';
import { downsampleIndices } from './downsample';
import { formatPlain, formatUsd } from './format';
import { drawOrder, policyColor, timeAxis, timeRows, type PlotContext } from './plot-context';

export function costOverTimeSpec(ctx: PlotContext): TopLevelSpec {
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

export function vmsPerStageSpec(ctx: PlotContext): TopLevelSpec {
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

export function latencyCdfSpec(ctx: PlotContext): TopLevelSpec {
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

export function arrivalsSpec(ctx: PlotContext): TopLevelSpec {
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
