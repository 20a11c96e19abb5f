/**
 * The local serverless platform on a real nats-server and Temporal dev server, with real instance processes:
 * cold then warm starts, keep-alive reclaim, the account concurrency limit (throttle, then a retry succeeds),
 * results equal to in-process ONNX runs, an instance dying mid-request, billing events matching the invocations,
 * and the faas gateway (activity and workers).
 *
 * Time scale 10: the 1 000 ms cold-start extra waits 100 ms of wall time, the 50 000 ms keep-alive 5 s (the tests
 * that follow one another on a warm instance need it to outlive a stall of the machine; the reclaim test waits it).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type NativeConnection } from '@temporalio/worker';
import type { Subscription } from 'nats';
import { createFaasGatewayActivities } from '../../activities/faas-gateway';
import { createFaasGatewayWorkers } from '../../workers/faas-gateway-worker';
import { createDirectPipeline, type DirectPipeline, type DirectResult } from '../../models/runtime/direct-pipeline';
import { createBillingPublisher } from '../../billing/publisher';
import { BILLING_EVENTS_SUBJECT_PREFIX, parseBillingEvent, type BillingEvent } from '../../common/billing-events';
import type { StageCallContext, StageInput, StageOutput, TensorRef } from '../../common/contracts';
import { isAlive } from '../../deploy/local/processes';
import {
  FunctionInstanceLostError,
  createLocalServerlessPlatform,
  type FunctionInstanceEvent,
  type LocalServerlessPlatform,
} from '../../deploy/local/serverless-platform';
import { FunctionThrottledError, type FunctionInvocation } from '../../infra/providers';
import { inlineTensor } from '../../common/tensor-codec';
import { quantile } from '../../common/stats';
import { connectWorkerConnection } from '../../infra/temporal';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const MODEL = 'mnist-ee';
const TIME_SCALE = 10;
const KEEP_ALIVE_MS = 50_000;
const COLD_START_EXTRA_MS = 1_000;
const CONCURRENCY = 2;
const STAGE_MEMORY = { '2': 1024 };
/** Every stage but 2 gets the default function memory. */
const DEFAULT_MEMORY = 512;
/** High enough that the uncertain image continues after stage 1 (its stage-1 confidence is < 0.9). */
const THRESHOLD = 0.99;
const WARM_CALLS = 50;

const memoryOf = (stage: number) => (stage === 2 ? 1024 : DEFAULT_MEMORY);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function callContext(stage: number): StageCallContext {
  return {
    workflowId: `wf-${++seq}`,
    runId: 'run',
    attempt: 1,
    scheduledAt: Date.now(),
    taskQueue: `${MODEL}.stage-${stage}.faas`,
  };
}

function stageInput(stage: number, activation: TensorRef, queryId = `q-${seq + 1}`): StageInput {
  return {
    queryId,
    model: MODEL,
    stage,
    lastStage: 4,
    threshold: THRESHOLD,
    activation,
    inlineActivationMaxBytes: 16 * 1024,
  };
}

function assertSameAsDirect(out: StageOutput, direct: DirectResult, stage: number): void {
  const d = direct.stages[stage - 1];
  assert.ok(d, `the direct run reached stage ${stage}`);
  assert.equal(out.label, d.label, `stage ${stage} label`);
  assert.ok(
    Math.abs(out.confidence - d.confidence) < 1e-6,
    `stage ${stage} confidence ${out.confidence} vs ${d.confidence}`,
  );
}

