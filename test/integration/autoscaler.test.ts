/**
 * The live SERFLOW autoscaler on a real stack, observed through its decision records (core NATS subscription on
 * `serflow.control.decision.<model>`) and the pool API: a load step adds VMs only to the stages whose load pays
 * for one while serverless absorbs the burst, and they go only after the scale-down delay; a controller restart
 * does not scale down; an input drift to harder images moves load, and VMs, to the deep stages.
 *
 * The autoscaler runs in this process (`runAutoscaler` with an `until` promise), so a test can restart it.
 *
 * Economics. At the catalog price (c6i.large 0.085 $/h) T-CIP is ~100 q/s per stage and SERFLOW rightly keeps
 * every stage serverless at any load this machine can make. So the VM price is set to 0.00025 $/h
 * (6.9444e-8 $/s). The functions run at 512 MB; C_F,k = 2e-7 $ + 1.66667e-5 $/GB-s × 0.5 GB × ceil(mean_k) ms,
 * with the profiled 512 MB means 1.869 / 1.752 / 2.073 / 2.197 ms, billed 2 / 2 / 3 / 3 ms:
 *   stages 1, 2: 2.16667e-7 $ → T-CIP = 6.9444e-8 / 2.16667e-7 = 0.32051 q/s (cloud) → × timeScale 10 = 3.205 q/s wall;
 *   stages 3, 4: 2.25e-7 $ → 0.30864 q/s → 3.086 q/s wall.
 * (`tCipWall`: a VM living one wall second is billed 10 cloud seconds, an invocation its measured duration.)
 * mu_k = 1000 / the p95 of a stage worker's whole handling (2.95-4.04 ms) is ~250-340 q/s, far above any load here,
 * so a stage wants 0 VMs below T-CIP and 1 above it.
 *
 * Loads. The held-out split (first 400 of the seeded order) reaches stages 1-4 with p = 1 / 0.54 / 0.18 / 0.055
 * clean, and 1 / 0.94 / 0.81 / 0.61 with `noise:0.4` (measured in-process). So:
 *   - 1 q/s: every stage is below T-CIP (stage 1: ~1 < 3.2): all serverless;
 *   - 12 q/s clean: stage 1 ~12 and stage 2 ~6.5 q/s are far above T-CIP (VMs), stage 4 ~0.66 q/s far below
 *     (serverless); stage 3 (~2.1 q/s, plus the deviation) is near its 3.09 and is not asserted on;
 *   - 8 q/s: clean stage 4 ~0.44 q/s (serverless), with noise:0.4 ~4.8 q/s and stage 3 ~6.4 q/s (VMs).
 *
 * Time scale 10 and the autoscaler's periods in cloud ms: tick and U 10 000 (1 s wall; a tick of 1 000 would be
 * 0.1 s wall, windows too short to count a rate in), scale-down delay 30 000 (3 s wall), VM boot 20 000 (2 s wall).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileForModel } from '../../autoscaler/service';
import type { DecisionRecord } from '../../common/control-events';
import { durableName } from '../../autoscaler/intake';
import type { StageDecision } from '../../autoscaler/types';
import { STAGE_EVENTS_STREAM } from '../../common/naming';
import { callPoolsApi } from '../../infra/pools-api';
import { parseInputMix } from '../../models/input-mix';
import { recordDecisions, startController as startControllerFor, type RunningController } from '../helpers/controller';
import { startOpenLoop, type OpenLoop } from '../helpers/open-loop';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { sleep, waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const STAGES = 4;
const TIME_SCALE = 10;
/** See the module comment: T-CIP 3.1-3.2 q/s wall per stage. */
const VM_PRICE_PER_HOUR_USD = 0.00025;
const TICK_MS = 10_000;
const SCALE_DOWN_DELAY_MS = 30_000;
const SCALE_DOWN_DELAY_WALL_MS = SCALE_DOWN_DELAY_MS / TIME_SCALE;
/**
 * The EWMA sizing reacts within a few windows of the step (decision 4 on an idle machine); ten allows for a loaded
 * one. A smoothed estimator without the burst trigger takes far longer.
 */
