/**
 * The overhead benchmark's chart (`--svg`, bench/results/overhead.svg), drawn like the report's plots (Vega-Lite,
 * eval/report/): two panels side by side, latency p50/p95/p99 per query at concurrency 1 (direct path vs pipeline,
 * log scale) and sustained throughput per concurrency level with its p50 / p99 latency and the target.
 */
import type { TopLevelSpec } from 'vega-lite/build/index';
import type { NonNormalizedSpec } from 'vega-lite/build/spec/index';
import { logMsAxis, PLOT_CONFIG } from '../../eval/report/chart-style';
import { renderSvg } from '../../eval/report/vega';
import { TARGETS, type BenchReport } from './report';

/** One panel's plot area, px. */
const PANEL_WIDTH = 380;
const PANEL_HEIGHT = 300;
/** Colours of the percentiles (Tableau 10, as the report's plots). */
const PERCENTILE_COLORS = { p50: '#4e79a7', p95: '#f28e2b', p99: '#e15759' } as const;
const THROUGHPUT_COLOR = '#59a14f';
const TARGET_COLOR = '#e15759';

/** `, KEY=VALUE ...` for the --dynamic-config values of a run, or nothing. */
const dynamicConfigNote = (r: BenchReport) => {
  const kv = Object.entries(r.config.dynamicConfig).map(([k, v]) => `${k}=${String(v)}`);
  return kv.length ? `, ${kv.join(' ')}` : '';
};

/** Latency bars: the direct path and the pipeline, p50/p95/p99 side by side, on a log axis (they differ ~100×). */
function latencyPanel(r: BenchReport): NonNormalizedSpec {
  const percentiles = Object.keys(PERCENTILE_COLORS) as (keyof typeof PERCENTILE_COLORS)[];
  const paths = ['direct (in-process ONNX)', 'pipeline (Temporal)'];
  const rows = [r.direct.latencyMs, r.pipeline.latencyMs].flatMap((s, i) =>
    percentiles.map((p) => ({
      path: paths[i],
      percentile: p,
      ms: s[p],
      label: s[p] >= 10 ? s[p].toFixed(0) : s[p].toFixed(2),
    })),
  );
  const x = {
    field: 'path',
    type: 'nominal',
    sort: paths,
    title: null,
    axis: { labelAngle: 0, labelLimit: 0 },
  } as const;
  const y = logMsAxis(
    'ms',
    rows.map((row) => row.ms),
  );
  const xOffset = { field: 'percentile', type: 'nominal', sort: percentiles } as const;
  return {
    title: 'Latency per query, concurrency 1 (ms, log scale)',
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset,
          y,
          color: {
            field: 'percentile',
            type: 'nominal',
            title: null,
            sort: percentiles,
            scale: { domain: percentiles, range: percentiles.map((p) => PERCENTILE_COLORS[p]) },
            legend: { orient: 'bottom', direction: 'horizontal' },
          },
        },
      },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 10 },
        encoding: { x, xOffset, y, text: { field: 'label', type: 'nominal' } },
      },
    ],
  };
}

