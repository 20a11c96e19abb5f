/**
 * The simulator's engine on stage fusion (routing.ts `FusedRun`, a decision's `fused`), on hand-computed runs:
 * a fused run is one activity, on the whole-model VM pool (one slot for the run, no hand-off inside it) or as one
 * invocation of the run's own function (one request fee, one cold start, the sum of its stages billed at the run's
 * largest memory); per-stage counts as without fusion. And a decision without runs runs as before fusion.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledAutoscalerConfig } from '../../../autoscaler/config';
import type { Decision, Policy, StageDecision } from '../../../autoscaler/types';
import { LOCAL_ACTIVITY_WORKFLOW_SHAPE, NO_ACTIONS, totalActions } from '../../../billing/actions';
import type { Prices } from '../../../billing/prices';
import { seededRandom } from '../../../common/stats';
import { runSimulation, type SimRunInput, type SimRunResult, type SimStage } from '../../../sim/engine';
import { conditionalExits, drawExitStages } from '../../../sim/exit-model';
import { samplerFrom } from '../../../sim/sampler';
import { libraIc2eSetup } from '../../../sim/setup';

const near = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (tolerance ${rel * 100} %)`);

const fixed = (ms: number) => samplerFrom({ p50: ms, p95: ms, p99: ms });

/** Function prices of these cases: 2e-7 $ per request, 1e-5 $ per GB-second, billed per ms. */
const REQUEST_USD = 2e-7;
const GB_SECOND_USD = 1e-5;

/** The hand-off before every activity (a workflow hop), ms. */
const HANDOFF_MS = 5;

/**
 * Four stages with deterministic times, ms: VM service 10 / 20 / 30 / 40; function service 11 / 21 / 31 / 41 at
 * 512 / 1024 / 2048 / 1024 MB; function cold start (wait and INIT billed) 100 / 300 / 200 / 50. One slot per VM.
 */
const VM_MS = [10, 20, 30, 40];
const FAAS_MS = [11, 21, 31, 41];
const MEMORY_MB = [512, 1024, 2048, 1024];
const COLD_MS = [100, 300, 200, 50];
const STAGES: SimStage[] = VM_MS.map((vm, k) => ({
  stage: k + 1,
  vmService: fixed(vm),
  vmSlots: 1,
  faasService: fixed(FAAS_MS[k] as number),
  faasMemoryMb: MEMORY_MB[k] as number,
  faasColdStartMs: COLD_MS[k] as number,
  faasInitBilledMs: COLD_MS[k] as number,
}));

/** A policy deciding the same every tick (`decide(now)` may depend on the cloud time). */
function fixedPolicy(decide: (now: number) => Decision): Policy<CompiledAutoscalerConfig, unknown> {
  return {
    name: 'serflow',
    initialState: () => null,
    decide: (_o, _c, state, now) => ({ state, decision: decide(now) }),
  };
}

const route = (stage: number, vmShare: number, desiredVms = 0, overflowAfterMs?: number): StageDecision => ({
  stage,
  desiredVms,
  vmShare,
  ...(overflowAfterMs !== undefined ? { overflowAfterMs } : {}),
  reason: 'test',
});

/** Every stage on VMs (the whole-model pool of one VM serves them: no stage has its own), optionally fused. */
const allVm = (fused?: Decision['fused']): Decision => ({
  valid: true,
  reason: 'test',
  wholeModelVms: 1,
  stages: [1, 2, 3, 4].map((s) => route(s, 1)),
  ...(fused ? { fused } : {}),
});

/** Every stage serverless, optionally fused. */
const allFaas = (fused?: Decision['fused']): Decision => ({
  valid: true,
  reason: 'test',
  stages: [1, 2, 3, 4].map((s) => route(s, 0)),
  ...(fused ? { fused } : {}),
});

/**
 * Queries at 0, 1, 2 and 3 s (each finished before the next arrives) exiting at stages 4, 2, 1 and 4; VMs ready at
 * once; functions kept warm for ever, unlimited; a 5 ms hand-off; the per-stage workflow shape (3 + 2 actions per
 * activity: a local activity and an upsert per query, a heartbeat per activity).
 */
