/**
 * Routing plans on a real stack: where each stage's executions go (VM pool or serverless), cold then warm
 * function starts, overflow from a stalled VM pool to serverless, and throttling at the account concurrency
 * limit that loses no query.
 *
 * Time scale 10: the 2 000 ms cold-start extra waits 200 ms of wall time; the 600 000 ms keep-alive (60 s wall)
 * keeps every instance warm for the whole file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDirectPipeline, type DirectPipeline, type DirectResult } from '../../models/runtime/direct-pipeline';
import type { InferenceResult, StageRecord } from '../../common/contracts';
import type { BillingEvent } from '../../common/billing-events';
import { stageTaskQueue } from '../../common/naming';
import { planFromSpec, type RoutingPlan } from '../../common/routing';
import { sampleIndices } from '../../common/stats';
import { callPoolsApi } from '../../infra/pools-api';
import { loadSplit, type DatasetSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { readAllBillingEvents } from '../helpers/billing-events';
import { publishPlan } from '../helpers/routing';
import { byQuery, readAllStageEvents } from '../helpers/stage-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const MODEL = 'mnist-ee';
const STAGES = 4;
const TIME_SCALE = 10;
/** Almost no image is this confident early, so most queries reach stages 3 and 4. */
const THRESHOLD = 0.999999;
const FAAS = { coldStartExtraMs: 2_000, keepAliveMs: 600_000, memoryMb: 512, stageMemoryMb: {} };
/** VM executions not started within this long go serverless (stage 2 of the overflow test). */
const OVERFLOW_AFTER_MS = 300;
/**
 * Stage start-to-close in the first suite: a generous ceiling, not the 3 s of TEST_CONFIG. The all-faas test counts
 * cold starts and instances, which a retried attempt changes; a worker that is gone is still noticed by the
 * heartbeat timeout, which this does not change.
 */
const STAGE_TIMEOUT_MS = 60_000;

function assertSameAsDirect(result: InferenceResult, direct: DirectResult, what: string): void {
  assert.equal(result.label, direct.label, `${what}: label`);
  assert.equal(result.exitStage, direct.exitStage, `${what}: exit stage`);
  assert.ok(Math.abs(result.confidence - direct.confidence) < 1e-6, `${what}: confidence`);
  assert.deepEqual(
    result.stages.map((s) => s.label),
    direct.stages.map((s) => s.label),
    `${what}: stage labels`,
  );
}

/** Images (as indices) whose in-process run at THRESHOLD reaches the last stage, so every function is called. */
async function deepSamples(direct: DirectPipeline, split: DatasetSplit, n: number, seed: number): Promise<number[]> {
  const out: number[] = [];
  for (const i of sampleIndices(split.images.length, 200, seed)) {
    if ((await direct.run(split.images[i]!, THRESHOLD)).exitStage === STAGES) out.push(i);
    if (out.length === n) return out;
  }
  throw new Error(`only ${out.length} of 200 samples reach stage ${STAGES} at threshold ${THRESHOLD}`);
}