const MAX_TICKS_TO_SCALE_OUT = 10;
const BOOT_DELAY_MS = 20_000;
const LOW_QPS = 1;
const STEP_QPS = 12;
const DRIFT_QPS = 8;
/** Expected T-CIP per stage, q/s wall (module comment). */
const T_CIP_WALL = [3.205, 3.205, 3.086, 3.086];

type Pools = { ready: number; booting: number; draining: number }[];

async function pools(t: TestStack): Promise<Pools> {
  const { vms } = await callPoolsApi(t.nc, { op: 'list' });
  return Array.from({ length: STAGES }, (_, i) => {
    const mine = vms.filter((v) => v.model === MODEL && v.stage === i + 1);
    const n = (s: string) => mine.filter((v) => v.state === s).length;
    return { ready: n('ready'), booting: n('booting'), draining: n('draining') };
  });
}

/** VMs each stage has or is getting (ready + booting), as the controller counts them. */
const sizes = (p: Pools) => p.map((s) => s.ready + s.booting);

const stageOf = (r: DecisionRecord, stage: number): StageDecision | undefined =>
  r.decision.stages.find((s) => s.stage === stage);

/** Pool changes a record's actions made, as `{ stage, from, to }`. */
function scalings(r: DecisionRecord): { stage: number; from: number; to: number }[] {
  return r.actions.flatMap((a) => {
    const m = /^stage (\d+): VMs (\d+) -> (\d+)$/.exec(a);
    return m ? [{ stage: Number(m[1]), from: Number(m[2]), to: Number(m[3]) }] : [];
  });
}

const lowered = (r: DecisionRecord, stage: number) => scalings(r).some((s) => s.stage === stage && s.to < s.from);

/**
 * The first decision of the uninterrupted run of 'waiting-down' decisions for `stage` that ends just before `cut`
 * (the decision that scaled the stage in): since when the lower size had been wanted.
 */
function waitingSince(all: DecisionRecord[], cut: DecisionRecord, stage: number): DecisionRecord | undefined {
  let first: DecisionRecord | undefined;
  for (let i = all.indexOf(cut) - 1; i >= 0; i--) {
    if (!stageOf(all[i]!, stage)?.reason.includes('waiting-down')) break;
    first = all[i];
  }
  return first;
}

/** Arrivals at each stage summed over `records`, and each stage's share of stage 1's. */
function reach(records: DecisionRecord[]): { arrivals: number[]; reach: number[] } {
  const arrivals = Array.from({ length: STAGES }, (_, i) =>
    records.reduce((n, r) => n + (r.observation.stages.find((s) => s.stage === i + 1)?.arrivals ?? 0), 0),
  );
  return { arrivals, reach: arrivals.map((a) => a / Math.max(1, arrivals[0]!)) };
}

const startController = (t: TestStack): RunningController => startControllerFor(t, MODEL, 'serflow');

