/**
 * VM pools of the local cloud agent on a real stack: a VM launched by a scale-out serves nothing before its boot
 * delay has passed and then takes work; a scale-in under load drains a VM without losing or repeating a query.
 *
 * Time scale 10: the 30 000 ms boot delay is 3 s of wall time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { temporal } from '@temporalio/proto';
import { createDirectPipeline, type DirectPipeline } from '../../models/runtime/direct-pipeline';
import type { InferenceHandle } from '../../client';
import type { InferenceResult, StageRecord } from '../../common/contracts';
import { sampleIndices } from '../../common/stats';
import { callPoolsApi } from '../../infra/pools-api';
import type { VmInstance } from '../../infra/providers';
import { loadSplit, type DatasetSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { vmBillingEvents, waitForBillingEvents } from '../helpers/billing-events';
import { byQuery, readAllStageEvents } from '../helpers/stage-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { sleep, waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const TIME_SCALE = 10;
const BOOT_DELAY_MS = 30_000;
/** The boot delay in wall time: 30 000 cloud ms / 10. */
const BOOT_WALL_MS = BOOT_DELAY_MS / TIME_SCALE;
/** Almost no image is this confident early, so queries run past stage 1. */
const THRESHOLD = 0.999999;
/** Concurrent query loops while a VM boots: enough to keep both stage-2 VMs offered work, few for 2 cores. */
const TRAFFIC_LOOPS = 3;
/** Wall ms a frozen VM holds its polls, well under the stage timeouts of this file. */
const FREEZE_MS = 1_000;
/**
 * Start-to-close and heartbeat timeout of a stage attempt in this file, wall ms. A task handed to a frozen VM runs
 * both clocks from its dispatch while the VM cannot heartbeat, so they are set far above any freeze here (the drain
 * tests freeze a VM for at most HOLD_CEILING_MS plus a pools call): an attempt 2 then means a task the drain lost,
 * never a freeze that outlasted the timeout on a busy machine. A lost task still shows, 30 s later, as attempt 2.
 */
const STAGE_TIMEOUT_MS = 30_000;
/** Ceiling of the wait for a frozen VM to be handed tasks on its open polls (under a second on an idle stack). */
const HOLD_CEILING_MS = 10_000;
const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
/**
 * Scale-ins under load in the drain test. A drain that cancels its VM's open polls lost a task in about 1 drain of 4
 * under load (attempt 2, and the VM ran nothing after its drain began); three rounds catch that most of the time.
 */
const DRAIN_ROUNDS = 3;
/** Ceiling of the wait for a drained VM to end: an open poll may last the dev server's 10 s long poll. */
const DRAIN_END_CEILING_MS = 60_000;

const stage2Of = (r: InferenceResult): StageRecord => {
  const s = r.stages.find((x) => x.stage === 2);
  assert.ok(s, `query ${r.queryId} ran stage 2`);
  return s;
};

async function pool(t: TestStack, stage: number): Promise<VmInstance[]> {
  return (await callPoolsApi(t.nc, { op: 'list' })).vms.filter((v) => v.model === MODEL && v.stage === stage);
}