function input(decide: (now: number) => Decision, over: Partial<SimRunInput> = {}): SimRunInput {
  const setup = libraIc2eSetup();
  const prices: Prices = {
    ...setup.platform.prices,
    faasPerRequestUsd: REQUEST_USD,
    faasPerGbSecondUsd: GB_SECOND_USD,
    faasBillingGranularityMs: 1,
  };
  return {
    arrivalsMs: new Float64Array([0, 1000, 2000, 3000]),
    windowMs: 4000,
    stages: STAGES,
    exitStage: new Int8Array([3, 1, 0, 3]),
    platform: {
      ...setup.platform,
      prices,
      bootDelayMs: 0,
      faasKeepAliveMs: Infinity,
      faasAccountConcurrency: Infinity,
      handoff: fixed(HANDOFF_MS),
      orchestration: { usdPerAction: 0, shape: LOCAL_ACTIVITY_WORKFLOW_SHAPE },
    },
    policy: fixedPolicy(decide),
    config: setup.compile('faas-only', 1),
    sloMs: 1000,
    seed: 1,
    seriesStepMs: 1000,
    ...over,
  };
}

/** One function invocation by hand (billing/prices.ts): a request plus memory × billed time, GB-s. */
const invocationUsd = (memoryMb: number, billedMs: number) =>
  REQUEST_USD + GB_SECOND_USD * (memoryMb / 1024) * (billedMs / 1000);

