/**
 * SerflowClient sends each query's model descriptor, so its workflow runs no local activity: the real client,
 * a real nats-server (routing plans in the KV bucket, watched by the client and by the workflow worker's lookup),
 * the workflow on Temporal's time-skipping test server with the real `describeModel` on the shipped mnist-ee
 * manifest, and fake stages (test/helpers/workflow-env.ts). A query's history has no marker and follows the plan
 * published when it started; a newly published plan reaches the next query through the client's watch; a query
 * started without a descriptor (another SDK) is looked up by the local activity and gets the same records; a wrong
 * query is refused before any workflow starts. No worker processes are spawned: a few seconds.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { createModelActivities } from '../../activities/model-activities';
import { InferenceFailedError, SerflowClient } from '../../client';
import { compileConfig } from '../../common/config';
import type { InferenceQuery, StageInput, StageRecord } from '../../common/contracts';
import { INFERENCE_TASK_QUEUE, inferenceWorkflowId, ROUTING_BUCKET, stageTaskQueue } from '../../common/naming';
import { InvalidRoutingPlanError, isRejectedPlan, planFromSpec, type RoutingPlan } from '../../common/routing';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { ensureNatsResources } from '../../infra/nats';
import { createRoutingStore, type RoutingStore } from '../../infra/routing-store';
import { loadManifest } from '../../models/manifest';
import { publishPlan } from '../helpers/routing';
import { waitUntil } from '../helpers/wait-until';
import { fakeStage, startWorkflowEnv, type WorkflowEnv } from '../helpers/workflow-env';

const MODEL = 'mnist-ee';
const STAGES = 4;
/** No fake stage reaches it (they answer 0.5): every query runs all four stages. */
const THRESHOLD = 0.99;
const { EventType } = temporal.api.enums.v1;
const image = new Float32Array(784).fill(0.5);