async function waitFor<T>(what: string, timeoutMs: number, f: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe('local serverless platform on a real stack', () => {
  let t: TestStack;
  let platform: LocalServerlessPlatform;
  let direct: DirectPipeline;
  let image: Float32Array;
  let directResult: DirectResult;
  let billingSub: Subscription;
  const billing: BillingEvent[] = [];
  const lifecycle: FunctionInstanceEvent[] = [];
  /** Every invocation that ran (billed): the successes, and the count of failures that ran. */
  const ran: Array<Pick<FunctionInvocation, 'instanceId' | 'coldStart' | 'memoryMb'> & { stage: number }> = [];
  let ranFailed = 0;
  const record = (inv: FunctionInvocation, stage: number) => {
    ran.push({ instanceId: inv.instanceId, coldStart: inv.coldStart, memoryMb: inv.memoryMb, stage });
    return inv;
  };
  const invoke = async (stage: number, activation: TensorRef) =>
    record(await platform.invoke({ model: MODEL, stage }, stageInput(stage, activation), callContext(stage)), stage);

  before(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    t = await startTestStack(
      {
        timeScale: TIME_SCALE,
        faas: {
          keepAliveMs: KEEP_ALIVE_MS,
          coldStartExtraMs: COLD_START_EXTRA_MS,
          accountConcurrency: CONCURRENCY,
          stageMemoryMb: STAGE_MEMORY,
        },
      },
      { workers: false },
    );
    billingSub = t.nc.subscribe(`${BILLING_EVENTS_SUBJECT_PREFIX}.>`);
    void (async () => {
      for await (const m of billingSub) billing.push(parseBillingEvent(m.json()));
    })();
    platform = createLocalServerlessPlatform({
      config: t.config,
      natsUrl: t.stack.info.natsUrl,
      nc: t.nc,
      billing: createBillingPublisher(t.nc, TIME_SCALE),
      logDir: path.join(t.dir, 'fn-logs'),
      onInstance: (e) => lifecycle.push(e),
      log: () => undefined,
    });
    direct = await createDirectPipeline(MODEL);
    const { images } = loadSplit(loadManifest(MODEL), 'test');
    for (const img of images.slice(0, 200)) {
      const r = await direct.run(img, THRESHOLD);
      if (r.stages[0]!.confidence < 0.9 && r.stages.length >= 2) {
        image = new Float32Array(img);
        directResult = r;
        break;
      }
    }
    assert.ok(image, 'an uncertain test image among the first 200');
  });

  after(async () => {
    billingSub?.unsubscribe();
    await platform?.close();
    await direct?.close();
    await t?.stop();
  });

  let firstInstance: string;
  let stage1Output: StageOutput;

  test('the first call is cold, the next call to the same function warm on the same instance; results equal ONNX in process', async (ctx) => {
    const t0 = performance.now();
    const cold = await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
    const coldWallMs = performance.now() - t0;
    assert.equal(cold.coldStart, true);
    assert.ok(cold.initMs >= COLD_START_EXTRA_MS, `initMs ${cold.initMs} includes the ${COLD_START_EXTRA_MS} ms extra`);
    assert.ok(cold.durationMs > 0);
    assert.equal(cold.memoryMb, DEFAULT_MEMORY);
    assert.equal(cold.output.backend, 'faas');
    assert.equal(cold.output.worker, cold.instanceId);
    assert.equal(cold.output.taskQueue, `${MODEL}.stage-1.faas`);
    assert.equal(cold.output.exited, false);
    assertSameAsDirect(cold.output, directResult, 1);
    const ready = lifecycle.find((e) => e.type === 'ready' && e.instance.instanceId === cold.instanceId);
    assert.ok(ready && ready.type === 'ready');
    // The real part of the init is billed as measured: initMs = measured + extra.
    assert.ok(Math.abs(cold.initMs - COLD_START_EXTRA_MS - ready.initWallMs) < 1e-6);
    ctx.diagnostic(
      `cold call ${coldWallMs.toFixed(0)} ms wall (process start + model load ${ready.initWallMs.toFixed(0)} ms, extra ${COLD_START_EXTRA_MS / TIME_SCALE} ms wall)`,
    );

    const warm = await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
    assert.equal(warm.coldStart, false);
    assert.equal(warm.initMs, 0);
    assert.equal(warm.instanceId, cold.instanceId);
    assertSameAsDirect(warm.output, directResult, 1);
    const info = platform.list().find((i) => i.instanceId === cold.instanceId);
    assert.equal(info?.state, 'idle');
    assert.equal(info?.invocations, 2);
    firstInstance = cold.instanceId;
    stage1Output = warm.output;
  });

  test('stage 2 runs on its own function with its own memory, on the activation stage 1 handed on', async () => {
    assert.ok(stage1Output.activation, 'stage 1 continued');
    const inv = await invoke(2, stage1Output.activation);
    assert.equal(inv.coldStart, true);
    assert.equal(inv.memoryMb, 1024);
    assert.notEqual(inv.instanceId, firstInstance);
    assertSameAsDirect(inv.output, directResult, 2);
  });

  test(`warm invocations: ${WARM_CALLS} sequential calls all reuse the instance (p50 latency reported)`, async (ctx) => {
    const latencies: number[] = [];
    for (let i = 0; i < WARM_CALLS; i++) {
      const t0 = performance.now();
      const inv = await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
      latencies.push(performance.now() - t0);
      assert.equal(inv.coldStart, false);
      assert.equal(inv.instanceId, firstInstance);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    ctx.diagnostic(
      `warm invoke latency over ${WARM_CALLS}: p50 ${quantile(sorted, 0.5).toFixed(2)} ms, p90 ${quantile(sorted, 0.9).toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms`,
    );
  });

  test('an idle instance is reclaimed after the keep-alive (50 000 ms / 10 = 5 s wall), not before; the next call is cold again', async () => {
    const lastUse = platform.list().find((i) => i.instanceId === firstInstance)?.lastUsedAt;
    assert.ok(lastUse, 'the instance is idle');
    // Not before the keep-alive (a timer can only fire late, never early); how late is the machine's load, so the
    // wait has a generous ceiling instead of an upper bound.
    await waitFor('reclaim', 60_000, () =>
      platform.list().some((i) => i.instanceId === firstInstance) ? undefined : true,
    );
    const elapsed = Date.now() - lastUse;
    assert.ok(elapsed >= KEEP_ALIVE_MS / TIME_SCALE - 50, `reclaimed after ${elapsed} ms`);
    const reclaimed = await waitFor('reclaimed event', 30_000, () =>
      billing.find((e) => e.type === 'faas.instance.reclaimed' && e.instanceId === firstInstance),
    );
    assert.equal(reclaimed.type === 'faas.instance.reclaimed' && reclaimed.reason, 'keep-alive');
    await waitFor('stage-2 instance reclaimed too', 60_000, () => (platform.list().length === 0 ? true : undefined));

    const again = await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
    assert.equal(again.coldStart, true);
    assert.notEqual(again.instanceId, firstInstance);
  });

  test('at the concurrency limit (2) a third simultaneous call is throttled; once calls finish a retry succeeds', async () => {
    const before = billing.filter((e) => e.type === 'faas.throttled').length;
    const input = stageInput(1, inlineTensor(image, [1, 1, 28, 28]), 'q-throttle');
    // Three calls at once with one idle stage-1 instance: one runs warm, one starts an instance, the third is
    // refused (2 executions in flight). The decision is synchronous in invoke(), so the order is deterministic.
    const settled = await Promise.allSettled(
      [0, 1, 2].map(() => platform.invoke({ model: MODEL, stage: 1 }, input, callContext(1))),
    );
    const ok = settled.filter((s): s is PromiseFulfilledResult<FunctionInvocation> => s.status === 'fulfilled');
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    for (const s of ok) record(s.value, 1);
    assert.equal(ok.length, 2, 'two calls ran');
    assert.deepEqual(ok.map((s) => s.value.coldStart).sort(), [false, true]);
    assert.equal(refused.length, 1, 'one call was throttled');
    assert.ok(refused[0]!.reason instanceof FunctionThrottledError, String(refused[0]!.reason));
    const throttled = await waitFor('faas.throttled event', 2_000, () =>
      billing.filter((e) => e.type === 'faas.throttled').length > before
        ? billing.filter((e) => e.type === 'faas.throttled').at(-1)
        : undefined,
    );
    assert.equal(throttled.type === 'faas.throttled' && throttled.concurrency, CONCURRENCY);
    assert.equal(throttled.type === 'faas.throttled' && throttled.queryId, 'q-throttle');

    // The caller (Temporal's retry policy) tries again after a backoff: instances are idle now, it runs warm.
    const retried = record(await platform.invoke({ model: MODEL, stage: 1 }, input, callContext(1)), 1);
    assert.equal(retried.coldStart, false);
    assertSameAsDirect(retried.output, directResult, 1);
  });

  test('through the gateway activity: output with the serverless facts; bad input fails non-retryable; throttling is a retryable failure', async () => {
    const { runStage } = createFaasGatewayActivities({ platform });
    const run = (input: StageInput): Promise<StageOutput> =>
      new MockActivityEnvironment({ taskQueue: `${MODEL}.stage-1.faas` }, { logger: new DefaultLogger('ERROR') }).run(
        runStage,
        input,
      );
    const before = new Set(platform.list().map((i) => i.instanceId));
    const out = await run(stageInput(1, inlineTensor(image, [1, 1, 28, 28])));
    assert.equal(out.backend, 'faas');
    // Cold exactly when the instance that answered did not exist before the call.
    assert.equal(out.coldStart, !before.has(out.instanceId!), `instance ${out.instanceId}`);
    assert.ok(out.instanceId && out.worker === out.instanceId);
    assert.ok(out.billedMs !== undefined && out.billedMs >= 1);
    assertSameAsDirect(out, directResult, 1);
    ran.push({ instanceId: out.instanceId, coldStart: out.coldStart, memoryMb: DEFAULT_MEMORY, stage: 1 });

    // A 27x27 image: the instance rejects it, the gateway fails the activity for good.
    let caught: unknown;
    await assert.rejects(
      run(stageInput(1, inlineTensor(new Float32Array(27 * 27), [1, 1, 27, 27]))),
      (err: unknown) => ((caught = err), true),
    );
    ranFailed++; // it ran on an instance: billed
    assert.ok(caught instanceof ApplicationFailure, String(caught));
    assert.equal(caught.type, 'InvalidInputError');
    assert.equal(caught.nonRetryable, true);

    // Three at once on warm stage-1 instances with a limit of 2: one comes back as a retryable throttle.
    const results = await Promise.allSettled(
      [0, 1, 2].map(() => run(stageInput(1, inlineTensor(image, [1, 1, 28, 28])))),
    );
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const r of results) {
      if (r.status === 'fulfilled') {
        ran.push({
          instanceId: r.value.instanceId!,
          coldStart: r.value.coldStart!,
          memoryMb: DEFAULT_MEMORY,
          stage: 1,
        });
      }
    }
    assert.equal(failures.length, 1);
    const f = failures[0]!.reason as unknown;
    assert.ok(f instanceof ApplicationFailure, String(f));
    assert.equal(f.type, 'FunctionThrottledError');
    assert.equal(f.nonRetryable, false);
  });

  test('an instance that dies mid-request fails the call as retryable at once and is dropped', async () => {
    const inv = await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
    const id = inv.instanceId;
    const pid = platform.pidOf(id);
    assert.ok(pid);
    // Freeze the instance so the request is in progress when it dies.
    process.kill(pid, 'SIGSTOP');
    const pending = platform.invoke(
      { model: MODEL, stage: 1 },
      stageInput(1, inlineTensor(image, [1, 1, 28, 28])),
      callContext(1),
    );
    await sleep(300);
    assert.equal(platform.list().find((i) => i.instanceId === id)?.state, 'busy');
    process.kill(pid, 'SIGKILL');
    // Detected by the exit, not by the request timeout: a timeout would reject with another error.
    await assert.rejects(pending, (err: unknown) => err instanceof FunctionInstanceLostError);
    assert.equal(
      platform.list().find((i) => i.instanceId === id),
      undefined,
    );
    const reclaimed = await waitFor('reclaimed event', 2_000, () =>
      billing.find((e) => e.type === 'faas.instance.reclaimed' && e.instanceId === id),
    );
    assert.equal(reclaimed.type === 'faas.instance.reclaimed' && reclaimed.reason, 'crashed');
    // The invocation it died under is billed up to its death, as a cloud bills a crashed invocation: it was in
    // progress for at least the 300 ms the instance was frozen.
    // (Its calls that succeeded took milliseconds.)
    await waitFor('the crashed invocation billed', 2_000, () =>
      billing.find((e) => e.type === 'faas.invoked' && e.instanceId === id && e.durationMs >= 300),
    );
    ranFailed++;
    // The retry runs on another instance.
    const retry = await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
    assert.notEqual(retry.instanceId, id);
  });

  test('billing events match the invocations: one faas.invoked per run, cold flags and memory per stage', async () => {
    const expected = ran.length + ranFailed;
    await waitFor('faas.invoked events', 3_000, () =>
      billing.filter((e) => e.type === 'faas.invoked').length >= expected ? true : undefined,
    );
    const invoked = billing.filter((e) => e.type === 'faas.invoked');
    assert.equal(invoked.length, expected);
    for (const e of invoked) {
      assert.equal(e.memoryMb, memoryOf(e.stage), `memory of stage ${e.stage}`);
      assert.equal(e.timeScale, TIME_SCALE);
      assert.equal(e.initMs > 0, e.coldStart, 'init is billed exactly on cold starts');
    }
    const key = (x: { instanceId: string; coldStart: boolean; memoryMb: number; stage: number }) =>
      `${x.instanceId}/${x.stage}/${x.memoryMb}/${x.coldStart}`;
    const got = invoked.map(key).sort();
    for (const r of ran) {
      const i = got.indexOf(key(r));
      assert.ok(i >= 0, `an event for ${key(r)}`);
      got.splice(i, 1);
    }
    assert.equal(got.length, ranFailed, 'the remaining events are the failed invocations that ran');
    // One faas.instance.started per instance, and each instance's first invocation is its only cold one.
    const started = billing.filter((e) => e.type === 'faas.instance.started');
    const coldIds = invoked.filter((e) => e.coldStart).map((e) => e.instanceId);
    assert.equal(new Set(coldIds).size, coldIds.length);
    for (const id of coldIds)
      assert.ok(
        started.some((e) => e.instanceId === id),
        `started event for ${id}`,
      );
  });

  test('the gateway workers poll every faas stage queue on the real server and shut down cleanly', async () => {
    let connection: NativeConnection | undefined;
    let client: Connection | undefined;
    try {
      connection = await connectWorkerConnection({
        address: t.stack.info.temporalAddress,
        embedded: t.stack.info.embeddedTemporal,
      });
      const gateway = await createFaasGatewayWorkers({ config: t.config, connection, platform, models: [MODEL] });
      assert.deepEqual(gateway.taskQueues, [
        ...[1, 2, 3, 4].map((k) => `${MODEL}.stage-${k}.faas`),
        `${MODEL}.all-stages.faas`,
      ]);
      const running = gateway.run();
      client = await Connection.connect({ address: t.stack.info.temporalAddress });
      const c = client;
      for (const name of gateway.taskQueues) {
        const deadline = Date.now() + 10_000;
        let pollers = 0;
        while (Date.now() < deadline && pollers === 0) {
          const r = await c.workflowService.describeTaskQueue({
            namespace: t.config.temporal.namespace,
            taskQueue: { name },
            taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
          });
          pollers = r.pollers?.length ?? 0;
          if (pollers === 0) await sleep(100);
        }
        assert.ok(pollers > 0, `a poller on ${name}`);
      }
      gateway.shutdown();
      await running;
    } finally {
      await client?.close();
      await connection?.close();
    }
  });

  test('close() stops every instance process', async () => {
    await invoke(1, inlineTensor(image, [1, 1, 28, 28]));
    const open = platform.list().map((i) => i.instanceId);
    const pids = open.map((id) => platform.pidOf(id)!);
    assert.ok(pids.length >= 1);
    await platform.close();
    assert.deepEqual(platform.list(), []);
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} stopped`);
    // Each instance open at close() is reported reclaimed (its bill ends): by id, not by counting every reclaim of
    // the file, which earlier tests' keep-alive reclaims would satisfy.
    const reclaimed = () =>
      new Set(billing.filter((e) => e.type === 'faas.instance.reclaimed').map((e) => e.instanceId));
    await waitFor('a reclaimed event for every closed instance', 30_000, () =>
      open.every((id) => reclaimed().has(id)) ? true : undefined,
    );
  });
});
