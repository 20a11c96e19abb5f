/**
 * The serverless benchmark's chart (`--svg`, bench/results/serverless.svg), drawn like the report's plots
 * (Vega-Lite, eval/report/): per stage, the activity time on the VM pool, warm serverless and cold serverless as
 * grouped p50 bars with p95 whiskers, on a log axis (cold starts are ~30× a warm call).
 */
import type { TopLevelSpec } from 'vega-lite/build/index';
import { logMsAxis, PLOT_CONFIG } from '../eval/report/chart-style';
import { renderSvg } from '../eval/report/vega';

/** p50 / p95 of one path's executions of a stage, ms (null: none measured). */
interface PathTimes {
  p50: number | null;
  p95: number | null;
}

/** What the chart reads of the benchmark's report. */
export interface ServerlessChartInput {
  timestamp: string;
  machine: { cpus: number; cpuModel: string };
  config: { model: string };
  perStage: Array<{ stage: number; vm: PathTimes; warm: PathTimes; cold: PathTimes }>;
}

/** The three paths in drawing order, with their legend labels and colours. */
const PATHS = [
  { key: 'vm', label: 'VM pool', color: '#4c78a8' },
  { key: 'warm', label: 'serverless warm', color: '#f58518' },
  { key: 'cold', label: 'serverless cold', color: '#e45756' },
] as const;

/** Plot area, px. */
const WIDTH = 640;
const HEIGHT = 300;

export function serverlessChartSpec(r: ServerlessChartInput): TopLevelSpec {
  const labels = PATHS.map((p) => p.label);
  const stages = r.perStage.map((s) => `stage ${s.stage}`);
  // a stage path with no executions has no bar; one without a p95 has no whisker
  const rows = r.perStage.flatMap((s) =>
    PATHS.flatMap((p) => {
      const t = s[p.key];
      if (t.p50 === null) return [];
      // the p50 is written above the whisker's end, where the whisker cannot cross it
      return [
        {
          stage: `stage ${s.stage}`,
          path: p.label,
          p50: t.p50,
          p95: t.p95,
          label: String(t.p50),
          labelAt: Math.max(t.p50, t.p95 ?? t.p50),
        },
      ];
    }),
  );
  const whiskers = rows.filter((row) => row.p95 !== null);
  const x = { field: 'stage', type: 'nominal', sort: stages, title: null, axis: { labelAngle: 0 } } as const;
  const xOffset = { field: 'path', type: 'nominal', sort: labels } as const;
  const y = logMsAxis(
    'p50',
    rows.flatMap((row) => [row.p50, row.p95 ?? row.p50]),
  );
  return {
    title: {
      text: `Stage activity time (queue + handler), p50 with p95 whiskers — ${r.config.model}`,
      subtitle: `${r.timestamp.slice(0, 10)}, ${r.machine.cpus} x ${r.machine.cpuModel}; cold excludes the configured coldStartExtraMs`,
    },
    width: WIDTH,
    height: HEIGHT,
    config: PLOT_CONFIG,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset,
          y,
          color: {
            field: 'path',
            type: 'nominal',
            title: null,
            sort: labels,
            scale: { domain: labels, range: PATHS.map((p) => p.color) },
            legend: { orient: 'bottom', direction: 'horizontal' },
          },
        },
      },
      {
        data: { values: rows },
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 10 },
        encoding: { x, xOffset, y: { ...y, field: 'labelAt' }, text: { field: 'label', type: 'nominal' } },
      },
      {
        data: { values: whiskers },
        mark: { type: 'rule', color: '#222222' },
        encoding: { x, xOffset, y, y2: { field: 'p95' } },
      },
      {
        data: { values: whiskers },
        mark: { type: 'tick', color: '#222222', thickness: 1, size: 10, orient: 'horizontal' },
        encoding: { x, xOffset, y: { field: 'p95', type: 'quantitative' } },
      },
    ],
  };
}

/** The chart as an SVG document. */
export function renderServerlessSvg(r: ServerlessChartInput): Promise<string> {
  return renderSvg(serverlessChartSpec(r));
}