describe('stage fusion in the engine, hand-computed', () => {
  test('stages 1-4 fused on a whole-model VM: one activity, one hand-off, per-stage counts unchanged', () => {
    const fused = runSimulation(input(() => allVm([{ first: 1, last: 4 }])));
    const unfused = runSimulation(input(() => allVm()));
    // one hand-off, then the stages back to back on the slot: 5 + 10 + 20 + 30 + 40; 5 + 10 + 20; 5 + 10
    assert.deepEqual([...fused.latencyMs], [105, 35, 15, 105]);
    // unfused: a hand-off before every stage
    assert.deepEqual([...unfused.latencyMs], [120, 40, 15, 120]);
    assert.deepEqual(fused.queriesByActivities, [0, 4, 0, 0, 0]);
    assert.deepEqual(unfused.queriesByActivities, [0, 1, 1, 0, 2]);
    // 1 activity: workflow start, 1 attempt, 1 local activity, 1 heartbeat, 1 upsert = 5 actions per query
    assert.deepEqual(fused.actions, {
      ...NO_ACTIONS,
      workflowStarted: 4,
      activityAttempts: 4,
      localActivityTasks: 4,
      heartbeats: 4,
      searchAttributeUpserts: 4,
    });
    assert.equal(totalActions(fused.actions), 20);
    assert.equal(totalActions(unfused.actions), 11 + 7 + 5 + 11);
    // every stage a query reached ran once, on the VM, fused or not
    for (const r of [fused, unfused]) {
      assert.deepEqual(r.vmExecutions, [4, 3, 2, 2]);
      assert.deepEqual(r.faasExecutions, [0, 0, 0, 0]);
      assert.equal(r.vmBusySlotMs, 100 + 30 + 10 + 100);
      assert.equal(r.serverlessUsd, 0);
      assert.deepEqual([...r.firstBackend], [1, 1, 1, 1]);
      assert.equal(r.completed, 4);
    }
  });

  test('stages 1-4 fused serverless: one invocation per query, one request fee, one cold start, max memory', () => {
    const fused = runSimulation(input(() => allFaas([{ first: 1, last: 4 }])));
    const unfused = runSimulation(input(() => allFaas()));
    // the run's function: 2048 MB (the largest), cold start 300 ms (the longest); the stages' times add up
    // query 0: cold, 300 + 11 + 21 + 31 + 41 = 404 ms billed; then warm: 11 + 21 = 32; 11; 104
    assert.deepEqual([...fused.latencyMs], [5 + 404, 5 + 32, 5 + 11, 5 + 104]);
    const fusedUsd = 4 * REQUEST_USD + GB_SECOND_USD * 2 * ((404 + 32 + 11 + 104) / 1000);
    near(fused.serverlessUsd, fusedUsd, 1e-12, 'fused serverless $');
    near(
      fused.serverlessUsd,
      invocationUsd(2048, 404) + invocationUsd(2048, 32) + invocationUsd(2048, 11) + invocationUsd(2048, 104),
      1e-12,
      'fused serverless $, per invocation',
    );
    assert.deepEqual(fused.coldStarts, [1, 0, 0, 0]);
    assert.deepEqual(fused.queriesByActivities, [0, 4, 0, 0, 0]);
    assert.equal(totalActions(fused.actions), 4 * 5);
    // unfused: 11 invocations, one cold start per stage function (query 0), each at its stage's memory
    const unfusedUsd =
      11 * REQUEST_USD +
      GB_SECOND_USD *
        (0.5 * ((100 + 11 + 11 + 11 + 11) / 1000) +
          1 * ((300 + 21 + 21 + 21) / 1000) +
          2 * ((200 + 31 + 31) / 1000) +
          1 * ((50 + 41 + 41) / 1000));
    near(unfused.serverlessUsd, unfusedUsd, 1e-12, 'unfused serverless $');
    assert.deepEqual(unfused.coldStarts, [1, 1, 1, 1]);
    assert.deepEqual([...unfused.latencyMs], [4 * 5 + 111 + 321 + 231 + 91, 2 * 5 + 32, 5 + 11, 4 * 5 + 104]);
    for (const r of [fused, unfused]) {
      assert.deepEqual(r.faasExecutions, [4, 3, 2, 2]);
      assert.deepEqual(r.vmExecutions, [0, 0, 0, 0]);
      assert.equal(r.vmUsd, 0);
      assert.deepEqual([...r.firstBackend], [2, 2, 2, 2]);
    }
  });

  test('a fused run overflows from the whole-model queue to its function; stage pools never serve it', () => {
    // stage 1 has a VM of its own, the whole-model pool none: the run waits 50 ms in the whole-model queue, then
    // runs in the run's function (cold first: 300 ms)
    const r = runSimulation(
      input(() => ({
        valid: true,
        reason: 'test',
        wholeModelVms: 0,
        stages: [route(1, 1, 1, 50), route(2, 1), route(3, 1), route(4, 1)],
        fused: [{ first: 1, last: 4 }],
      })),
    );
    assert.deepEqual([...r.latencyMs], [5 + 50 + 404, 5 + 50 + 32, 5 + 50 + 11, 5 + 50 + 104]);
    assert.deepEqual([...r.waitMs], [50, 50, 50, 50]);
    assert.deepEqual(r.vmExecutions, [0, 0, 0, 0]);
    assert.equal(r.vmBusySlotMs, 0);
    assert.deepEqual(r.faasExecutions, [4, 3, 2, 2]);
    assert.deepEqual(r.coldStarts, [1, 0, 0, 0]);
    // the VM activity never started: one activity per query, the function's
    assert.deepEqual(r.queriesByActivities, [0, 4, 0, 0, 0]);
    near(r.serverlessUsd, 4 * REQUEST_USD + GB_SECOND_USD * 2 * ((404 + 32 + 11 + 104) / 1000), 1e-12, 'serverless $');
  });

  test('after a fused run a query that continues is handed off: stages 1-2 fused, 3 and 4 one activity each', () => {
    const r = runSimulation(input(() => allVm([{ first: 1, last: 2 }])));
    // 5 + 10 + 20, then 5 + 30, then 5 + 40
    assert.deepEqual([...r.latencyMs], [115, 35, 15, 115]);
    // queries 0 and 3: the run, stage 3, stage 4; queries 1 and 2 end inside the run
    assert.deepEqual(r.queriesByActivities, [0, 2, 0, 2, 0]);
    assert.equal(totalActions(r.actions), 2 * 5 + 2 * 9);
    assert.deepEqual(r.vmExecutions, [4, 3, 2, 2]);
  });

  test("a fused function's instances are its own: warm stage functions do not spare the run its cold start", () => {
    // until 1.5 s every stage is its own function (query 0 warms all four), then stages 1-4 are fused
    const r = runSimulation(
      input((now) => (now < 1500 ? allFaas() : allFaas([{ first: 1, last: 4 }])), {
        arrivalsMs: new Float64Array([0, 2000, 3000]),
        exitStage: new Int8Array([3, 3, 0]),
      }),
    );
    // query 1: the run's function is cold (300 ms); query 2 finds it warm
    assert.deepEqual([...r.latencyMs], [4 * 5 + 111 + 321 + 231 + 91, 5 + 404, 5 + 11]);
    assert.deepEqual(r.coldStarts, [2, 1, 1, 1]);
    assert.deepEqual(r.queriesByActivities, [0, 2, 0, 0, 1]);
  });
});

describe('fused runs before the first decision', () => {
  test('`initialFused` is in force until a decision: a policy that never decides still runs one activity per query', () => {
    const noDecision = (): Decision => ({ valid: false, reason: 'no data', stages: [] });
    const r = runSimulation(input(noDecision, { initialFused: [{ first: 1, last: 4 }] }));
    assert.deepEqual(r.queriesByActivities, [0, 4, 0, 0, 0]);
    // the same latencies as the fused serverless case above: one hand-off, the run's cold start once
    assert.deepEqual([...r.latencyMs], [5 + 404, 5 + 32, 5 + 11, 5 + 104]);
    const without = runSimulation(input(noDecision));
    assert.deepEqual(without.queriesByActivities, [0, 1, 1, 0, 2]);
  });
});

