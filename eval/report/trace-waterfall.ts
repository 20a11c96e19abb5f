/**
 * One query's trace as a waterfall chart: a bar per span from its start to its end, in tree order (a span under its
 * parent, siblings by start time), coloured by the process that made it. Input: the spans of the traces files
 * (infra/tracing.ts `SpanRecord`); output: a Vega-Lite spec that eval/report/vega.ts renders to SVG.
 */
import type { TopLevelSpec } from 'vega-lite/build/index';
import type { SpanRecord } from '../../infra/tracing';
import { PLOT_CONFIG, PLOT_WIDTH, SPARE_COLORS } from './chart-style';

/** Height of one span's row, px. */
const ROW_HEIGHT = 22;

/** A span placed in the waterfall: its row (tree order) and its depth in the tree. */
export interface WaterfallRow {
  row: number;
  depth: number;
  span: SpanRecord;
}

export interface TraceChoice {
  /** A trace id (32 hex). */
  traceId?: string;
  /** A SERFLOW query id: the trace whose workflow id is `serflow-<model>-<queryId>`. */
  queryId?: string;
}

/** Thrown when no trace in the files fits the choice. */
export class TraceNotFoundError extends Error {
  override readonly name = 'TraceNotFoundError';
}

function workflowIdOf(span: SpanRecord): string | undefined {
  const id = span.attributes.temporalWorkflowId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The spans of one trace: the one named, else the one of the query, else the latest trace that has a workflow run
 * (a query's trace rather than a lone health check). Throws TraceNotFoundError saying what was looked for.
 */
export function selectTrace(spans: readonly SpanRecord[], choice: TraceChoice = {}): SpanRecord[] {
  const byTrace = new Map<string, SpanRecord[]>();
  for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
  let traceId = choice.traceId;
  if (!traceId && choice.queryId) {
    const suffix = `-${choice.queryId}`;
    traceId = spans.find((s) => workflowIdOf(s)?.endsWith(suffix) || s.attributes.queryId === choice.queryId)?.traceId;
    if (!traceId) throw new TraceNotFoundError(`no span of query ${choice.queryId} in ${spans.length} spans`);
  }
  if (!traceId) {
    const runs = spans.filter((s) => s.name.startsWith('RunWorkflow')).sort((a, b) => b.startMs - a.startMs);
    traceId = runs[0]?.traceId;
    if (!traceId) throw new TraceNotFoundError(`no workflow run among ${spans.length} spans`);
  }
  const trace = byTrace.get(traceId);
  if (!trace) throw new TraceNotFoundError(`no span of trace ${traceId} among ${spans.length} spans`);
  return trace;
}

/** Tree order: roots (spans whose parent is not in the trace) by start, each followed by its subtree. */
export function waterfallRows(trace: readonly SpanRecord[]): WaterfallRow[] {
  const ids = new Set(trace.map((s) => s.spanId));
  const children = new Map<string | undefined, SpanRecord[]>();
  for (const s of trace) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const rows: WaterfallRow[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    for (const s of [...(children.get(parent) ?? [])].sort((a, b) => a.startMs - b.startMs)) {
      rows.push({ row: rows.length, depth, span: s });
      visit(s.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return rows;
}

/** Width of the span labels left of the plot, px: labels are left-aligned there, so the tree's indent shows. */
const LABEL_WIDTH = 300;

/** Fixed colours per process (Tableau 10), so a process keeps its colour from one trace to the next. */
const SERVICE_COLORS: Record<string, string> = {
  'serflow-client': '#4e79a7',
  'serflow-serve': '#76b7b2',
  'serflow-workflow': '#f28e2b',
  'serflow-stage': '#59a14f',
  'serflow-agent': '#e15759',
  'serflow-function': '#b07aa1',
};

function activityIdOf(s: SpanRecord): string | undefined {
  const id = s.attributes.temporalActivityId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * One label per row, unique (the chart's rows are keyed by label): the span's name, after a `↳` and a dot per level
 * of depth (Vega trims leading spaces, so the tree's indent is drawn), and for an activity its activity id (`#2`: the workflow's second
 * activity), which a StartActivity span takes from the RunActivity under it.
 */
function rowLabels(rows: readonly WaterfallRow[]): string[] {
  const seen = new Map<string, number>();
  return rows.map(({ depth, span }) => {
    const child = rows.find((r) => r.span.parentSpanId === span.spanId && activityIdOf(r.span) !== undefined);
    const id =
      activityIdOf(span) ?? (span.name.startsWith('StartActivity') ? activityIdOf(child?.span ?? span) : undefined);
    const indent = depth === 0 ? '' : `${'· '.repeat(depth - 1)}↳ `;
    const base = `${indent}${span.name}${id !== undefined ? ` #${id}` : ''}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base} (${n})`;
  });
}

/** The waterfall of `trace` (from `selectTrace`) as a Vega-Lite spec. */
export function traceWaterfallSpec(trace: readonly SpanRecord[], title?: string): TopLevelSpec {
  const rows = waterfallRows(trace);
  const t0 = Math.min(...trace.map((s) => s.startMs));
  const services = [...new Set(trace.map((s) => s.service))].sort();
  const labels = rowLabels(rows);
  const values = rows.map(({ row, span }) => ({
    row,
    label: labels[row]!,
    service: span.service,
    startMs: span.startMs - t0,
    endMs: span.endMs - t0,
    durationMs: Math.round((span.endMs - span.startMs) * 10) / 10,
    error: span.status === 2,
  }));
  const totalMs = Math.max(...values.map((v) => v.endMs));
  const workflowId = trace.map(workflowIdOf).find(Boolean);
  const y = {
    field: 'label',
    type: 'ordinal',
    title: null,
    sort: { field: 'row', order: 'ascending' },
    axis: { labelLimit: LABEL_WIDTH, labelPadding: LABEL_WIDTH, labelAlign: 'left', labelFontSize: 11, ticks: false },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title ?? `One query, one trace: ${workflowId ?? trace[0]!.traceId}`,
      subtitle: `trace ${trace[0]!.traceId} · ${trace.length} spans from ${services.length} processes · ${totalMs.toFixed(1)} ms`,
    },
    width: PLOT_WIDTH,
    height: Math.max(ROW_HEIGHT * rows.length, ROW_HEIGHT * 3),
    data: { values },
    encoding: { y },
    layer: [
      {
        mark: { type: 'bar', height: ROW_HEIGHT - 6 },
        encoding: {
          x: { field: 'startMs', type: 'quantitative', title: 'ms since the query started' },
          x2: { field: 'endMs' },
          color: {
            field: 'service',
            type: 'nominal',
            title: 'process',
            scale: {
              domain: services,
              range: services.map((name, i) => SERVICE_COLORS[name] ?? SPARE_COLORS[i % SPARE_COLORS.length]!),
            },
          },
          stroke: { condition: { test: 'datum.error', value: '#d62728' }, value: null },
          tooltip: [
            { field: 'label', title: 'span' },
            { field: 'service', title: 'process' },
            { field: 'durationMs', title: 'ms' },
          ],
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#333333' },
        encoding: {
          x: { field: 'endMs', type: 'quantitative' },
          text: { field: 'durationMs', type: 'quantitative', format: '.1f' },
        },
      },
    ],
    config: PLOT_CONFIG,
  };
}