describe('routing plans on a real stack', () => {
  let t: TestStack;
  let direct: DirectPipeline;
  let split: DatasetSplit;

  before(async () => {
    // A stage attempt is timed out only when something is broken (STAGE_TIMEOUT_MS), not when a real cold start
    // is slow on a loaded machine: a retried cold start would answer warm, or from a second instance.
    t = await startTestStack({
      timeScale: TIME_SCALE,
      faas: { ...FAAS, accountConcurrency: 4 },
      stages: { timeoutMs: STAGE_TIMEOUT_MS },
    });
    direct = await createDirectPipeline(MODEL);
    split = loadSplit(loadManifest(MODEL), 'test');
  });

  after(async () => {
    await direct?.close();
    await t?.stop();
  });

  // First in the file: no function has an instance yet, so the first call of each is cold.
  test('all-faas: every stage runs serverless; the first call of each function is cold, later ones warm', async () => {
    await publishPlan(t.nc, planFromSpec('all-faas', MODEL, STAGES, Date.now()), STAGES, t.client);
    const picks = await deepSamples(direct, split, 5, 51);
    const results: InferenceResult[] = [];
    // One at a time: each function then has one instance, idle whenever the next call comes.
    for (const i of picks) results.push(await t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD }));

    for (const [n, i] of picks.entries()) {
      const r = results[n]!;
      assertSameAsDirect(r, await direct.run(split.images[i]!, THRESHOLD), `sample ${i}`);
      assert.deepEqual(r.backends, ['faas']);
      for (const s of r.stages) {
        assert.equal(s.backend, 'faas', `query ${r.queryId} stage ${s.stage}`);
        assert.equal(s.taskQueue, stageTaskQueue(MODEL, s.stage, 'faas'));
        assert.equal(s.worker, s.instanceId, 'the worker of a serverless execution is its function instance');
      }
    }
    for (let stage = 1; stage <= STAGES; stage++) {
      const calls = results.map((r) => r.stages.find((s) => s.stage === stage)!);
      assert.deepEqual(
        calls.map((s) => s.coldStart),
        calls.map((_, n) => n === 0),
        `stage ${stage}: cold on the first call only`,
      );
      assert.equal(new Set(calls.map((s) => s.instanceId)).size, 1, `stage ${stage}: one instance served every call`);
    }
  });

  test('vm-prefix:2 sends exactly stages 1-2 to VMs and 3-4 serverless; events and bills agree', async (ctx) => {
    await publishPlan(t.nc, planFromSpec('vm-prefix:2', MODEL, STAGES, Date.now()), STAGES, t.client);
    const picks = sampleIndices(split.images.length, 30, 53);
    const results = await Promise.all(
      picks.map((i) => t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD })),
    );
    const records = results.flatMap((r) => r.stages);
    assert.ok(
      records.filter((s) => s.stage >= 3).length >= 20,
      'most queries reach stage 3 at this threshold (the test would say little otherwise)',
    );
    for (const s of records) {
      assert.equal(s.backend, s.stage <= 2 ? 'vm' : 'faas', `stage ${s.stage} ran on ${s.backend}`);
      assert.equal(s.overflowed, undefined);
    }

    // Stage events carry one message id per (workflow run, stage) (stageEventMsgId), so JetStream keeps exactly one
    // event per executed stage however many attempts ran: the first to publish. A stage attempt that timed out (a
    // slow cold start on a busy machine) and was retried may still have run to the end and published first; then
    // the event is that earlier attempt's and the answering attempt's was dropped as a duplicate. Invocations are
    // not deduplicated (a cloud bills every one): at least one, at most one per attempt.
    const events = byQuery(await readAllStageEvents(t.nc));
    const ids = new Set(results.map((r) => r.queryId));
    const invoked = (await readAllBillingEvents(t.nc)).filter(
      (e): e is Extract<BillingEvent, { type: 'faas.invoked' }> => e.type === 'faas.invoked' && ids.has(e.queryId),
    );
    for (const r of results) {
      const list = events.get(r.queryId) ?? [];
      assert.deepEqual(
        list.map((e) => e.stage),
        r.stages.map((s) => s.stage),
        `query ${r.queryId}: exactly one event per executed stage`,
      );
      for (const s of r.stages) {
        const [only] = list.filter((e) => e.stage === s.stage);
        assert.ok(only, `query ${r.queryId} stage ${s.stage}: its event`);
        assert.equal(only.backend, s.backend, `query ${r.queryId} stage ${s.stage}: event backend`);
        if (only.attempt === s.attempt) assert.equal(only.worker, s.worker, 'the answering attempt published it');
        else assert.ok(only.attempt < s.attempt, `stage ${s.stage}: an earlier attempt (${only.attempt}) published it`);
        const bills = invoked.filter((e) => e.queryId === r.queryId && e.stage === s.stage);
        if (s.backend === 'vm') {
          assert.equal(bills.length, 0, `query ${r.queryId} stage ${s.stage}: a VM execution invokes nothing`);
        } else {
          assert.ok(
            bills.length >= 1 && bills.length <= s.attempt,
            `${bills.length} invocations, attempt ${s.attempt}`,
          );
          assert.ok(
            bills.some((e) => e.instanceId === s.instanceId),
            'the answering instance billed its invocation',
          );
        }
      }
    }
    assert.ok(
      invoked.every((e) => e.stage === 3 || e.stage === 4),
      `invoked stages: ${[...new Set(invoked.map((e) => e.stage))].join(', ')}`,
    );
    // One invocation per serverless attempt that reached its function, at least one per execution: exact when
    // nothing was retried, bounded by the attempts otherwise.
    const retried = records.filter((s) => s.attempt > 1).length;
    const serverless = records.filter((s) => s.backend === 'faas');
    const attempts = serverless.reduce((n, s) => n + s.attempt, 0);
    assert.ok(
      invoked.length >= serverless.length && invoked.length <= attempts,
      `${invoked.length} invocations for ${serverless.length} serverless executions (${attempts} attempts)`,
    );
    ctx.diagnostic(
      `${serverless.length} serverless executions, ${invoked.length} invocations, ${retried} retried attempts`,
    );
  });

  test('overflow: stage-2 executions a frozen VM pool does not start within 300 ms run serverless', async (ctx) => {
    const plan: RoutingPlan = {
      ...planFromSpec('all-vm', MODEL, STAGES, Date.now()),
      source: 'test:overflow-stage-2',
    };
    plan.stages = plan.stages.map((r) => (r.stage === 2 ? { ...r, overflowAfterMs: OVERFLOW_AFTER_MS } : r));
    await publishPlan(t.nc, plan, STAGES, t.client);
    const vm = (await callPoolsApi(t.nc, { op: 'list' })).vms.find(
      (v) => v.model === MODEL && v.stage === 2 && v.state === 'ready',
    );
    assert.ok(vm?.pid, 'stage 2 has a ready VM');

    const picks = sampleIndices(split.images.length, 4, 57);
    let results: InferenceResult[];
    process.kill(vm.pid, 'SIGSTOP');
    try {
      results = await Promise.all(
        picks.map((i) => t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD })),
      );
    } finally {
      process.kill(vm.pid, 'SIGCONT');
    }
    for (const [n, i] of picks.entries()) {
      const r = results[n]!;
      assertSameAsDirect(r, await direct.run(split.images[i]!, THRESHOLD), `sample ${i}`);
      const s2: StageRecord | undefined = r.stages.find((s) => s.stage === 2);
      assert.ok(s2, `query ${r.queryId} ran stage 2`);
      assert.equal(s2.backend, 'faas', `query ${r.queryId}: stage 2 backend`);
      assert.equal(s2.overflowed, true, `query ${r.queryId}: stage 2 overflowed`);
      for (const s of r.stages.filter((x) => x.stage !== 2)) {
        assert.equal(s.backend, 'vm', `query ${r.queryId}: stage ${s.stage} stays on its VM pool`);
        assert.equal(s.overflowed, undefined);
      }
    }
    ctx.diagnostic(`latencies ${results.map((r) => r.latencyMs).join(', ')} ms`);
  });
});