describe('no fused runs: the engine as before fusion', () => {
  /**
   * A stochastic run touching every unfused path: 3 stages with long-tailed times, stage 1 on its own VM (2 slots)
   * with overflow, stage 2 on the whole-model VM with overflow, stage 3 serverless, 3 functions at once at most
   * (throttling), VMs booting for 1 s, a drawn hand-off; 2,000 Poisson arrivals at 50 q/s.
   */
  function stochastic(fused?: Decision['fused']): SimRunResult {
    const rnd = seededRandom(11);
    let t = 0;
    const arrivalsMs = new Float64Array(2000).map(() => (t += -Math.log(1 - rnd()) * 20));
    const stages: SimStage[] = [0, 1, 2].map((k) => ({
      stage: k + 1,
      vmService: samplerFrom({ p50: 10 + 5 * k, p95: 25 + 10 * k, p99: 60 + 20 * k }),
      vmSlots: 2,
      faasService: samplerFrom({ p50: 12 + 5 * k, p95: 30 + 10 * k, p99: 70 + 20 * k }),
      faasMemoryMb: 512 * (k + 1),
      faasColdStartMs: 200 + 100 * k,
      faasInitBilledMs: 200 + 100 * k,
    }));
    const base = input(() => allFaas());
    return runSimulation({
      ...base,
      arrivalsMs,
      windowMs: Math.ceil(t),
      stages,
      exitStage: drawExitStages(arrivalsMs, [{ fromMs: 0, exitProbability: conditionalExits([0.5, 0.3, 0.2]) }], 7),
      platform: {
        ...base.platform,
        bootDelayMs: 1000,
        faasKeepAliveMs: 5000,
        faasAccountConcurrency: 3,
        handoff: samplerFrom({ p50: 2, p95: 5, p99: 9 }),
        orchestration: { usdPerAction: 25e-6, shape: LOCAL_ACTIVITY_WORKFLOW_SHAPE },
      },
      policy: fixedPolicy(() => ({
        valid: true,
        reason: 'test',
        wholeModelVms: 1,
        stages: [route(1, 0.7, 1, 40), route(2, 0.5, 0, 30), route(3, 0)],
        ...(fused ? { fused } : {}),
      })),
      seed: 5,
    });
  }

  const figures = (r: SimRunResult) => ({
    ...r,
    wallMs: 0,
  });

  test('a decision without `fused` and one with `fused: []` give the same run', () => {
    assert.deepEqual(figures(stochastic()), figures(stochastic([])));
  });

  test('the figures of the engine before fusion, pinned (same seed, same totals)', () => {
    const r = stochastic();
    // Recorded with the engine as it was before stage fusion (commit 8d640ef) on this very input.
    const latencySum = r.latencyMs.reduce((s, x) => s + x, 0);
    const waitSum = r.waitMs.reduce((s, x) => s + x, 0);
    assert.deepEqual(
      {
        completed: r.completed,
        vmExecutions: r.vmExecutions,
        faasExecutions: r.faasExecutions,
        coldStarts: r.coldStarts,
        queriesByActivities: r.queriesByActivities,
        actions: totalActions(r.actions),
        peakVms: r.peakVms,
        decisions: r.decisions,
      },
      PINNED.counts,
    );
    near(r.serverlessUsd, PINNED.serverlessUsd, 1e-9, 'serverless $');
    near(r.vmUsd, PINNED.vmUsd, 1e-9, 'VM $');
    near(r.vmBusySlotMs, PINNED.vmBusySlotMs, 1e-9, 'VM busy slot-ms');
    near(latencySum, PINNED.latencySumMs, 1e-6, 'sum of latencies');
    near(waitSum, PINNED.waitSumMs, 1e-6, 'sum of waits');
    near(r.endMs, PINNED.endMs, 1e-12, 'end');
  });
});

/** See the pinned test: the pre-fusion engine's figures on `stochastic()`. */
const PINNED = {
  counts: {
    completed: 2000,
    vmExecutions: [1348, 492, 0],
    faasExecutions: [652, 497, 381],
    coldStarts: [7, 5, 6],
    queriesByActivities: [0, 1011, 608, 381],
    actions: 12740,
    peakVms: 2,
    decisions: 40,
  },
  serverlessUsd: 0.0006606000000000002,
  vmUsd: 0.0022222222222222222,
  vmBusySlotMs: 25652.597701907638,
  latencySumMs: 104845.88337445259,
  waitSumMs: 36696.33949967474,
  endMs: 39402.76671954604,
};
