/**
 * The benchmark charts (bench/overhead/chart.ts, bench/serverless-chart.ts), drawn by the report's Vega-Lite renderer:
 * each is an SVG document that shows the figures of its input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderOverheadSvg } from '../../../bench/overhead/chart';
import type { BenchReport } from '../../../bench/overhead/report';
import { renderServerlessSvg, type ServerlessChartInput } from '../../../bench/serverless-chart';
import { logDecades } from '../../../eval/report/chart-style';

const latency = (p50: number, p95: number, p99: number) => ({ p50, p95, p99, mean: p50, max: p99 });

/** The fields of an overhead report the chart reads; the rest is not drawn. */
const overhead = {
  timestamp: '2025-06-01T12:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'test cpu', totalMemGb: 8, platform: 'linux', node: 'v20', onnxruntime: {} },
  config: { model: 'mnist-ee', dynamicConfig: { 'history.x': 20 } },
  targets: { overheadPerStageP50Ms: 10, throughputQps: 50, overheadMet: false, throughputMet: true, bestQps: 61.5 },
  direct: { latencyMs: latency(0.28, 1.06, 1.81) },
  pipeline: { latencyMs: latency(44.56, 83.85, 104.34) },
  overheadPerStageMs: { p50: 26.83, p95: 44.05, mean: 27 },
  throughput: [
    { concurrency: 1, qps: 19.7, latencyMs: latency(46.73, 83.24, 152.35) },
    { concurrency: 8, qps: 61.5, latencyMs: latency(243.5, 423.6, 504.13) },
  ],
  eventLoopDelay: { stageMaxP99Ms: 4.84 },
} as unknown as BenchReport;

const serverless: ServerlessChartInput = {
  timestamp: '2025-06-01T12:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'test cpu' },
  config: { model: 'mnist-ee' },
  perStage: [
    { stage: 1, vm: { p50: 9, p95: 17.1 }, warm: { p50: 9, p95: 13.55 }, cold: { p50: 252.5, p95: 316.5 } },
    { stage: 2, vm: { p50: 8, p95: 14.1 }, warm: { p50: 8, p95: null }, cold: { p50: null, p95: null } },
  ],
};

describe('overhead chart', () => {
  test('an SVG with both panels, every latency and throughput figure, the target, the run in the title', async () => {
    const svg = await renderOverheadSvg(overhead);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const text of [
      'SERFLOW orchestration overhead: mnist-ee, 2 cores, 2025-06-01, history.x=20',
      'Latency per query, concurrency 1 (ms, log scale)',
      'Sustained throughput by concurrency (queries/s)',
      '>0.28<',
      '>1.81<',
      '>45<',
      '>104<',
      '>19.7 q/s<',
      '>61.5 q/s<',
      'p50 47 / p99 152 ms',
      'target 50 q/s',
      'overhead per executed stage: p50 26.83 ms, p95 44.05 ms (target 10)',
      'throughput &gt;= 50 q/s MET',
    ]) {
      assert.ok(svg.includes(text), `has ${text}`);
    }
  });
});

describe('serverless chart', () => {
  test('an SVG with a bar label per measured path and the legend; a path with no executions has no bar', async () => {
    const svg = await renderServerlessSvg(serverless);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const text of ['p50 with p95 whiskers — mnist-ee', '>252.5<', '>VM pool<', '>serverless cold<', '>stage 2<']) {
      assert.ok(svg.includes(text), `has ${text}`);
    }
    // bars: stage 1 has three, stage 2 two (cold unmeasured)
    const bars = svg.match(/<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/s)?.[1] ?? '';
    assert.equal(bars.match(/<path /g)?.length, 5);
  });
});

describe('log axis decades', () => {
  test('from the power of ten at or below the smallest value to the one at or above the largest', () => {
    assert.deepEqual(logDecades([0.28, 104.34]), [0.1, 1, 10, 100, 1000]);
    assert.deepEqual(logDecades([9, 9]), [1, 10]);
    assert.deepEqual(logDecades([0, NaN]), [1, 10]);
  });
});