describe('throttling at the account concurrency limit', () => {
  let t: TestStack;
  let direct: DirectPipeline;
  let split: DatasetSplit;

  before(async () => {
    t = await startTestStack({
      timeScale: TIME_SCALE,
      faas: { ...FAAS, accountConcurrency: 1 },
      routing: { plan: 'all-faas' },
    });
    direct = await createDirectPipeline(MODEL);
    split = loadSplit(loadManifest(MODEL), 'test');
  });

  after(async () => {
    await direct?.close();
    await t?.stop();
  });

  test('12 concurrent all-faas queries with a limit of 1 are throttled, retried, and all complete right', async (ctx) => {
    const picks = sampleIndices(split.images.length, 12, 59);
    const settled = await Promise.allSettled(
      picks.map((i) => t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD })),
    );
    const failed = settled.flatMap((s, n) =>
      s.status === 'rejected' ? [`sample ${picks[n]}: ${(s.reason as Error).message}`] : [],
    );
    assert.deepEqual(failed, [], 'no query failed');
    const results = settled.map((s) => (s as PromiseFulfilledResult<InferenceResult>).value);
    for (const [n, i] of picks.entries()) {
      assertSameAsDirect(results[n]!, await direct.run(split.images[i]!, THRESHOLD), `sample ${i}`);
      assert.deepEqual(results[n]!.backends, ['faas']);
    }
    const billing = await readAllBillingEvents(t.nc);
    const throttled = billing.filter((e) => e.type === 'faas.throttled');
    assert.ok(throttled.length > 0, 'the limit refused some calls');
    assert.ok(
      throttled.every((e) => e.type === 'faas.throttled' && e.concurrency === 1),
      'each refusal reports the limit',
    );
    const maxAttempt = Math.max(...results.flatMap((r) => r.stages.map((s) => s.attempt)));
    ctx.diagnostic(`${throttled.length} throttled calls; highest stage attempt ${maxAttempt}`);
  });
});