/** Throughput bars per concurrency level, each with its p50 / p99 latency, and the target as a dashed rule. */
function throughputPanel(r: BenchReport): NonNormalizedSpec {
  const rows = r.throughput.map((l) => ({
    level: `c=${l.concurrency}`,
    qps: l.qps,
    qpsLabel: `${l.qps} q/s`,
    latencyLabel: `p50 ${Math.round(l.latencyMs.p50)} / p99 ${Math.round(l.latencyMs.p99)} ms`,
  }));
  const levels = rows.map((row) => row.level);
  // room above the tallest bar (or the target) for its two labels
  const top = Math.max(TARGETS.throughputQps, ...r.throughput.map((l) => l.qps)) * 1.15;
  const x = { field: 'level', type: 'ordinal', sort: levels, title: 'concurrency', axis: { labelAngle: 0 } } as const;
  const y = { field: 'qps', type: 'quantitative', title: 'queries/s', scale: { domainMax: top } } as const;
  const target = { values: [{ qps: TARGETS.throughputQps, label: `target ${TARGETS.throughputQps} q/s` }] };
  return {
    title: 'Sustained throughput by concurrency (queries/s)',
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar', color: THROUGHPUT_COLOR, width: { band: 0.6 } },
        encoding: { x, y },
      },
      {
        data: { values: rows },
        mark: { type: 'text', baseline: 'bottom', dy: -16, fontSize: 11, fontWeight: 'bold' },
        encoding: { x, y, text: { field: 'qpsLabel', type: 'nominal' } },
      },
      {
        data: { values: rows },
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 9 },
        encoding: { x, y, text: { field: 'latencyLabel', type: 'nominal' } },
      },
      {
        data: target,
        mark: { type: 'rule', color: TARGET_COLOR, strokeDash: [6, 4] },
        encoding: { y: { field: 'qps', type: 'quantitative' } },
      },
      {
        data: target,
        mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, fontSize: 11, color: TARGET_COLOR },
        encoding: { x: { value: PANEL_WIDTH }, y: { field: 'qps', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

/** Step 5: per plan, latency p50 (c=1), throughput and CPU per query as multiples of the engine's floor. */
function floorPanel(r: BenchReport): NonNormalizedSpec | undefined {
  if (!r.plans?.length) return undefined;
  const measures = ['p50 latency', 'throughput', 'CPU per query'] as const;
  const rows = r.plans.flatMap((p) => [
    { plan: p.name, measure: measures[0], ratio: p.ratioToFloor?.p50 ?? null },
    { plan: p.name, measure: measures[1], ratio: p.ratioToFloor?.qps ?? null },
    { plan: p.name, measure: measures[2], ratio: p.ratioToFloor?.cpuPerQuery ?? null },
  ]);
  const x = {
    field: 'plan',
    type: 'nominal',
    sort: r.plans.map((p) => p.name),
    title: null,
    axis: { labelAngle: 0 },
  } as const;
  const y = { field: 'ratio', type: 'quantitative', title: 'multiple of the floor' } as const;
  const xOffset = { field: 'measure', type: 'nominal', sort: [...measures] } as const;
  const color = { field: 'measure', type: 'nominal', sort: [...measures], title: null } as const;
  return {
    title: `Against the engine's floor (${r.floor?.actionsPerQuery ?? '?'} actions, c=1 and c=${r.floor?.loaded.concurrency ?? '?'})`,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    layer: [
      { data: { values: rows }, mark: { type: 'bar' }, encoding: { x, xOffset, y, color } },
      {
        data: { values: rows },
        mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9 },
        encoding: { x, xOffset, y, text: { field: 'ratio', type: 'quantitative', format: '.2f' } },
      },
      {
        data: { values: [{ ratio: 1 }] },
        mark: { type: 'rule', color: TARGET_COLOR, strokeDash: [6, 4] },
        encoding: { y: { field: 'ratio', type: 'quantitative' } },
      },
    ],
  };
}

/** The chart as a Vega-Lite spec; what no panel draws (overhead per stage, loop delay, targets) in the subtitle. */
export function overheadChartSpec(r: BenchReport): TopLevelSpec {
  const met = (ok: boolean) => (ok ? 'MET' : 'NOT met');
  return {
    title: {
      text:
        `SERFLOW orchestration overhead: ${r.config.model}, ${r.machine.cpus} cores, ${r.timestamp.slice(0, 10)}` +
        dynamicConfigNote(r),
      subtitle: [
        `overhead per executed stage: p50 ${r.overheadPerStageMs.p50} ms, p95 ${r.overheadPerStageMs.p95} ms ` +
          `(target ${TARGETS.overheadPerStageP50Ms})`,
        `stage-worker event-loop delay, max p99 seen: ${r.eventLoopDelay.stageMaxP99Ms ?? '-'} ms`,
        `targets: overhead/stage p50 <= ${TARGETS.overheadPerStageP50Ms} ms ${met(r.targets.overheadMet)}; ` +
          `throughput >= ${TARGETS.throughputQps} q/s ${met(r.targets.throughputMet)}`,
      ],
    },
    config: PLOT_CONFIG,
    spacing: 60,
    hconcat: [latencyPanel(r), throughputPanel(r), ...[floorPanel(r)].filter((p) => p !== undefined)],
    // the floor panel's colours and bar offsets (measures) are its own, not the latency panel's percentiles
    resolve: { scale: { color: 'independent', xOffset: 'independent' }, legend: { color: 'independent' } },
  };
}

/** The chart as an SVG document. */
export function renderOverheadSvg(r: BenchReport): Promise<string> {
  return renderSvg(overheadChartSpec(r));
}
