/**
 * Metrics and traces of the real embedded stack: every process publishes its `/metrics` endpoint (file_sd targets),
 * the stage and query series move by exactly what a load sent, the Temporal SDK's metrics come through the
 * workflow worker's endpoint, and one query's spans (client, workflow, stage activities) share one trace id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InferenceResult } from '../../common/contracts';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { TEMPORAL_SDK_METRICS } from '../../infra/metrics';
import { listMetricsTargets, type MetricsTarget } from '../../infra/metrics-server';
import { readSpanRecords, startTracing, tracesDir, type SpanRecord, type Tracing } from '../../infra/tracing';
import { sampleIndices } from '../../common/stats';
import { selectTrace } from '../../eval/report/trace-waterfall';
import { parsePrometheusText, sumSeries } from '../helpers/prometheus-text';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { publishPlan } from '../helpers/routing';
import { planFromSpec } from '../../common/routing';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const STAGES = 4;
/** Queries of one load step: enough to reach every stage at the default threshold. */
const LOAD = 24;

async function scrape(target: MetricsTarget) {
  const res = await fetch(target.url);
  assert.equal(res.status, 200, `${target.url}: HTTP ${res.status}`);
  return parsePrometheusText(await res.text());
}

describe('metrics and traces on the real stack', () => {
  let t: TestStack;
  let tracing: Tracing;
  let images: Float32Array[];

  before(async () => {
    t = await startTestStack({ telemetry: { traces: { file: true } } });
    // This process is the client: its StartWorkflow spans are the roots of the queries' traces.
    tracing = startTracing(t.config, 'client');
    const split = loadSplit(loadManifest(MODEL), 'test');
    images = sampleIndices(split.images.length, LOAD + 1, 11).map((i) => split.images[i]!);
  });

  after(async () => {
    await tracing?.shutdown();
    await t?.stop();
  });

  test('every worker process publishes a /metrics target; the series move by what a load sent', async () => {
    const targets = await waitUntil('targets of the workflow worker, the agent and 4 stage workers', 30_000, () => {
      const all = listMetricsTargets(t.config);
      const stages = all.filter((x) => x.role === 'stage');
      return all.some((x) => x.role === 'workflow') && all.some((x) => x.role === 'agent') && stages.length >= STAGES
        ? all
        : undefined;
    });
    const workflow = targets.find((x) => x.role === 'workflow')!;
    const agent = targets.find((x) => x.role === 'agent')!;
    const stageTargets = targets.filter((x) => x.role === 'stage');
    const scrapeStages = async () => (await Promise.all(stageTargets.map(scrape))).flat();

    const stagesBefore = await scrapeStages();
    const workflowBefore = await scrape(workflow);
    const results: InferenceResult[] = await Promise.all(
      images.slice(0, LOAD).map((image) => t.client.infer(image, { model: MODEL })),
    );
    // What the load must add: one arrival per executed stage, one exit per query, 2 + n actions per query.
    const arrivedAt = (k: number) => results.filter((r) => r.stages.some((s) => s.stage === k)).length;
    const actions = results.reduce((sum, r) => sum + 2 + r.stages.length, 0);
    assert.ok(arrivedAt(2) > 0, 'the load reaches stage 2 at least');

    // A stage counts an execution as it publishes the event; the workflow worker as the workflow ends: poll briefly.
    const stagesAfter = await waitUntil('stage series after the load', 15_000, async () => {
      const s = await scrapeStages();
      return sumSeries(s, 'serflow_stage_exits_total') - sumSeries(stagesBefore, 'serflow_stage_exits_total') >= LOAD
        ? s
        : undefined;
    });
    for (let k = 1; k <= STAGES; k++) {
      const delta = (name: string) =>
        sumSeries(stagesAfter, name, { model: MODEL, stage: String(k) }) -
        sumSeries(stagesBefore, name, { model: MODEL, stage: String(k) });
      assert.equal(delta('serflow_stage_arrivals_total'), arrivedAt(k), `stage ${k} arrivals`);
      assert.equal(delta('serflow_stage_queue_wait_seconds_count'), arrivedAt(k), `stage ${k} queue-wait count`);
      assert.equal(delta('serflow_stage_service_seconds_count'), arrivedAt(k), `stage ${k} service-time count`);
      const exited = results.filter((r) => r.exitStage === k).length;
      assert.equal(delta('serflow_stage_exits_total'), exited, `stage ${k} exits`);
    }
    assert.ok(
      sumSeries(stagesAfter, 'serflow_stage_service_seconds_sum') >
        sumSeries(stagesBefore, 'serflow_stage_service_seconds_sum'),
      'service time accumulates',
    );

    const workflowAfter = await waitUntil('query series after the load', 15_000, async () => {
      const s = await scrape(workflow);
      const done = sumSeries(s, 'serflow_queries_completed_total', { outcome: 'ok' });
      return done - sumSeries(workflowBefore, 'serflow_queries_completed_total', { outcome: 'ok' }) >= LOAD
        ? s
        : undefined;
    });
    const wDelta = (name: string) => sumSeries(workflowAfter, name) - sumSeries(workflowBefore, name);
    assert.equal(wDelta('serflow_queries_completed_total'), LOAD, 'queries completed');
    assert.equal(wDelta('serflow_query_actions_count'), LOAD, 'actions histogram count');
    assert.equal(wDelta('serflow_query_actions_sum'), actions, 'actions per query: 2 + stages executed');
    // The SDK's own metrics (Runtime telemetry) come through the same endpoints: workflow ones from the workflow
    // worker, activity ones from the stage workers.
    const names = new Set([...workflowAfter, ...stagesAfter].map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
    for (const name of TEMPORAL_SDK_METRICS) assert.ok(names.has(name), `Temporal SDK metric ${name}`);
    assert.ok(wDelta('temporal_workflow_completed') >= LOAD, 'the SDK counted the completed workflows');

    const pools = await scrape(agent);
    for (let k = 1; k <= STAGES; k++) {
      assert.equal(sumSeries(pools, 'serflow_pool_vms', { stage: String(k), state: 'ready' }), 1, `stage ${k} VMs`);
    }
    // 4 ready VMs of the default type (c6i.large, 0.085 $/h).
    assert.ok(Math.abs(sumSeries(pools, 'serflow_cost_rate_usd_per_hour', { backend: 'vm' }) - 4 * 0.085) < 1e-9);
  });

  test("one query is one trace: the client's, the workflow's and the stage activities' spans share its id", async () => {
    const queryId = `traced-${Date.now()}`;
    const result = await t.client.infer(images[LOAD]!, { model: MODEL, queryId });
    await tracing.shutdown(); // flush this process's (the client's) spans
    const dir = tracesDir(t.config);
    const trace = await waitUntil(`the spans of ${queryId} in ${dir}`, 15_000, () => {
      let spans: SpanRecord[];
      try {
        spans = selectTrace(readSpanRecords(dir), { queryId });
      } catch {
        return undefined;
      }
      const runs = spans.filter((s) => s.name.startsWith('RunActivity')).length;
      const client = spans.some((s) => s.service === 'serflow-client');
      return runs >= result.stages.length && client ? spans : undefined;
    });
    const traceIds = new Set(trace.map((s) => s.traceId));
    assert.equal(traceIds.size, 1);
    const byName = (prefix: string) => trace.filter((s) => s.name.startsWith(prefix));
    const start = byName('StartWorkflow');
    const run = byName('RunWorkflow');
    assert.equal(start.length, 1, 'one StartWorkflow span');
    assert.equal(start[0]!.service, 'serflow-client');
    assert.equal(run.length, 1, 'one RunWorkflow span');
    assert.equal(run[0]!.service, 'serflow-workflow');
    assert.equal(run[0]!.parentSpanId, start[0]!.spanId, 'the workflow run is a child of the client start');
    const starts = byName('StartActivity');
    const runs = byName('RunActivity');
    assert.equal(runs.length, result.stages.length, 'one RunActivity span per executed stage');
    for (const r of runs) {
      assert.equal(r.service, 'serflow-stage');
      assert.ok(
        starts.some((s) => s.spanId === r.parentSpanId && s.parentSpanId === run[0]!.spanId),
        `${r.name}: a child of a StartActivity of the workflow run`,
      );
    }
  });

  test("a serverless stage's trace goes on into the function instance that ran it", async () => {
    await publishPlan(t.nc, planFromSpec('all-faas', MODEL, STAGES, Date.now()), STAGES, t.client);
    const queryId = `traced-faas-${Date.now()}`;
    const result = await t.client.infer(images[0]!, { model: MODEL, queryId });
    assert.deepEqual(result.backends, ['faas']);
    const dir = tracesDir(t.config);
    const trace = await waitUntil(`the function spans of ${queryId}`, 15_000, () => {
      let spans: SpanRecord[];
      try {
        spans = selectTrace(readSpanRecords(dir), { queryId });
      } catch {
        return undefined;
      }
      return spans.filter((s) => s.name.startsWith('Invoke:')).length >= result.stages.length ? spans : undefined;
    });
    const gateway = trace.filter((s) => s.name.startsWith('RunActivity'));
    assert.ok(
      gateway.length >= 1 && gateway.every((g) => g.service === 'serflow-agent'),
      'the gateway activity runs in the agent',
    );
    for (const k of result.stages.map((s) => s.stage)) {
      const invoke = trace.filter((s) => s.name === `Invoke:${MODEL}.stage-${k}`);
      assert.equal(invoke.length, 1, `one invocation span of stage ${k}`);
      assert.equal(invoke[0]!.service, 'serflow-function');
      assert.ok(
        gateway.some((g) => g.spanId === invoke[0]!.parentSpanId),
        `stage ${k}: the invocation is a child of a gateway activity span`,
      );
    }
  });
});
