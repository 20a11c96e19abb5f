/**
 * The load benchmark's result file, its summary (load.md) and its chart (load.svg): latency and throughput per load
 * level, and the soak's memory and latency over time with their slopes. Pure apart from rendering the SVG.
 */
import type { TopLevelSpec } from 'vega-lite/build/index';
import { PANEL_HEIGHT, PANEL_WIDTH, PLOT_CONFIG } from '../../eval/report/chart-style';
import type { Block } from '../../eval/report/document';
import { toMarkdown } from '../../eval/report/markdown';
import { renderSvg } from '../../eval/report/vega';
import type { ScenarioReport } from '../faults/run';
import { provenanceLines, type MachineInfo } from '../run-info';

export interface LoadLevel {
  /** Multiple of the measured capacity. */
  factor: number;
  /** Offered rate, queries/s. */
  rate: number;
  run: ScenarioReport;
}

export interface SoakResult {
  factor: number;
  rate: number;
  minutes: number;
  run: ScenarioReport;
  /** Least-squares slope of the stack's resident memory over the whole soak, MB per minute. */
  memoryMbPerMin: number | null;
  /** Least-squares slope of the windows' p50 latency over the whole soak, ms per minute. */
  p50MsPerMin: number | null;
  /** The same two slopes over the soak's second half, past its warm-up (the growth a leak would show). */
  secondHalf: { memoryMbPerMin: number | null; p50MsPerMin: number | null };
}

/** The soak's slopes, over the whole run and over its second half. */
export function soakSlopes(run: ScenarioReport): Pick<SoakResult, 'memoryMbPerMin' | 'p50MsPerMin' | 'secondHalf'> {
  const mem = (run.memory ?? []).map((m) => ({ x: m.t / 60, y: m.rssMb }));
  const lat = (run.windows ?? []).flatMap((w) => (w.p50 === null ? [] : [{ x: w.t / 60, y: w.p50 }]));
  const half = run.load.durationS / 60 / 2;
  const late = (xs: { x: number; y: number }[]) => xs.filter((p) => p.x >= half);
  return {
    memoryMbPerMin: slope(mem),
    p50MsPerMin: slope(lat),
    secondHalf: { memoryMbPerMin: slope(late(mem)), p50MsPerMin: slope(late(lat)) },
  };
}

export interface LoadReport {
  command: string;
  git: { commit: string; dirty: boolean } | null;
  machine: MachineInfo;
  startedAt: string;
  wallS: number;
  /** Closed-loop capacity of the suite's stack, completed queries/s, with the clients it was measured with. */
  capacity: { qps: number; clients: number; durationS: number; run: ScenarioReport };
  levels: LoadLevel[];
  soak: SoakResult | null;
  /** Nothing lost, answered twice or hung at any level, no process restarted. */
  pass: boolean;
  /** The command that derived the figures again from the recorded run (`--render`), if one did. */
  rendered?: string;
}

/** Least-squares slope of y over x (per unit of x); null with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (sxx === 0) return null;
  return points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

const clean = (r: ScenarioReport) => r.tally.lost === 0 && r.tally.answeredTwice === 0 && r.tally.hung === 0;

/** Whether a run kept every query and every process. */
export function runHeld(r: ScenarioReport): boolean {
  return clean(r) && Object.keys(r.restarts).length === 0;
}

