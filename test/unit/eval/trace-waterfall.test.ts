/** A query's trace as a waterfall: picking the trace, tree order, and an SVG with a bar per span. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  selectTrace,
  TraceNotFoundError,
  traceWaterfallSpec,
  waterfallRows,
} from '../../../eval/report/trace-waterfall';
import { renderSvg } from '../../../eval/report/vega';
import type { SpanRecord } from '../../../infra/tracing';

const span = (
  spanId: string,
  parentSpanId: string | undefined,
  name: string,
  startMs: number,
  endMs: number,
  traceId = 't1',
): SpanRecord => ({
  traceId,
  spanId,
  ...(parentSpanId ? { parentSpanId } : {}),
  name,
  service: name.startsWith('Start') && !parentSpanId ? 'serflow-client' : 'serflow-workflow',
  startMs,
  endMs,
  status: 1,
  attributes: { temporalWorkflowId: traceId === 't1' ? 'serflow-mnist-ee-q1' : 'serflow-mnist-ee-q2' },
});

const SPANS = [
  span('c', 'b', 'StartActivity:runStage', 20, 30),
  span('a', undefined, 'StartWorkflow:inferenceWorkflow', 0, 5),
  span('d', 'b', 'StartActivity:runStage', 12, 18),
  span('b', 'a', 'RunWorkflow:inferenceWorkflow', 6, 40),
  span('x', undefined, 'RunWorkflow:inferenceWorkflow', 100, 120, 't2'),
];

test('a trace is picked by query id, by trace id, or as the latest workflow run', () => {
  assert.equal(selectTrace(SPANS, { queryId: 'q1' }).length, 4);
  assert.equal(selectTrace(SPANS, { traceId: 't2' }).length, 1);
  assert.equal(selectTrace(SPANS)[0]!.traceId, 't2');
  assert.throws(() => selectTrace(SPANS, { queryId: 'nope' }), TraceNotFoundError);
});

test('rows are in tree order: a span under its parent, siblings by start', () => {
  const rows = waterfallRows(selectTrace(SPANS, { queryId: 'q1' }));
  assert.deepEqual(
    rows.map((r) => [r.span.spanId, r.depth]),
    [
      ['a', 0],
      ['b', 1],
      ['d', 2],
      ['c', 2],
    ],
  );
});

test('the waterfall renders to an SVG with a bar per span', async () => {
  const svg = await renderSvg(traceWaterfallSpec(selectTrace(SPANS, { queryId: 'q1' })));
  assert.match(svg, /^<svg/);
  assert.match(svg, /RunWorkflow:inferenceWorkflow/);
  assert.equal((svg.match(/role="graphics-symbol"[^>]*aria-roledescription="bar"/g) ?? []).length, 4);
});