describe('SerflowClient sends the model descriptor (real client and NATS, test server, fake stages)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-client-descriptor-'));
  const config = compileConfig({ homeDir: dir, stages: { timeoutMs: 3_000 } });
  let harness: WorkflowEnv;
  let nats: StartedNatsServer;
  let routing: RoutingStore;
  let client: SerflowClient;
  let workers: Worker[] = [];
  let runs: Promise<void>[] = [];
  const stageCalls: StageInput[] = [];

  before(async () => {
    [harness, nats] = await Promise.all([
      startWorkflowEnv(),
      freePort().then((port) =>
        startNatsServer({
          port,
          storeDir: path.join(dir, 'jetstream'),
          logDir: dir,
          clientName: 'client-descriptor-test',
          readyTimeoutMs: 10_000,
        }),
      ),
    ]);
    await ensureNatsResources(nats.nc, config);
    routing = await createRoutingStore(nats.nc, { watch: true });
    // The workflow worker's lookup, as workers/workflow-worker.ts wires it.
    const modelActivities = createModelActivities({
      config,
      manifest: (name) => loadManifest(name, config.modelsDir),
      routingPlan: (model) => routing.get(model),
    });
    workers = await Promise.all([
      harness.worker(INFERENCE_TASK_QUEUE, modelActivities, { workflows: true }),
      ...Array.from({ length: STAGES }, (_, i) => i + 1).flatMap((k) =>
        (['vm', 'faas'] as const).map((b) => harness.worker(stageTaskQueue(MODEL, k, b), fakeStage(b, stageCalls))),
      ),
    ]);
    runs = workers.map((w) => w.run());
    client = await SerflowClient.connect({
      temporalAddress: harness.env.address,
      natsUrl: nats.url,
      namespace: harness.env.namespace ?? 'default',
      config,
    });
  });

  after(async () => {
    await client?.close();
    for (const w of workers) w.shutdown();
    await Promise.all(runs);
    routing?.close();
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    await harness?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Wait (10 s at most) until `cond` holds. */
  const until = (what: string, cond: () => Promise<boolean>) =>
    waitUntil(what, 10_000, async () => ((await cond()) ? true : undefined));

  const historyOf = async (queryId: string) =>
    (await client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, queryId)).fetchHistory()).events ?? [];
  const markers = (events: temporal.api.history.v1.IHistoryEvent[]) =>
    events.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED).length;
  const route = (stages: StageRecord[]) => stages.map((s) => `${s.stage}:${s.backend}`);
  const comparable = ({ startedAt: _s, finishedAt: _f, ...rest }: StageRecord) => rest;

  test('a query follows the published plan without a local activity; a new plan reaches the next query', async () => {
    await publishPlan(nats.nc, planFromSpec('vm-prefix:2', MODEL, STAGES, Date.now()), STAGES, client);
    const first = await client.infer(image, { threshold: THRESHOLD, queryId: 'first' });
    assert.deepEqual(route(first.stages), ['1:vm', '2:vm', '3:faas', '4:faas']);
    assert.equal(markers(await historyOf('first')), 0, 'no describeModel marker');

    await publishPlan(nats.nc, planFromSpec('all-faas', MODEL, STAGES, Date.now()), STAGES, client);
    const second = await client.infer(image, { threshold: THRESHOLD, queryId: 'second' });
    assert.deepEqual(route(second.stages), ['1:faas', '2:faas', '3:faas', '4:faas'], 'the watched plan changed');
    assert.equal(markers(await historyOf('second')), 0);
  });

  test('a query started without a descriptor is looked up by the local activity and gets the same records', async () => {
    await publishPlan(nats.nc, planFromSpec('vm-prefix:1', MODEL, STAGES, Date.now()), STAGES, client);
    const sent = await client.infer(image, { threshold: THRESHOLD, queryId: 'with-descriptor' });
    const { descriptor, ...bare }: InferenceQuery = await client.buildQuery(image, {
      threshold: THRESHOLD,
      queryId: 'without-descriptor',
    });
    assert.ok(descriptor, 'the client built a descriptor');
    const handle = await client.temporal.workflow.start('inferenceWorkflow', {
      taskQueue: INFERENCE_TASK_QUEUE,
      workflowId: inferenceWorkflowId(MODEL, bare.queryId),
      args: [bare],
    });
    const lookedUp = (await handle.result()) as typeof sent;
    assert.equal(markers(await historyOf('without-descriptor')), 1, 'one describeModel marker');
    assert.equal(markers(await historyOf('with-descriptor')), 0);
    assert.deepEqual(lookedUp.stages.map(comparable), sent.stages.map(comparable));
    assert.deepEqual(route(sent.stages), ['1:vm', '2:faas', '3:faas', '4:faas']);
  });

  test('starting a query id again joins or returns that query; it never runs twice', async () => {
    await publishPlan(nats.nc, planFromSpec('all-faas', MODEL, STAGES, Date.now()), STAGES, client);
    const calls = stageCalls.length;
    const first = await client.start(image, { threshold: THRESHOLD, queryId: 'once' });
    // While it runs: the same workflow.
    const joined = await client.start(image, { threshold: THRESHOLD, queryId: 'once' });
    const [a, b] = await Promise.all([first.result(), joined.result()]);
    assert.deepEqual(b, a);
    const ran = stageCalls.length - calls;
    assert.ok(ran >= 1, 'the query ran');
    // Once it has ended: its outcome, not a second run (the latest run of the id is still the first).
    const latestRun = async () =>
      (await client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, 'once')).describe()).runId;
    const firstRun = await latestRun();
    const again = await client.start(image, { threshold: THRESHOLD, queryId: 'once' });
    assert.deepEqual(await again.result(), a);
    assert.equal(stageCalls.length - calls, ran, 'no stage ran again');
    assert.equal(await latestRun(), firstRun, 'one workflow run for the query id');
  });

  test('every query ends: a stage nobody polls fails it by name, and so does its deadline', async () => {
    // The whole-model VM queue has no worker here: a plan that fuses the model on VMs, with no overflow, strands
    // the query in that queue.
    await publishPlan(nats.nc, planFromSpec('all-vm+fuse:1-4', MODEL, STAGES, Date.now()), STAGES, client);
    const short = await SerflowClient.connect({
      temporalAddress: harness.env.address,
      natsUrl: nats.url,
      namespace: harness.env.namespace ?? 'default',
      config: compileConfig({ homeDir: dir, stages: { timeoutMs: 3_000, queueTimeoutMs: 1_500 } }),
    });
    try {
      const calls = stageCalls.length;
      await assert.rejects(short.infer(image, { queryId: 'stranded' }), (err: unknown) => {
        assert.ok(err instanceof InferenceFailedError, String(err));
        assert.equal(err.type, 'StageUnavailableError');
        assert.match(err.message, /^stage 1: no vm worker took it within 1500 ms$/);
        return true;
      });
      assert.equal(stageCalls.length, calls, 'no stage ran');
      // The default queue timeout (a minute) outlasts a 1 s deadline: the workflow's own timeout ends the query.
      await assert.rejects(client.infer(image, { queryId: 'late', deadlineMs: 1_000 }), (err: unknown) => {
        assert.ok(err instanceof InferenceFailedError, String(err));
        assert.equal(err.type, 'QueryDeadlineExceeded');
        return true;
      });
      await assert.rejects(client.start(image, { queryId: 'no-deadline', deadlineMs: 0 }), (err: unknown) => {
        assert.ok(err instanceof InferenceFailedError, String(err));
        assert.equal(err.type, 'InvalidInputError');
        assert.match(err.message, /^deadlineMs: expected a positive integer number of ms, got 0$/);
        return true;
      });
    } finally {
      await short.close();
    }
  });

  test('a bad value in the routing bucket never stops queries: last good plan, or with none every stage serverless', async () => {
    const kv = await nats.nc.jetstream().views.kv(ROUTING_BUCKET);
    const probe = await createRoutingStore(nats.nc, { watch: true });
    const warn = console.warn;
    console.warn = () => undefined; // the rejections are reported; this test counts them instead
    try {
      const good = planFromSpec('vm-prefix:1', MODEL, STAGES, Date.now());
      await publishPlan(nats.nc, good, STAGES, client);
      await until(
        'the good plan is read',
        async () => ((await probe.get(MODEL)) as RoutingPlan | null)?.updatedAt === good.updatedAt,
      );
      // Not JSON, then JSON that is no plan: each rejected, the good plan stays in force.
      await kv.put(MODEL, 'garbage');
      await kv.put(MODEL, JSON.stringify({ v: 1, model: MODEL }));
      await until('two values rejected', async () => probe.rejected >= 2);
      assert.deepEqual(await probe.get(MODEL), good);
      const kept = await client.infer(image, { threshold: THRESHOLD, queryId: 'bad-value-kept' });
      assert.deepEqual(route(kept.stages), ['1:vm', '2:faas', '3:faas', '4:faas']);

      // No good plan since the deletion: the rejected value puts every stage serverless (not on VM pools that may
      // have no VM).
      await kv.delete(MODEL);
      await kv.put(MODEL, '{"v":1,"model":"mnist-ee","source":"by hand","updatedAt":1,"stages":"all"}');
      await until('a third value rejected', async () => probe.rejected >= 3);
      // The client's own watch has it too once a query it builds is all serverless.
      await until('the client routes every stage serverless', async () => {
        const q = await client.buildQuery(image, { queryId: 'routing-probe' });
        return q.descriptor?.routing.stages.every((r) => r.vmShare === 0) ?? false;
      });
      const stored = await probe.get(MODEL);
      assert.ok(isRejectedPlan(stored), JSON.stringify(stored));
      assert.match(stored.rejected, /stages: expected a list/);
      const serverless = await client.infer(image, { threshold: THRESHOLD, queryId: 'bad-value-serverless' });
      assert.deepEqual(route(serverless.stages), ['1:faas', '2:faas', '3:faas', '4:faas']);
      // A writer cannot store what readers reject.
      await assert.rejects(probe.put({ ...good, stages: [{ stage: 1, vmShare: 7 }] }), InvalidRoutingPlanError);
    } finally {
      console.warn = warn;
      probe.close();
    }
  });

  test('a wrong query is refused before a workflow starts, with the type the workflow would give', async () => {
    const calls = stageCalls.length;
    await assert.rejects(client.start(image, { maxStage: 9, queryId: 'refused' }), (err: unknown) => {
      assert.ok(err instanceof InferenceFailedError, String(err));
      assert.equal(err.type, 'UnknownStageError');
      assert.match(err.message, /maxStage 9 is out of range: model mnist-ee has stages 1\.\.4/);
      return true;
    });
    await assert.rejects(
      client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, 'refused')).describe(),
      WorkflowNotFoundError,
    );
    assert.equal(stageCalls.length, calls, 'no stage ran');
  });
});
