/**
 * The telemetry pieces on their own: the `/metrics` server (SERFLOW's registry followed by the SDK's page, a
 * targets file while it serves), stage-event and pool accounting, the file span exporter, the context manager that
 * keeps a span's parent, and the text log format.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { compileConfig } from '../../../common/config';
import type { StageEvent } from '../../../common/events';
import { formatTextLine, createLogger } from '../../../infra/logger';
import { createSerflowMetrics, recordPools, recordStageEvent } from '../../../infra/metrics';
import { listMetricsTargets, startMetricsServer } from '../../../infra/metrics-server';
import { readSpanRecords, startTracing, tracesDir } from '../../../infra/tracing';
import { parsePrometheusText, sumSeries } from '../../helpers/prometheus-text';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-telemetry-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function event(type: StageEvent['type'], stage: number, queueMs: number, serviceMs: number): StageEvent {
  const base = {
    v: 1 as const,
    queryId: 'q',
    workflowId: 'w',
    runId: 'r',
    model: 'm',
    stage,
    backend: 'vm' as const,
    worker: 'x',
    attempt: 1,
    queueMs,
    serviceMs,
    scheduledAt: 0,
    startedAt: 0,
    finishedAt: 0,
  };
  return type === 'stage.failed'
    ? { ...base, type, errorType: 'InvalidInputError', message: 'bad' }
    : type === 'stage.exited'
      ? { ...base, type, label: 1, confidence: 0.9, threshold: 0.8, confident: true }
      : { ...base, type, label: 1, confidence: 0.5, threshold: 0.8 };
}

describe('metrics', () => {
  test('a stage event counts an arrival, its outcome, an exit when it exited, and both histograms', async () => {
    const m = createSerflowMetrics(new Registry());
    recordStageEvent(m, event('stage.continued', 1, 4, 10));
    recordStageEvent(m, event('stage.exited', 2, 2, 20));
    recordStageEvent(m, event('stage.exited', 2, 1, 30));
    const s = parsePrometheusText(await m.registry.metrics());
    assert.equal(sumSeries(s, 'serflow_stage_arrivals_total', { stage: '1' }), 1);
    assert.equal(sumSeries(s, 'serflow_stage_arrivals_total', { stage: '2' }), 2);
    assert.equal(sumSeries(s, 'serflow_stage_exits_total', { stage: '1' }), 0);
    assert.equal(sumSeries(s, 'serflow_stage_exits_total', { stage: '2' }), 2);
    assert.equal(sumSeries(s, 'serflow_stage_outcomes_total', { stage: '1', outcome: 'continued' }), 1);
    assert.equal(sumSeries(s, 'serflow_stage_service_seconds_count', { stage: '2' }), 2);
    assert.ok(Math.abs(sumSeries(s, 'serflow_stage_service_seconds_sum', { stage: '2' }) - 0.05) < 1e-12);
    // 4 ms of queue wait falls in the 5 ms bucket and above, not in the 2.5 ms one.
    assert.equal(sumSeries(s, 'serflow_stage_queue_wait_seconds_bucket', { stage: '1', le: '0.0025' }), 0);
    assert.equal(sumSeries(s, 'serflow_stage_queue_wait_seconds_bucket', { stage: '1', le: '0.005' }), 1);
  });

  test('pool gauges are set from the providers and read 0 once a pool empties', async () => {
    const m = createSerflowMetrics(new Registry());
    const vm = (id: string, stage: number, state: 'booting' | 'ready' | 'draining' | 'terminated') => ({
      id,
      model: 'm',
      stage,
      instanceType: 'c6i.large',
      state,
      launchedAt: 0,
    });
    const price = () => 0.085;
    recordPools(m, ['m'], [vm('a', 1, 'ready'), vm('b', 1, 'booting'), vm('c', 2, 'terminated')], [], price);
    let s = parsePrometheusText(await m.registry.metrics());
    assert.equal(sumSeries(s, 'serflow_pool_vms', { stage: '1', state: 'ready' }), 1);
    assert.equal(sumSeries(s, 'serflow_pool_vms', { stage: '2' }), 0, 'a terminated VM is not in the pool');
    assert.ok(Math.abs(sumSeries(s, 'serflow_cost_rate_usd_per_hour', { backend: 'vm' }) - 0.17) < 1e-12);
    recordPools(m, ['m'], [], [], price);
    s = parsePrometheusText(await m.registry.metrics());
    assert.equal(sumSeries(s, 'serflow_pool_vms'), 0);
    assert.equal(sumSeries(s, 'serflow_cost_rate_usd_per_hour', { backend: 'vm' }), 0);
  });

  test('/metrics serves the registry then the SDK page, and its targets file lives as long as the server', async () => {
    const sdk = http.createServer((_req, res) =>
      res.end('# TYPE temporal_workflow_completed counter\ntemporal_workflow_completed 7\n'),
    );
    await new Promise<void>((resolve) => sdk.listen(0, '127.0.0.1', resolve));
    const sdkUrl = `http://127.0.0.1:${(sdk.address() as AddressInfo).port}/metrics`;
    const config = compileConfig({ homeDir: dir });
    const m = createSerflowMetrics(new Registry());
    m.queriesCompleted.inc({ model: 'm', outcome: 'ok' }, 3);
    const server = await startMetricsServer({ config, registry: m.registry, role: 'workflow', sdkMetricsUrl: sdkUrl });
    try {
      const s = parsePrometheusText(await (await fetch(server.url)).text());
      assert.equal(sumSeries(s, 'serflow_queries_completed_total'), 3);
      assert.equal(sumSeries(s, 'temporal_workflow_completed'), 7);
      assert.equal((await fetch(server.url.replace('/metrics', '/other'))).status, 404);
      const targets = listMetricsTargets(config);
      assert.deepEqual(
        targets.map((t) => [t.role, t.pid, t.url]),
        [['workflow', process.pid, server.url]],
      );
    } finally {
      await server.close();
      sdk.close();
    }
    assert.deepEqual(listMetricsTargets(config), [], 'the targets file is removed on close');
  });

  test('a targets file of a dead process is not listed, and pruned on request', () => {
    const config = compileConfig({ homeDir: path.join(dir, 'dead') });
    const d = path.join(config.homeDir, 'data', 'metrics-targets');
    fs.mkdirSync(d, { recursive: true });
    const file = path.join(d, 'stage-999999999.json');
    fs.writeFileSync(file, JSON.stringify([{ targets: ['127.0.0.1:1'], labels: { role: 'stage', pid: '999999999' } }]));
    assert.deepEqual(listMetricsTargets(config), []);
    assert.ok(fs.existsSync(file));
    listMetricsTargets(config, true);
    assert.ok(!fs.existsSync(file));
  });
});

describe('tracing', () => {
  test('spans go to the file as JSON lines, and a span started inside context.with keeps its parent', async () => {
    const config = compileConfig({ homeDir: dir, telemetry: { traces: { file: true } } });
    const tracing = startTracing(config, 'unit');
    assert.ok(tracing.enabled);
    const tracer = trace.getTracer('test');
    const parent = tracer.startSpan('parent');
    // The interceptors' pattern (instrumentation.ts `instrument`): context.with(parent ctx, startActiveSpan(...)).
    await context.with(trace.setSpan(context.active(), parent), async () => {
      await tracer.startActiveSpan('child', async (span) => {
        await new Promise((r) => setTimeout(r, 5)); // across an await: AsyncLocalStorage carries the context
        tracer.startSpan('grandchild').end();
        span.end();
      });
    });
    parent.end();
    await tracing.shutdown();
    const spans = readSpanRecords(tracesDir(config));
    const byName = new Map(spans.map((s) => [s.name, s]));
    assert.equal(spans.length, 3);
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1);
    assert.equal(byName.get('child')!.parentSpanId, byName.get('parent')!.spanId);
    assert.equal(byName.get('grandchild')!.parentSpanId, byName.get('child')!.spanId);
    assert.equal(byName.get('parent')!.service, 'serflow-unit');
    assert.ok(byName.get('child')!.endMs - byName.get('child')!.startMs >= 4);
  });

  test('without an exporter tracing is off', () => {
    assert.equal(startTracing(compileConfig({ homeDir: dir }), 'x').enabled, false);
  });
});

describe('logs', () => {
  test('a JSON record has time, level as a word, role, msg and the bound context', () => {
    const lines: string[] = [];
    const logger = createLogger(compileConfig({}), 'stage', { write: (l: string) => void lines.push(l) });
    logger.child({ model: 'm', stage: 2 }).info({ workflowId: 'w' }, 'hello');
    logger.debug('not at info');
    assert.equal(lines.length, 1);
    const r = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(r.level, 'info');
    assert.equal(r.role, 'stage');
    assert.equal(r.msg, 'hello');
    assert.equal(r.model, 'm');
    assert.equal(r.stage, 2);
    assert.equal(r.workflowId, 'w');
    assert.equal(typeof r.time, 'number');
  });

  test('the text format prints one readable line per record', () => {
    const line = formatTextLine({
      time: Date.UTC(2026, 0, 1, 12, 0, 1, 234),
      level: 'warn',
      role: 'agent',
      msg: 'hi',
      pid: 1,
      model: 'm',
    });
    assert.equal(line, '12:00:01.234 WARN  agent: hi model=m\n');
  });

  test('the config rejects an unknown log format, naming the field', () => {
    assert.throws(() => compileConfig({ telemetry: { logs: { format: 'xml' } } }), /telemetry\.logs\.format/);
  });
});