describe('SERFLOW autoscaler on a real stack', () => {
  let t: TestStack;
  let controller: RunningController | undefined;
  let traffic: OpenLoop | undefined;
  let recorder: ReturnType<typeof recordDecisions> | undefined;
  const records: DecisionRecord[] = [];
  const since = (wall: number) => records.filter((r) => r.wallAt >= wall);
  const latest = () => records[records.length - 1];

  before(async () => {
    t = await startTestStack({
      timeScale: TIME_SCALE,
      vm: { bootDelayMs: BOOT_DELAY_MS, initialPerStage: 1 },
      prices: { vmPerHourUsd: { 'c6i.large': VM_PRICE_PER_HOUR_USD } },
      autoscaler: {
        policy: 'serflow',
        tickMs: TICK_MS,
        updateIntervalMs: TICK_MS,
        scaleDownDelayMs: SCALE_DOWN_DELAY_MS,
        // This file tests per-stage sizing; sharing one pool across stages is tested in colocation.test.ts.
        colocate: false,
        // Every stage its own activity on functions too, so a stage's VM costs the same actions as its functions and
        // the per-stage economics above decide alone (with fusion, a stage's own VM splits the fused serverless run
        // and, at the default action price, never pays: fusion is tested in the unit and bench suites).
        fuse: false,
        // The live loop (step, restart guard, drift) is timed against method.md's EWMA rule, which reacts within a
        // few windows. The forecast rule waits, by design, until a step is expected to outlast a boot (11 windows
        // and, for the drift's deep stages, more than 45 s wall in fresh runs): it is judged in the simulator on the
        // trace family (`serflow judge`) and live in bench part 6, and unit-tested in forecast.test.ts.
        sizing: 'ewma',
      },
    });
    recorder = recordDecisions(t.nc, MODEL, records);
  });

  after(async () => {
    // A controller that crashed reports it here (stop() rethrows its failure); the stack is stopped either way.
    try {
      await traffic?.stop();
      await controller?.stop();
    } finally {
      recorder?.stop();
      await t?.stop();
    }
  });

  test('T-CIP in wall terms is what the module comment computes from the profile and the prices', () => {
    const compiled = compileForModel(t.config, MODEL);
    compiled.stages.forEach((s, i) => {
      assert.ok(Math.abs(s.tCipWall - T_CIP_WALL[i]!) < 0.001, `stage ${s.stage}: tCipWall ${s.tCipWall}`);
      assert.ok(s.muPerVm > 100, `stage ${s.stage}: mu ${s.muPerVm} far above any test load`);
    });
    assert.equal(compiled.tickMs / TIME_SCALE, 1000, 'one tick per wall second');
  });

  test('a load step adds VMs where the load pays for them while serverless absorbs it; they go only after the scale-down delay', async () => {
    const startedAt = Date.now();
    traffic = startOpenLoop(t.client, { model: MODEL, rateQps: LOW_QPS, seed: 11 });
    controller = startController(t);

    // Baseline: at 1 q/s no stage pays for a VM, so the initial VM of every stage goes (after the delay).
    await waitUntil('baseline: every pool scaled in to 0', 30_000, async () =>
      sizes(await pools(t)).every((n) => n === 0) ? true : undefined,
    );

    const stepUpAt = Date.now();
    const baselineMs = stepUpAt - startedAt;
    traffic.setRate(STEP_QPS);
    // Stages 1 and 2 get a VM; it boots for 2 s wall, meanwhile their executions run serverless. The window is
    // generous: the estimator needs a few ticks of the step, and on a loaded 2-core machine a VM's process start
    // and model load add seconds to its boot (one fresh-clone run of the suite missed a 20 s window).
    await waitUntil('step: stages 1 and 2 have a ready VM', 45_000, async () => {
      const p = await pools(t);
      return p[0]!.ready >= 1 && p[1]!.ready >= 1 ? p : undefined;
    });
    // Keep the step up a few seconds with the VMs serving.
    await waitUntil('step: stage 1 VM serves', 10_000, () =>
      since(Date.now() - 1_500).some((r) => (r.observation.stages[0]?.vmExecutions ?? 0) > 0) ? true : undefined,
    );
    await sleep(3_000);
    const stepDownAt = Date.now();
    traffic.setRate(LOW_QPS);
    const step = records.filter((r) => r.wallAt >= stepUpAt && r.wallAt < stepDownAt);
    const during = step.filter((r) => r.decision.valid);

    // Scale-out came at once (the burst trigger), for stages 1 and 2 only; stage 4 (reach ~0.055) stays serverless.
    const up = (k: number) => during.find((r) => scalings(r).some((s) => s.stage === k && s.to > s.from));
    assert.ok(up(1), 'stage 1 scaled out during the step');
    assert.ok(up(2), 'stage 2 scaled out during the step');
    // "At once" is counted in the controller's own ticks, not wall milliseconds: on a loaded 2-core machine a tick
    // can start seconds late (one CI run saw the scale-out 5977 ms after the step).
    const ticksToScaleOut = step.filter((r) => r.wallAt <= up(1)!.wallAt).length;
    assert.ok(
      ticksToScaleOut <= MAX_TICKS_TO_SCALE_OUT,
      `stage 1 scaled out on decision ${ticksToScaleOut} of the step`,
    );
    for (const r of during) assert.equal(stageOf(r, 4)?.desiredVms, 0, `stage 4 stays serverless at ${r.wallAt}`);
    // While the new VMs boot, the decisions route what the ready ones cannot carry to functions.
    const booting = during.filter((r) => {
      // Pools are by stage; stage 0 is the whole-model pool, unused by SERFLOW.
      const p1 = r.observation.pools.find((p) => p.stage === 1)!;
      return p1.vmsBooting > 0 && p1.vmsReady === 0;
    });
    assert.ok(booting.length > 0, 'a decision saw stage 1 booting');
    for (const r of booting) assert.ok(stageOf(r, 1)!.vmShare < 1, `vmShare ${stageOf(r, 1)!.vmShare} while booting`);
    const faas1 = step.reduce((n, r) => n + (r.observation.stages[0]?.faasExecutions ?? 0), 0);
    const vm1 = step.reduce((n, r) => n + (r.observation.stages[0]?.vmExecutions ?? 0), 0);
    assert.ok(faas1 > 0, 'stage 1 ran serverless during the step');
    assert.ok(vm1 > 0, 'stage 1 ran on its new VM during the step');
    // Query-side view of the same: during the step, stage 1 of some queries ran on functions.
    const stepQueries = traffic.queries.filter((q) => q.sentAt >= stepUpAt && q.sentAt < stepDownAt);
    assert.ok(
      stepQueries.some((q) => q.result?.stages.find((x) => x.stage === 1)?.backend === 'faas'),
      'a step query ran stage 1 serverless',
    );

    // Step down: stages 1 and 2 go back to 0 VMs, but only a full scale-down delay after they first wanted less.
    await waitUntil('step down: stages 1 and 2 scaled in', 40_000, async () => {
      const p = sizes(await pools(t));
      return p[0] === 0 && p[1] === 0 ? true : undefined;
    });
    const afterDown = since(stepDownAt);
    const cuts: string[] = [];
    for (const k of [1, 2]) {
      const cut = afterDown.find((r) => lowered(r, k));
      assert.ok(cut, `stage ${k}: a decision scaled it in`);
      const firstWant = waitingSince(records, cut, k);
      assert.ok(firstWant, `stage ${k}: decisions waited to scale in before doing it`);
      assert.ok(
        cut.at - firstWant.at >= SCALE_DOWN_DELAY_MS,
        `stage ${k}: scaled in ${cut.at - firstWant.at} cloud ms after first wanting less (delay ${SCALE_DOWN_DELAY_MS})`,
      );
      cuts.push(`stage ${k} +${cut.wallAt - stepDownAt} ms wall (waiting since +${firstWant.wallAt - stepDownAt})`);
      assert.ok(cut.wallAt - stepDownAt >= SCALE_DOWN_DELAY_WALL_MS, `stage ${k}: not before the delay after the step`);
      // Until then, every decision kept the VM.
      for (const r of afterDown.filter((r) => r.decision.valid && r.at < cut.at)) {
        assert.ok(stageOf(r, k)!.desiredVms >= 1, `stage ${k}: kept its VM at ${r.at}`);
      }
    }
    const failed = traffic.queries.filter((q) => q.error);
    assert.equal(failed.length, 0, `failed queries: ${failed.map((q) => q.error!.message).join('; ')}`);
    const stepRecords = during.length;
    const peak = during.reduce((m, r) => m.map((v, i) => Math.max(v, stageOf(r, i + 1)!.desiredVms)), [0, 0, 0, 0]);
    console.log(
      `step: baseline to 0 VMs in ${baselineMs} ms; stage 1 scaled out +${up(1)!.wallAt - stepUpAt} ms after the step (decision ${ticksToScaleOut}); ` +
        `${stepRecords} decisions, peak desired VMs ${peak.join('/')}, stage 1 faas/vm executions ${faas1}/${vm1}; ` +
        `scale-in ${cuts.join(', ')}`,
    );
  });

  test('a controller restart mid-run does not scale a pool down during its first scale-down delay', async () => {
    assert.ok(traffic && controller, 'runs after the load-step test');
    traffic.setRate(STEP_QPS);
    // As generous as the first step's window: a loaded machine adds seconds to a VM's start (one CI run missed 20 s).
    await waitUntil('stages 1 and 2 have a ready VM again', 45_000, async () => {
      const p = await pools(t);
      return p[0]!.ready >= 1 && p[1]!.ready >= 1 ? true : undefined;
    });
    const lowAt = Date.now();
    traffic.setRate(LOW_QPS);
    // Restart while the old controller is already counting down to scale a pool in.
    await waitUntil('old controller wants stage 1 or 2 smaller', 30_000, () =>
      since(lowAt).some((r) => [1, 2].some((k) => stageOf(r, k)?.reason.includes('waiting-down'))) ? true : undefined,
    );
    await sleep(1_000);
    await controller.stop();
    const restartAt = Date.now();
    const atRestart = sizes(await pools(t));
    assert.ok(atRestart[0]! >= 1, `stage 1 still has its VM at the restart (pools ${atRestart.join('/')})`);
    controller = startController(t);

    // Watch the pools through the new controller's guard window (first decision + delay, and some margin).
    const seen: number[][] = [];
    const guardEnd = restartAt + SCALE_DOWN_DELAY_WALL_MS;
    while (Date.now() < guardEnd) {
      seen.push(sizes(await pools(t)));
      await sleep(100);
    }
    const fresh = since(restartAt);
    const first = fresh[0];
    assert.ok(first, 'the new controller decided');
    const guarded = fresh.filter((r) => r.at - first.at < SCALE_DOWN_DELAY_MS);
    assert.ok(
      guarded.filter((r) => r.decision.valid).length >= 1,
      'the new controller made valid decisions in the guard',
    );
    for (const r of guarded) {
      for (const d of r.decision.stages) {
        assert.ok(
          d.desiredVms >= atRestart[d.stage - 1]!,
          `stage ${d.stage}: desired ${d.desiredVms} at +${r.at - first.at}`,
        );
      }
      for (const s of scalings(r)) assert.ok(s.to >= s.from, `no scale-in in the guard: ${JSON.stringify(s)}`);
    }
    for (const p of seen) p.forEach((n, i) => assert.ok(n >= atRestart[i]!, `stage ${i + 1}: pool ${n} in the guard`));
    // It held against a lower wish (a controller without the guard would scale in at once), and scales in once the
    // delay is over, every stage that had a VM at the restart.
    const held = [1, 2].filter((k) => atRestart[k - 1]! >= 1);
    const cuts: string[] = [];
    for (const k of held) {
      assert.ok(
        guarded.some((r) => stageOf(r, k)?.reason.includes('waiting-down')),
        `the new controller wanted stage ${k} smaller during the guard`,
      );
      const cut = await waitUntil(`the new controller scales stage ${k} in after its guard`, 20_000, () =>
        since(restartAt).find((r) => lowered(r, k)),
      );
      assert.ok(cut.at - first.at >= SCALE_DOWN_DELAY_MS, `stage ${k}: scaled in at +${cut.at - first.at} cloud ms`);
      cuts.push(`stage ${k} at +${cut.at - first.at} cloud ms`);
    }
    console.log(
      `restart: pools at restart ${atRestart.join('/')}, ${guarded.length} guarded decisions, scale-in ${cuts.join(', ')}`,
    );
  });

  test('a controller stopped mid-window hands the events it had not decided on to its successor at once', async () => {
    assert.ok(traffic && controller, 'runs after the restart test');
    traffic.setRate(DRIFT_QPS);
    const from = Date.now();
    await waitUntil('a decision under load', 10_000, () =>
      since(from).find((r) => r.decision.valid && (r.observation.stages[0]?.arrivals ?? 0) > 0),
    );
    // Stop when the window holds events counted but not yet decided on (unacknowledged), so the hand-over has
    // something to hand over: without it the test would pass with nothing pending.
    const jsm = await t.nc.jetstreamManager();
    const unacked = async () => (await jsm.consumers.info(STAGE_EVENTS_STREAM, durableName(MODEL))).num_ack_pending;
    await waitUntil(
      'events counted, not yet decided on',
      10_000,
      async () => ((await unacked()) > 0 ? true : undefined),
      20,
    );
    await controller.stop();
    const lastSeq = (await jsm.streams.info(STAGE_EVENTS_STREAM)).state.last_seq;
    const pending = await unacked();
    assert.ok(pending > 0, 'the stopped controller left events unacknowledged');
    controller = startController(t);
    console.log(`stop mid-window: ${pending} events left unacknowledged (stream seq <= ${lastSeq})`);
    // Every event published before the stop is counted by the successor (its first, rate-less window takes the
    // backlog) and acknowledged: the durable consumer's ack floor passes the stop within a few 1 s ticks. The ceiling
    // leaves a loaded machine room to start the successor yet stays far below the ack wait, after which JetStream
    // would redeliver anyway: an event lost in flight at the stop fails this test.
    await waitUntil(`ack floor reaches stream seq ${lastSeq}`, 20_000, async () => {
      const info = await jsm.consumers.info(STAGE_EVENTS_STREAM, durableName(MODEL));
      return info.ack_floor.stream_seq >= lastSeq ? true : undefined;
    });
  });

  test('a drift to harder inputs raises the reach of the deep stages and moves VMs to them', async () => {
    assert.ok(traffic && controller, 'runs after the restart test');
    const cleanAt = Date.now();
    traffic.setRate(DRIFT_QPS);
    // Let the estimators settle on the clean mix, then measure it over the next seconds.
    await sleep(4_000);
    // Measure the clean mix until it holds 40 stage-1 arrivals (at DRIFT_QPS about 8 s; a loaded machine sends
    // them later, so this waits for the count, with a ceiling, rather than for a fixed time).
    const cleanFrom = Date.now();
    await waitUntil('40 clean stage-1 arrivals', 60_000, () =>
      reach(records.filter((r) => r.decision.valid && r.wallAt >= cleanFrom)).arrivals[0]! >= 40 ? true : undefined,
    );
    const driftAt = Date.now();
    traffic.setMix(parseInputMix('noise:0.4'));
    const clean = records.filter((r) => r.decision.valid && r.wallAt >= cleanFrom && r.wallAt < driftAt);
    for (const r of clean)
      assert.equal(stageOf(r, 4)?.desiredVms, 0, `clean: stage 4 serverless at ${r.wallAt - cleanAt}`);

    // As generous as the steps' windows (a loaded machine adds seconds to a VM's start).
    await waitUntil('drift: stages 3 and 4 get VMs', 45_000, () => {
      const r = latest();
      return r && r.wallAt > driftAt && stageOf(r, 3)!.desiredVms >= 1 && stageOf(r, 4)!.desiredVms >= 1
        ? r
        : undefined;
    });
    // Measure the drifted reach over several seconds once in-flight clean queries are gone (the deep stages of the
    // queries that arrived last are still running when it ends, which biases a short window low).
    await sleep(9_000);
    const drifted = since(driftAt + 2_000).filter((r) => r.decision.valid);
    const before = reach(clean);
    const now = reach(drifted);
    console.log(
      `drift: reach clean ${before.reach.map((x) => x.toFixed(3)).join('/')} (arrivals ${before.arrivals.join('/')}), ` +
        `noise:0.4 ${now.reach.map((x) => x.toFixed(3)).join('/')} (arrivals ${now.arrivals.join('/')})`,
    );
    assert.ok(before.arrivals[0]! >= 40 && now.arrivals[0]! >= 20, 'enough stage-1 arrivals in both phases');
    // Clean: p3 ~0.18, p4 ~0.055; noise:0.4: p3 ~0.81, p4 ~0.61. Margins wide of both (one loaded CI run measured
    // 0.68 and 0.40 over a 6 s window).
    assert.ok(before.reach[2]! < 0.35 && before.reach[3]! < 0.2, `clean reach ${before.reach.join('/')}`);
    assert.ok(now.reach[2]! > 0.5 && now.reach[3]! > 0.3, `drifted reach ${now.reach.join('/')}`);
    // The deepest stage with a VM moves from at most 3 to 4.
    const deepest = (r: DecisionRecord) =>
      Math.max(0, ...r.decision.stages.filter((s) => s.desiredVms > 0).map((s) => s.stage));
    assert.ok(Math.max(...clean.map(deepest)) <= 3, 'clean: no VM on stage 4');
    assert.equal(deepest(latest()!), 4, 'drifted: stage 4 has a VM');
    const p = sizes(await pools(t));
    assert.ok(p[2]! >= 1 && p[3]! >= 1, `drifted pools ${p.join('/')}`);
    const cleanPools = clean[clean.length - 1]!.observation.pools.filter((x) => x.stage > 0).map(
      (x) => x.vmsReady + x.vmsBooting,
    );
    console.log(`drift: VMs clean ${cleanPools.join('/')}, drifted ${p.join('/')}`);
    const failed = (await traffic.stop()).filter((q) => q.error);
    traffic = undefined;
    assert.equal(failed.length, 0, `failed queries: ${failed.map((q) => q.error!.message).join('; ')}`);
  });
});