/** The summary's blocks; `chart` is the file name of its chart, beside it. */
export function loadReportBlocks(r: LoadReport, chart: string): Block[] {
  const row = (label: string, rate: string, run: ScenarioReport) => {
    const t = run.tally;
    const failed = Object.values(t.failedNamed).reduce((a, b) => a + b, 0) + t.failedUnnamed;
    return [
      label,
      rate,
      String(t.started),
      String(t.completed),
      String(failed),
      String(t.lost),
      String(t.answeredTwice),
      String(t.hung),
      String(run.completedPerS),
      `${t.before.p50 ?? '-'} / ${t.before.p99 ?? '-'}`,
      Object.keys(run.restarts).length
        ? Object.entries(run.restarts)
            .map(([k, n]) => `${k} ×${n}`)
            .join(', ')
        : '0',
    ];
  };
  const blocks: Block[] = [
    { type: 'heading', level: 1, text: 'Load and soak' },
    {
      type: 'paragraph',
      text:
        `Capacity, measured closed loop with ${r.capacity.clients} clients for ${r.capacity.durationS} s: ` +
        `${r.capacity.qps} queries/s. Then open loop at multiples of it, each level on a fresh stack (stages 1-2 on ` +
        `VMs, 3-4 serverless). Latency is client-side (due to answered), ms. ` +
        (r.pass ? 'Nothing was lost, answered twice or hung, and no process restarted.' : 'A level FAILED.'),
    },
    {
      type: 'table',
      header: [
        'level',
        'offered q/s',
        'started',
        'completed',
        'failed',
        'lost',
        'twice',
        'hung',
        'completed/s',
        'p50 / p99',
        'restarts',
      ],
      numeric: [false, true, true, true, true, true, true, true, true, false, false],
      rows: [
        row('capacity (closed)', '-', r.capacity.run),
        ...r.levels.map((l) => row(`${l.factor}×`, String(l.rate), l.run)),
        ...(r.soak ? [row(`soak ${r.soak.factor}× (${r.soak.minutes} min)`, String(r.soak.rate), r.soak.run)] : []),
      ],
    },
  ];
  if (r.soak) {
    const mem = r.soak.run.memory ?? [];
    blocks.push({
      type: 'paragraph',
      text:
        `Soak: resident memory of the stack's ${mem.at(-1)?.processes ?? '?'} processes went from ` +
        `${mem[0]?.rssMb ?? '?'} MB to ${mem.at(-1)?.rssMb ?? '?'} MB. Slopes over the whole soak: memory ` +
        `${r.soak.memoryMbPerMin?.toFixed(2) ?? '-'} MB/min, p50 latency ${r.soak.p50MsPerMin?.toFixed(2) ?? '-'} ms/min; ` +
        `over its second half: memory ${r.soak.secondHalf.memoryMbPerMin?.toFixed(2) ?? '-'} MB/min, p50 latency ` +
        `${r.soak.secondHalf.p50MsPerMin?.toFixed(2) ?? '-'} ms/min.`,
    });
  }
  blocks.push(
    { type: 'image', src: chart, alt: 'latency per load level; memory and latency over the soak' },
    {
      type: 'code',
      text: provenanceLines(r) + (r.rendered ? `\nfigures derived again by: ${r.rendered}` : ''),
    },
  );
  return blocks;
}

export function renderLoadReport(r: LoadReport, chart: string): string {
  return toMarkdown(loadReportBlocks(r, chart));
}

export function loadChartSpec(r: LoadReport): TopLevelSpec {
  const levels = r.levels.flatMap((l) => [
    { level: `${l.factor}×`, quantile: 'p50', ms: l.run.tally.before.p50 },
    { level: `${l.factor}×`, quantile: 'p99', ms: l.run.tally.before.p99 },
  ]);
  const panels: TopLevelSpec[] = [
    {
      title: 'Latency per load level (ms)',
      width: PANEL_WIDTH,
      height: PANEL_HEIGHT,
      data: { values: levels.filter((x) => x.ms !== null) },
      mark: { type: 'bar' },
      encoding: {
        x: {
          field: 'level',
          type: 'nominal',
          sort: r.levels.map((l) => `${l.factor}×`),
          title: 'offered load / capacity',
        },
        xOffset: { field: 'quantile', type: 'nominal' },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms' },
        color: { field: 'quantile', type: 'nominal' },
      },
    },
  ];
  if (r.soak) {
    const mem = (r.soak.run.memory ?? []).map((m) => ({ min: m.t / 60, value: m.rssMb, series: 'resident MB' }));
    const lat = (r.soak.run.windows ?? [])
      .filter((w) => w.p50 !== null)
      .map((w) => ({ min: w.t / 60, value: w.p50, series: 'p50 ms' }));
    for (const [title, values] of [
      ['Soak: resident memory of the stack (MB)', mem],
      ['Soak: p50 latency per window (ms)', lat],
    ] as const) {
      panels.push({
        title,
        width: PANEL_WIDTH,
        height: PANEL_HEIGHT,
        data: { values: [...values] },
        mark: { type: 'line', point: false },
        encoding: {
          x: { field: 'min', type: 'quantitative', title: 'minutes' },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        },
      });
    }
  }
  return {
    title: {
      text: 'SERFLOW under load',
      subtitle: `${r.startedAt.slice(0, 10)}, ${r.machine.cpus} × ${r.machine.cpuModel}`,
    },
    config: PLOT_CONFIG,
    hconcat: panels,
  } as TopLevelSpec;
}

export function renderLoadSvg(r: LoadReport): Promise<string> {
  return renderSvg(loadChartSpec(r));
}