/** Queries sent back to back by a few loops until `stop()`, each capped at stage 2 (which it so always runs). */
function startTraffic(t: TestStack, images: Float32Array[]) {
  const results: InferenceResult[] = [];
  let running = true;
  let next = 0;
  const loops = Array.from({ length: TRAFFIC_LOOPS }, async () => {
    while (running) {
      const image = images[next++ % images.length]!;
      results.push(await t.client.infer(image, { model: MODEL, threshold: THRESHOLD, maxStage: 2 }));
    }
  });
  return {
    results,
    async stop(): Promise<InferenceResult[]> {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}

describe('VM pools on a real stack', () => {
  let t: TestStack;
  let direct: DirectPipeline;
  let split: DatasetSplit;

  before(async () => {
    t = await startTestStack({
      timeScale: TIME_SCALE,
      vm: { bootDelayMs: BOOT_DELAY_MS, initialPerStage: 1 },
      // A task held by a frozen or draining VM for a second or two must not time out and be retried on a busy 2-core
      // machine, or "no attempt > 1" would test the machine's load (STAGE_TIMEOUT_MS).
      stages: { timeoutMs: STAGE_TIMEOUT_MS, heartbeatTimeoutMs: STAGE_TIMEOUT_MS },
    });
    direct = await createDirectPipeline(MODEL);
    split = loadSplit(loadManifest(MODEL), 'test');
  });

  after(async () => {
    await direct?.close();
    await t?.stop();
  });

  test('a VM launched by a scale-out serves nothing before its boot delay (3 s wall) ends, then takes work', async (ctx) => {
    const [old] = await pool(t, 2);
    assert.ok(old, 'stage 2 has its pre-provisioned VM');
    assert.equal(old.state, 'ready');

    const scaled = await callPoolsApi(t.nc, { op: 'scale', model: MODEL, stage: 2, vms: 2 });
    const fresh = scaled.vms.find((v) => v.model === MODEL && v.stage === 2 && v.id !== old.id);
    assert.ok(fresh, 'the scale-out launched a VM');
    assert.equal(fresh.state, 'booting');
    const bootEndsAt = fresh.launchedAt + BOOT_WALL_MS;

    const images = sampleIndices(split.images.length, 30, 41).map((i) => split.images[i]!);
    const traffic = startTraffic(t, images);
    let frozen = false;
    try {
      // Half-way through the boot window the pool still reports it booting.
      await sleep(BOOT_WALL_MS / 2);
      if (Date.now() < bootEndsAt - 200) {
        assert.equal((await pool(t, 2)).find((v) => v.id === fresh.id)?.state, 'booting');
      }
      await waitUntil('the new VM is ready', BOOT_WALL_MS + 15_000, async () =>
        (await pool(t, 2)).some((v) => v.id === fresh.id && v.state === 'ready') ? true : undefined,
      );
      const servedByFresh = () => traffic.results.some((r) => stage2Of(r).worker === fresh.id);
      // Both VMs poll now; Temporal spreads the queue over them. If the old one still wins every task, freeze
      // it for a moment so the new VM is the only poller left.
      await waitUntil('the new VM serves', 3_000, () => (servedByFresh() ? true : undefined)).catch(async () => {
        ctx.diagnostic(`the new VM served nothing in 3 s beside the old one: freezing ${old.id} for ${FREEZE_MS} ms`);
        process.kill(old.pid!, 'SIGSTOP');
        frozen = true;
        await sleep(FREEZE_MS);
        process.kill(old.pid!, 'SIGCONT');
        frozen = false;
        await waitUntil('the new VM serves', 5_000, () => (servedByFresh() ? true : undefined));
      });
    } finally {
      if (frozen) process.kill(old.pid!, 'SIGCONT');
      await traffic.stop();
    }

    const results = traffic.results;
    const inWindow = results.filter((r) => stage2Of(r).startedAt < bootEndsAt);
    assert.ok(inWindow.length >= 3, `${inWindow.length} stage-2 executions started during the boot window`);
    for (const r of results) {
      const s = stage2Of(r);
      if (s.worker === fresh.id) {
        assert.ok(
          s.startedAt >= bootEndsAt,
          `query ${r.queryId}: stage 2 on ${fresh.id} started ${bootEndsAt - s.startedAt} ms before its boot ended`,
        );
      }
    }
    const byFresh = results.filter((r) => stage2Of(r).worker === fresh.id).length;
    assert.ok(byFresh > 0, 'the new VM served stage 2 once ready');
    ctx.diagnostic(`${results.length} queries; ${inWindow.length} during the boot window; ${byFresh} on the new VM`);

    const all = await vmBillingEvents(t.nc, fresh.id);
    assert.ok(
      all.some((e) => e.type === 'vm.alive'),
      'the VM reports its liveness from its start',
    );
    const events = all.filter((e) => e.type !== 'vm.alive');
    assert.deepEqual(
      events.map((e) => e.type),
      ['vm.launched', 'vm.ready'],
    );
    const [launched, ready] = events as [(typeof events)[number], (typeof events)[number]];
    assert.equal(launched.type === 'vm.launched' && launched.bootDelayMs, BOOT_DELAY_MS);
    assert.equal(launched.at, fresh.launchedAt);
    assert.ok(ready.at - launched.at >= BOOT_WALL_MS, `ready ${ready.at - launched.at} ms after launch`);
    assert.equal(launched.timeScale, TIME_SCALE);
  });

  /** Queries whose stage-2 attempt Temporal has handed to `vmId` and not seen finish: query id → attempt. */
  async function heldBy(handles: InferenceHandle[], vmId: string): Promise<Map<string, number>> {
    const held = new Map<string, number>();
    for (const h of handles) {
      const d = await t.client.temporal.workflow.getHandle(h.workflowId).describe();
      for (const a of d.raw.pendingActivities ?? []) {
        if (a.state === STARTED && a.lastWorkerIdentity === vmId) held.set(h.queryId, a.attempt ?? 1);
      }
    }
    return held;
  }

  /**
   * 40 queries in flight on two ready stage-2 VMs, then a scale-in to one. With `freeze`, the VM to be drained is
   * stopped first, so that its open polls are handed stage-2 tasks it holds when the drain's SIGTERM arrives (a
   * stopped process gets the signal on SIGCONT): the moment a worker that cancelled its open polls on shutdown lost
   * a task they had been handed (neither run nor returned, retried as attempt 2 after the heartbeat timeout;
   * workers/drain-slots.ts).
   */
  async function drainUnderLoad(ctx: TestContext, freeze: boolean, seed: number): Promise<void> {
    // Two ready VMs on stage 2: launch the second one if an earlier test did not leave it.
    await t.stack.scaleStage(MODEL, 2, 2);
    await waitUntil('two ready stage-2 VMs', BOOT_WALL_MS + 15_000, async () =>
      (await pool(t, 2)).filter((v) => v.state === 'ready').length === 2 ? true : undefined,
    );
    // Scale-in drains the newest ready VM.
    const ready = (await pool(t, 2)).filter((v) => v.state === 'ready');
    const victim = ready.reduce((a, b) => (b.launchedAt > a.launchedAt ? b : a));
    const picks = sampleIndices(split.images.length, 40, seed);
    let handles: InferenceHandle[] = [];
    let reply: Awaited<ReturnType<typeof callPoolsApi>>;
    let held = new Map<string, number>();
    const frozenAt = Date.now();
    let frozenMs = 0;
    if (freeze) process.kill(victim.pid!, 'SIGSTOP');
    try {
      handles = await Promise.all(
        picks.map((i) => t.client.start(split.images[i]!, { model: MODEL, threshold: THRESHOLD })),
      );
      if (freeze) {
        held = await waitUntil('the frozen VM is handed stage-2 tasks on its open polls', HOLD_CEILING_MS, async () => {
          const found = await heldBy(handles, victim.id);
          return found.size > 0 ? found : undefined;
        });
      }
      reply = await callPoolsApi(t.nc, { op: 'scale', model: MODEL, stage: 2, vms: 1 });
    } finally {
      if (freeze) {
        process.kill(victim.pid!, 'SIGCONT');
        frozenMs = Date.now() - frozenAt;
      }
    }
    if (freeze) {
      ctx.diagnostic(`${victim.id} held ${held.size} stage-2 task(s) when its drain began; frozen ${frozenMs} ms`);
      // The premise of "attempt 2 means lost": the freeze stayed well inside the attempt's timeouts.
      assert.ok(frozenMs < STAGE_TIMEOUT_MS / 2, `the VM was frozen ${frozenMs} ms, too close to ${STAGE_TIMEOUT_MS}`);
    }
    const drained = reply.vms.find((v) => v.model === MODEL && v.stage === 2 && v.state === 'draining');
    assert.ok(drained, `scale-in drains a VM: ${JSON.stringify(reply.vms.filter((v) => v.stage === 2))}`);
    assert.equal(drained.id, victim.id, 'the newest ready VM is drained');
    const kept = reply.vms.filter((v) => v.model === MODEL && v.stage === 2 && v.state === 'ready');
    assert.equal(kept.length, 1, 'one VM keeps serving stage 2');

    const results = await Promise.all(handles.map((h) => h.result()));
    for (const [n, i] of picks.entries()) {
      const d = await direct.run(split.images[i]!, THRESHOLD);
      const r = results[n]!;
      assert.equal(r.label, d.label, `sample ${i}: label`);
      assert.equal(r.exitStage, d.exitStage, `sample ${i}: exit stage`);
      assert.ok(Math.abs(r.confidence - d.confidence) < 1e-6, `sample ${i}: confidence`);
    }
    for (const [queryId, attempt] of held) {
      const s = stage2Of(results.find((r) => r.queryId === queryId)!);
      assert.deepEqual(
        { worker: s.worker, attempt: s.attempt },
        { worker: victim.id, attempt },
        `query ${queryId}: the stage-2 task ${victim.id} was handed as its drain began is finished by it, not retried`,
      );
    }
    const retried = results.filter((r) => r.stages.some((s) => s.stage === 2 && s.attempt > 1));
    assert.deepEqual(
      retried.map((r) => r.queryId),
      [],
      'no stage-2 execution was lost and retried',
    );

    const events = byQuery(await readAllStageEvents(t.nc));
    for (const r of results) {
      assert.deepEqual(
        (events.get(r.queryId) ?? []).map((e) => e.stage),
        r.stages.map((s) => s.stage),
        `query ${r.queryId}: exactly one event per executed stage`,
      );
    }
    const onDrained = results.filter((r) => r.stages.some((s) => s.stage === 2 && s.worker === drained.id));
    const afterDrain = onDrained.filter((r) => stage2Of(r).finishedAt >= drained.drainingAt!).length;
    ctx.diagnostic(
      `${onDrained.length} queries ran stage 2 on the drained VM, ${afterDrain} finishing after the drain`,
    );
    // Its open polls were not cancelled: they brought it tasks after the drain began (held ones, or the queries
    // still flowing), and it ran them.
    assert.ok(afterDrain > 0, 'the drained VM ran tasks its open polls brought after its drain began');

    const billing = await waitForBillingEvents(t.nc, `vm.terminated of ${drained.id}`, DRAIN_END_CEILING_MS, (all) =>
      all.some((e) => e.type === 'vm.terminated' && e.vmId === drained.id),
    );
    const mine = billing.filter((e) => 'vmId' in e && e.vmId === drained.id && e.type !== 'vm.alive');
    // The provider's facts, and the VM's own end (published as it shut down, before its process exited).
    assert.deepEqual(
      mine.map((e) => e.type),
      ['vm.launched', 'vm.ready', 'vm.draining', 'vm.stopped', 'vm.terminated'],
    );
    const terminated = mine[4]!;
    assert.equal(terminated.type === 'vm.terminated' && terminated.reason, 'drained');
    assert.ok(terminated.at >= mine[2]!.at, 'terminated after it began draining');
    assert.ok(mine[3]!.at <= terminated.at, 'the VM reported its end before its provider saw it exit');
    assert.equal((await pool(t, 2)).find((v) => v.id === drained.id)?.state, 'terminated');
  }

  test('scale-in with 40 queries in flight drains a VM: none lost or run twice, every answer right', async (ctx) => {
    for (let round = 0; round < DRAIN_ROUNDS; round++) await drainUnderLoad(ctx, false, 43 + round);
  });

  test('a stage-2 task handed to a VM just as its drain begins is finished by it, not lost and retried', (ctx) =>
    drainUnderLoad(ctx, true, 47));
});
