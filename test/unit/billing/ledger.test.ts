import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  computeLedger,
  faasInvocationCostUsd,
  unionLengthMs,
  type LedgerInput,
  type Prices,
  type BilledQuery,
} from '../../../billing';
import { billingMsgId, parseBillingEvent, type BillingEvent } from '../../../common/billing-events';
import { DEFAULT_VM_LIVENESS_INTERVAL_MS } from '../../../common/config';
import type { StageEvent } from '../../../common/events';

/**
 * Round prices so every expectation can be worked out by hand: a `t.small` VM costs 0.36 $/h = 0.0001 $/s;
 * functions cost 1e-5 $/GB-s and 1e-7 $/request; 60 s minimum; 1 ms granularity.
 */
const PRICES: Prices = {
  vmPerHourUsd: { 't.small': 0.36 },
  vmMinBilledSeconds: 60,
  faasPerGbSecondUsd: 1e-5,
  faasPerRequestUsd: 1e-7,
  faasBillingGranularityMs: 1,
};
const T0 = 1_700_000_000_000;
const SEC = 1_000;
/** Wall time `s` seconds after T0. */
const at = (s: number) => T0 + s * SEC;
/** Cloud time runs twice as fast as wall time in this timeline: every wall second is 2 billed seconds. */
const TIME_SCALE = 2;
const MODEL = 'm';

function close(actual: number | null, expected: number, label = ''): void {
  assert.ok(actual !== null, `${label} is null`);
  assert.ok(
    Math.abs(actual - expected) <= 1e-12 * Math.max(Math.abs(expected), 1e-300),
    `${label} ${actual} != ${expected}`,
  );
}

type VmType = 'vm.launched' | 'vm.ready' | 'vm.draining' | 'vm.terminated';
function vm(type: VmType, vmId: string, stage: number, s: number): BillingEvent {
  const common = {
    v: 1 as const,
    at: at(s),
    timeScale: TIME_SCALE,
    model: MODEL,
    stage,
    vmId,
    instanceType: 't.small',
  };
  switch (type) {
    case 'vm.launched':
      return { ...common, type, bootDelayMs: 10_000 };
    case 'vm.terminated':
      return { ...common, type, reason: 'scale-in' };
    default:
      return { ...common, type };
  }
}

function invoked(
  stage: number,
  s: number,
  o: { memoryMb: number; durationMs: number; initMs: number; queryId: string },
): BillingEvent {
  return {
    v: 1,
    type: 'faas.invoked',
    at: at(s),
    timeScale: TIME_SCALE,
    model: MODEL,
    stage,
    instanceId: `fn-${stage}-${o.initMs > 0 ? 'cold' : 'warm'}`,
    coldStart: o.initMs > 0,
    ...o,
  };
}

function execution(stage: number, backend: 'vm' | 'faas', worker: string, fromS: number, toS: number): StageEvent {
  return {
    v: 1,
    type: 'stage.continued',
    queryId: `q-${worker}-${fromS}`,
    workflowId: `wf-${worker}-${fromS}`,
    runId: 'r',
    model: MODEL,
    stage,
    backend,
    worker,
    attempt: 1,
    queueMs: 0,
    serviceMs: (toS - fromS) * SEC,
    scheduledAt: at(fromS),
    startedAt: at(fromS),
    finishedAt: at(toS),
    label: 1,
    confidence: 0.5,
    threshold: 0.9,
  };
}

/**
 * The timeline (wall seconds after T0; cloud = 2 × wall):
 *
 *   vm-a (stage 1): launched 0, ready 10, draining 100, terminated 120 → 120 s wall = 240 s cloud
 *        executions [20, 30], [25, 40] (overlap → [20, 40] = 20 s), [60, 70] (10 s) → busy 30 s wall = 60 s cloud
 *   vm-b (stage 2): launched 30, ready 50, still running at now = 200 → 170 s wall = 340 s cloud
 *        executions [60, 80] (20 s), [100, 105] (5 s) → busy 25 s wall = 50 s cloud
 *   functions:
 *     f4 stage 1 at 15, cold 2048 MB, 50 + 450 ms INIT = 500 ms → 2 × 0.5 = 1 GB-s
 *     f1 stage 2 at 55, cold 1024 MB, 200 + 800 ms INIT = 1000 ms → 1 GB-s
 *     f2 stage 2 at 90, warm 1024 MB, 99.5 ms → 100 ms → 0.1 GB-s
 *     f3 stage 2 at 110, warm 512 MB, 300 ms → 0.15 GB-s
 *     one throttle on stage 2 at 150
 */
const BILLING: BillingEvent[] = [
  vm('vm.launched', 'vm-a', 1, 0),
  invoked(1, 15, { memoryMb: 2048, durationMs: 50, initMs: 450, queryId: 'q4' }),
  vm('vm.ready', 'vm-a', 1, 10),
  vm('vm.launched', 'vm-b', 2, 30),
  vm('vm.ready', 'vm-b', 2, 50),
  invoked(2, 55, { memoryMb: 1024, durationMs: 200, initMs: 800, queryId: 'q1' }),
  invoked(2, 90, { memoryMb: 1024, durationMs: 99.5, initMs: 0, queryId: 'q2' }),
  vm('vm.draining', 'vm-a', 1, 100),
  invoked(2, 110, { memoryMb: 512, durationMs: 300, initMs: 0, queryId: 'q3' }),
  vm('vm.terminated', 'vm-a', 1, 120),
  {
    v: 1,
    type: 'faas.throttled',
    at: at(150),
    timeScale: TIME_SCALE,
    model: MODEL,
    stage: 2,
    queryId: 'q9',
    concurrency: 8,
  },
  {
    v: 1,
    type: 'faas.instance.started',
    at: at(15),
    timeScale: TIME_SCALE,
    model: MODEL,
    stage: 1,
    instanceId: 'fn-1-cold',
    memoryMb: 2048,
  },
  {
    v: 1,
    type: 'faas.instance.started',
    at: at(55),
    timeScale: TIME_SCALE,
    model: MODEL,
    stage: 2,
    instanceId: 'fn-2-cold',
    memoryMb: 1024,
  },
];

const STAGES: StageEvent[] = [
  execution(1, 'vm', 'vm-a', 20, 30),
  execution(1, 'vm', 'vm-a', 25, 40),
  execution(1, 'vm', 'vm-a', 60, 70),
  execution(2, 'vm', 'vm-b', 60, 80),
  execution(2, 'vm', 'vm-b', 100, 105),
  execution(1, 'faas', 'fn-1-cold', 15, 15.5),
  execution(2, 'faas', 'fn-2-cold', 55, 56),
  execution(2, 'faas', 'fn-2-warm', 90, 90.1),
  execution(2, 'faas', 'fn-2-warm', 110, 110.3),
];

/** Four finished queries; with a 500 ms SLO only q1 (300) and q3 (500, on the limit) meet it. */
const QUERIES: BilledQuery[] = [
  { queryId: 'q1', latencyMs: 300, ok: true },
  { queryId: 'q2', latencyMs: 800, ok: true },
  { queryId: 'q3', latencyMs: 500, ok: true },
  { queryId: 'q4', latencyMs: 100, ok: false }, // fast but failed: a violation
];

const INPUT: LedgerInput = {
  billing: BILLING,
  stages: STAGES,
  queries: QUERIES,
  prices: PRICES,
  now: at(200),
  sloMs: 500,
};

describe('ledger of the hand-built timeline', () => {
  const ledger = computeLedger(INPUT);

  test('VMs are billed from launch to termination, or to now when still running', () => {
    const [a, b] = ledger.vms;
    assert.ok(a && b);
    // vm-a: 120 s wall × 2 = 240 s → 240 × 0.0001 = 0.024 $.
    assert.deepEqual(
      [a.vmId, a.state, a.billedSeconds, a.readyAt, a.terminatedAt],
      ['vm-a', 'terminated', 240, at(10), at(120)],
    );
    close(a.usd, 0.024, 'vm-a usd');
    // vm-b: (200 − 30) = 170 s wall × 2 = 340 s → 0.034 $.
    assert.deepEqual([b.vmId, b.state, b.billedSeconds, b.terminatedAt], ['vm-b', 'ready', 340, null]);
    close(b.usd, 0.034, 'vm-b usd');
    close(ledger.vmUsd, 0.058, 'vmUsd');
  });

  test('function invocations are billed per request plus rounded GB-seconds', () => {
    // f4 1 GB-s → 1e-5 + 1e-7 = 1.01e-5; f1 1 GB-s → 1.01e-5; f2 0.1 GB-s → 1e-6 + 1e-7 = 1.1e-6;
    // f3 0.15 GB-s → 1.5e-6 + 1e-7 = 1.6e-6. Sum 2.29e-5 $ for 2.25 GB-s.
    close(ledger.faasUsd, 2.29e-5, 'faasUsd');
    assert.deepEqual(
      { ...ledger.faas, billedGbSeconds: Math.round(ledger.faas.billedGbSeconds * 1e9) / 1e9 },
      {
        invocations: 4,
        coldStarts: 2,
        throttled: 1,
        billedGbSeconds: 2.25,
        instancesStarted: 2,
        instancesReclaimed: 0,
      },
    );
  });

  test('the total is 0.0580229 $ and 14.505725 $ per 1,000 queries', () => {
    // 0.058 + 0.0000229 = 0.0580229 $; over 4 queries × 1000 = 14.505725 $.
    close(ledger.totalUsd, 0.0580229, 'totalUsd');
    close(ledger.perThousandQueriesUsd, 14.505725, 'per 1000');
    assert.deepEqual(ledger.queries, { total: 4, ok: 3, failed: 1 });
  });

  test('totals equal the sum of the per-event costs', () => {
    const vmSum = ledger.vms.reduce((s, v) => s + v.usd, 0);
    const faasSum = [...BILLING]
      .sort((x, y) => x.at - y.at)
      .reduce((s, e) => s + (e.type === 'faas.invoked' ? faasInvocationCostUsd(e, PRICES) : 0), 0);
    // Same summation order as the ledger, so the floats are identical, not just close.
    assert.equal(ledger.vmUsd, vmSum);
    assert.equal(ledger.faasUsd, faasSum);
    assert.equal(ledger.totalUsd, vmSum + faasSum);
    assert.equal(
      ledger.perStage.reduce((s, st) => s + st.totalUsd, 0),
      ledger.perStage.reduce((s, st) => s + (st.vmUsd + st.faasUsd), 0),
    );
    close(
      ledger.perStage.reduce((s, st) => s + st.totalUsd, 0),
      ledger.totalUsd,
      'per-stage sum',
    );
  });

  test('per stage, VM and function costs and executions are split by backend', () => {
    const [s1, s2] = ledger.perStage;
    assert.ok(s1 && s2);
    // Stage 1: vm-a 0.024 $ / 240 s; f4 1.01e-5 $, 1 GB-s, cold; 3 VM runs and 1 function run.
    assert.deepEqual(
      [s1.stage, s1.vmSeconds, s1.faasInvocations, s1.faasColdStarts, s1.faasThrottled, s1.executions],
      [1, 240, 1, 1, 0, { vm: 3, faas: 1 }],
    );
    close(s1.vmUsd, 0.024);
    close(s1.faasUsd, 1.01e-5);
    close(s1.totalUsd, 0.0240101);
    close(s1.faasBilledGbSeconds, 1);
    // Stage 2: vm-b 0.034 $ / 340 s; f1 + f2 + f3 = 1.01e-5 + 1.1e-6 + 1.6e-6 = 1.28e-5 $, 1.25 GB-s, 1 cold, 1 throttle.
    assert.deepEqual(
      [s2.stage, s2.vmSeconds, s2.faasInvocations, s2.faasColdStarts, s2.faasThrottled, s2.executions],
      [2, 340, 3, 1, 1, { vm: 2, faas: 3 }],
    );
    close(s2.faasUsd, 1.28e-5);
    close(s2.totalUsd, 0.0340128);
    close(s2.faasBilledGbSeconds, 1.25);
    assert.deepEqual(
      [ledger.perBackend.vm.vms, ledger.perBackend.vm.billedSeconds, ledger.perBackend.vm.executions],
      [2, 580, 5],
    );
    assert.deepEqual([ledger.perBackend.faas.invocations, ledger.perBackend.faas.executions], [4, 4]);
  });

  test('idle time is the life not covered by the union of overlapping executions', () => {
    const [a, b] = ledger.vms;
    assert.ok(a && b);
    // vm-a: busy [20, 40] ∪ [60, 70] = 30 s wall = 60 s cloud; life 240 → idle 180 (boot included).
    assert.deepEqual([a.lifetimeSeconds, a.busySeconds, a.idleSeconds], [240, 60, 180]);
    // vm-b: busy 20 + 5 = 25 s wall = 50 s cloud; life 340 → idle 290.
    assert.deepEqual([b.lifetimeSeconds, b.busySeconds, b.idleSeconds], [340, 50, 290]);
    // 180 + 290 = 470 idle of 580 → 0.8103448…
    assert.equal(ledger.vmIdleSeconds, 470);
    close(ledger.vmIdleShare, 470 / 580, 'idle share');
  });

  test('SLO attainment counts a fast failed query as a violation', () => {
    // q1 (300) and q3 (500 <= 500) meet 500 ms; q2 (800) misses; q4 failed → 2 / 4.
    assert.equal(ledger.sloMs, 500);
    assert.equal(ledger.sloAttainment, 0.5);
    assert.deepEqual(ledger.anomalies, []);
  });
});

describe('ledger options and edge cases', () => {
  test('without an SLO or without queries there is no attainment and no per-1,000 figure', () => {
    assert.equal(computeLedger({ ...INPUT, sloMs: undefined }).sloAttainment, null);
    const none = computeLedger({ ...INPUT, queries: [] });
    assert.equal(none.sloAttainment, null);
    assert.equal(none.perThousandQueriesUsd, null);
  });

  test('an unknown latency is an SLO violation', () => {
    const l = computeLedger({ ...INPUT, queries: [{ queryId: 'x', latencyMs: null, ok: true }, QUERIES[0]!] });
    assert.equal(l.sloAttainment, 0.5); // only q1 (300 ms) counts
  });

  test('since cuts the billed life of VMs to what it adds after that time', () => {
    const since = at(100);
    const l = computeLedger({ ...INPUT, since });
    const [a, b] = l.vms;
    assert.ok(a && b);
    // vm-a: whole life 240 s billed, life up to since (100 s wall = 200 s) billed 200 → 40 s, 0.004 $.
    // In the window it lives 20 s wall = 40 s cloud and runs nothing → idle 40.
    assert.deepEqual([a.billedSeconds, a.lifetimeSeconds, a.busySeconds, a.idleSeconds], [40, 40, 0, 40]);
    close(a.usd, 0.004);
    // vm-b: 340 − 140 (70 s wall before since) = 200 s, 0.02 $; busy [100, 105] = 10 s cloud of 200 → idle 190.
    assert.deepEqual([b.billedSeconds, b.lifetimeSeconds, b.busySeconds, b.idleSeconds], [200, 200, 10, 190]);
    close(b.usd, 0.02);
    // Functions at/after 100: only f3 (1.6e-6 $) and the throttle at 150.
    close(l.faasUsd, 1.6e-6);
    assert.deepEqual([l.faas.invocations, l.faas.throttled, l.faas.instancesStarted], [1, 1, 0]);
    close(l.totalUsd, 0.0240016);
    // Executions finished at/after 100: vm-b's [100, 105] and f3.
    assert.deepEqual(
      l.perStage.map((s) => [s.stage, s.executions]),
      [
        [1, { vm: 0, faas: 0 }],
        [2, { vm: 1, faas: 1 }],
      ],
    );
  });

  test('a period split at since bills the same VM seconds as the whole period', () => {
    const since = at(100);
    // Before: the bill as it stood at since (events up to then, now = since): vm-a 200 s, vm-b 140 s.
    const before = computeLedger({ ...INPUT, billing: BILLING.filter((e) => e.at <= since), now: since });
    const after = computeLedger({ ...INPUT, since });
    const whole = computeLedger(INPUT);
    assert.deepEqual(
      before.vms.map((v) => v.billedSeconds),
      [200, 140],
    );
    // 340 + 240 = 580 = 240 + 340.
    assert.equal(
      before.perBackend.vm.billedSeconds + after.perBackend.vm.billedSeconds,
      whole.perBackend.vm.billedSeconds,
    );
  });

  test('a short-lived VM launched in the window pays the 60 s minimum once', () => {
    // Launched at 195, now 200: 5 s wall = 10 s cloud → 60 s billed → 0.006 $.
    const l = computeLedger({ ...INPUT, billing: [vm('vm.launched', 'vm-c', 1, 195)], stages: [], since: at(150) });
    assert.deepEqual(
      l.vms.map((v) => [v.vmId, v.state, v.billedSeconds, v.lifetimeSeconds]),
      [['vm-c', 'launching', 60, 10]],
    );
    close(l.vmUsd, 0.006);
  });

  test('a VM gone before since is not in the bill', () => {
    const l = computeLedger({ ...INPUT, since: at(150) });
    assert.deepEqual(
      l.vms.map((v) => v.vmId),
      ['vm-b'],
    );
    // vm-b: 340 − (120 s wall before 150 = 240 s) = 100 s.
    assert.equal(l.vms[0]?.billedSeconds, 100);
  });

  test('a VM with no launch event is billed from its first event and reported', () => {
    const l = computeLedger({
      ...INPUT,
      billing: [vm('vm.ready', 'vm-x', 1, 100), vm('vm.terminated', 'vm-x', 1, 150)],
      stages: [execution(1, 'vm', 'somewhere-else', 100, 101)],
    });
    // 50 s wall = 100 s cloud.
    assert.equal(l.vms[0]?.billedSeconds, 100);
    assert.deepEqual(l.anomalies, [
      '1 VM execution(s) ran on workers with no VM billing events; they count as executions but not toward any VM busy time',
      `vm vm-x: no vm.launched event; billed from its first event at ${at(100)}`,
    ]);
  });

  test('an unknown instance type fails the whole bill with the catalog in the message', () => {
    const odd = { ...(BILLING[0] as Extract<BillingEvent, { type: 'vm.launched' }>), instanceType: 'z.big' };
    assert.throws(() => computeLedger({ ...INPUT, billing: [odd] }), {
      name: 'UnknownInstanceTypeError',
      message: 'no price for VM instance type "z.big": prices.vmPerHourUsd lists "t.small"',
    });
  });
});

describe('orchestration in the bill', () => {
  // The 4 queries of the timeline ran 3 + 2k actions each for exits at stages 1, 2, 2, 4: 5 + 7 + 7 + 11 = 30
  // actions; at 25 $ per million (2.5e-5 $) → 7.5e-4 $.
  const orchestration = {
    actionCounts: {
      workflowStarted: 4,
      activityAttempts: 9,
      localActivityTasks: 4,
      heartbeats: 9,
      searchAttributeUpserts: 4,
      timersStarted: 0,
      signals: 0,
    },
    workflows: 4,
    usdPerAction: 2.5e-5,
    pricing: 'temporal-cloud',
  };
  const without = computeLedger(INPUT);
  const ledger = computeLedger({ ...INPUT, orchestration });

  test('the actions, per kind and per query, and their price', () => {
    assert.equal(ledger.actions, 30);
    assert.deepEqual(ledger.actionCounts, orchestration.actionCounts);
    assert.equal(ledger.actionsPerQuery, 7.5);
    close(ledger.orchestrationUsd, 7.5e-4, 'orchestrationUsd');
    assert.deepEqual(ledger.orchestration, { workflows: 4, usdPerAction: 2.5e-5, pricing: 'temporal-cloud' });
  });

  test('the total adds orchestration to VM and serverless; stages and per-1,000 follow', () => {
    assert.equal(ledger.totalUsd, ledger.vmUsd + ledger.faasUsd + ledger.orchestrationUsd);
    close(ledger.totalUsd, 0.0580229 + 7.5e-4, 'totalUsd');
    // (0.0580229 + 0.00075) / 4 × 1000 = 14.693225 $
    close(ledger.perThousandQueriesUsd, 14.693225, 'per 1000');
    assert.equal(ledger.vmUsd, without.vmUsd);
    assert.equal(ledger.faasUsd, without.faasUsd);
    assert.deepEqual(ledger.perStage, without.perStage, 'orchestration is per query, not per stage');
  });

  test('without orchestration: 0 actions, 0 USD, nothing per query', () => {
    assert.equal(without.orchestrationUsd, 0);
    assert.equal(without.actions, 0);
    assert.equal(without.actionsPerQuery, null);
    assert.equal(without.orchestration, null);
  });

  test('no workflow counted: no actions per query', () => {
    const none = computeLedger({ ...INPUT, orchestration: { ...orchestration, workflows: 0 } });
    assert.equal(none.actionsPerQuery, null);
  });
});

describe('union of execution intervals', () => {
  const cases = [
    { label: 'no intervals', intervals: [], from: 0, to: 100, want: 0 },
    {
      label: 'disjoint ones add up',
      intervals: [
        [0, 10],
        [20, 25],
      ] as const,
      from: 0,
      to: 100,
      want: 15,
    },
    {
      label: 'overlapping ones count once',
      intervals: [
        [0, 10],
        [5, 20],
        [30, 40],
      ] as const,
      from: 0,
      to: 35,
      want: 25,
    },
    {
      label: 'a nested one adds nothing',
      intervals: [
        [0, 50],
        [10, 20],
      ] as const,
      from: 0,
      to: 100,
      want: 50,
    },
    {
      label: 'touching ones join',
      intervals: [
        [0, 10],
        [10, 20],
      ] as const,
      from: 0,
      to: 100,
      want: 20,
    },
    {
      label: 'they are clipped to the window',
      intervals: [
        [-10, 10],
        [90, 120],
      ] as const,
      from: 0,
      to: 100,
      want: 20,
    },
    {
      label: 'order does not matter',
      intervals: [
        [30, 40],
        [0, 10],
        [5, 20],
      ] as const,
      from: 0,
      to: 100,
      want: 30,
    },
  ];
  for (const c of cases) {
    test(c.label, () => {
      assert.equal(unionLengthMs(c.intervals, c.from, c.to), c.want);
    });
  }
});

/**
 * A VM's end and liveness (billing events v2). Timelines in wall seconds after T0, cloud = 2 × wall, t.small at
 * 0.0001 $/s (so 1 wall second = 0.0002 $ above the 60 s minimum). Liveness every 10 s; stale after 30 s.
 */
describe('VM ends and liveness', () => {
  const INTERVAL_MS = 10_000;
  const STALE_MS = 30_000;
  const v2 = (vmId: string, s: number) => ({
    v: 2 as const,
    at: at(s),
    timeScale: TIME_SCALE,
    model: MODEL,
    stage: 1,
    vmId,
    instanceType: 't.small',
  });
  const alive = (vmId: string, s: number): BillingEvent => ({
    ...v2(vmId, s),
    type: 'vm.alive',
    intervalMs: INTERVAL_MS,
  });
  /** `vm.alive` every 10 s from `fromS` to `toS` inclusive. */
  const aliveEvery = (vmId: string, fromS: number, toS: number): BillingEvent[] =>
    Array.from({ length: (toS - fromS) / 10 + 1 }, (_, i) => alive(vmId, fromS + 10 * i));
  const stopped = (vmId: string, s: number): BillingEvent => ({
    ...v2(vmId, s),
    type: 'vm.stopped',
    reason: 'shutdown',
  });
  const ledger = (billing: BillingEvent[], nowS: number) =>
    computeLedger({ billing, stages: [], queries: [], prices: PRICES, now: at(nowS), livenessStaleMs: STALE_MS });

  test('a VM with an end is billed to it, whatever its liveness: 100 s wall = 200 s = 0.02 $', () => {
    const l = ledger(
      [
        vm('vm.launched', 'vm-e', 1, 0),
        vm('vm.ready', 'vm-e', 1, 5),
        ...aliveEvery('vm-e', 0, 90),
        vm('vm.terminated', 'vm-e', 1, 100),
      ],
      500,
    );
    const b = l.vms[0]!;
    assert.equal(b.state, 'terminated');
    assert.equal(b.terminatedAt, at(100));
    assert.equal(b.endReportedBy, 'provider');
    assert.equal(b.unended, false);
    assert.equal(b.lastAliveAt, null);
    assert.equal(b.billedSeconds, 200);
    close(b.usd, 0.02, 'usd');
    assert.deepEqual(l.unendedVms, []);
    assert.deepEqual(l.anomalies, []);
  });

  test('no end but fresh liveness (20 s old, under 30 s): billed to now, 300 s wall = 600 s = 0.06 $', () => {
    const l = ledger(
      [vm('vm.launched', 'vm-f', 1, 0), vm('vm.ready', 'vm-f', 1, 5), ...aliveEvery('vm-f', 0, 280)],
      300,
    );
    const b = l.vms[0]!;
    assert.equal(b.state, 'ready');
    assert.equal(b.unended, false);
    assert.equal(b.terminatedAt, null);
    assert.equal(b.endReportedBy, null);
    assert.equal(b.lastAliveAt, at(280));
    assert.equal(b.billedSeconds, 600);
    close(b.usd, 0.06, 'usd');
    assert.deepEqual(l.unendedVms, []);
  });

  test('no end and stale liveness (last at 100 s, now 300 s): billed to 100 + 10 = 110 s wall = 220 s = 0.022 $, flagged', () => {
    const l = ledger(
      [vm('vm.launched', 'vm-s', 1, 0), vm('vm.ready', 'vm-s', 1, 5), ...aliveEvery('vm-s', 0, 100)],
      300,
    );
    const b = l.vms[0]!;
    assert.equal(b.state, 'unended');
    assert.equal(b.unended, true);
    assert.equal(b.lastAliveAt, at(100));
    assert.equal(b.terminatedAt, null);
    assert.equal(b.billedSeconds, 220);
    close(b.usd, 0.022, 'usd');
    close(b.lifetimeSeconds, 220, 'lifetime');
    assert.deepEqual(l.unendedVms, ['vm-s']);
    assert.deepEqual(l.anomalies, [], 'an unended VM is reported by id, not as a text anomaly');
    close(l.vmUsd, 0.022, 'vmUsd');
  });

  test('the stale rule sits at the threshold: liveness exactly 30 s old is fresh, 30.001 s old is stale', () => {
    const events = [vm('vm.launched', 'vm-t', 1, 0), ...aliveEvery('vm-t', 0, 100)];
    assert.equal(ledger(events, 130).vms[0]!.unended, false);
    assert.equal(ledger(events, 130.001).vms[0]!.unended, true);
  });

  test('a VM of version-1 events (no liveness at all) is cut at its last fact + the default interval once stale', () => {
    // ready at 5 s is its last sign; the default interval is 60 s → billed to 65 s wall = 130 s = 0.013 $.
    assert.equal(DEFAULT_VM_LIVENESS_INTERVAL_MS, 60_000);
    const l = ledger([vm('vm.launched', 'vm-o', 1, 0), vm('vm.ready', 'vm-o', 1, 5)], 300);
    const b = l.vms[0]!;
    assert.equal(b.unended, true);
    assert.equal(b.lastAliveAt, at(5));
    assert.equal(b.billedSeconds, 130);
    close(b.usd, 0.013, 'usd');
  });

  test("an end reported by both the provider and the VM counts once: the provider's, 100 s wall = 0.02 $", () => {
    const both = ledger(
      [
        vm('vm.launched', 'vm-d', 1, 0),
        ...aliveEvery('vm-d', 0, 90),
        stopped('vm-d', 99),
        vm('vm.terminated', 'vm-d', 1, 100),
      ],
      500,
    );
    const b = both.vms[0]!;
    assert.equal(both.vms.length, 1);
    assert.equal(b.state, 'terminated');
    assert.equal(b.terminatedAt, at(100));
    assert.equal(b.endReportedBy, 'provider');
    assert.equal(b.billedSeconds, 200);
    close(b.usd, 0.02, 'usd');
    assert.deepEqual(both.anomalies, [], 'two reports of one end are not an anomaly');
    // The same facts in the other order (the stream holds them as they landed): the same bill.
    const swapped = ledger(
      [vm('vm.terminated', 'vm-d', 1, 100), stopped('vm-d', 99), vm('vm.launched', 'vm-d', 1, 0)],
      500,
    );
    assert.equal(swapped.vms[0]!.billedSeconds, 200);
  });

  test('a VM whose provider died reports its own end: billed to it, 99 s wall = 198 s = 0.0198 $, not flagged', () => {
    const l = ledger([vm('vm.launched', 'vm-v', 1, 0), ...aliveEvery('vm-v', 0, 90), stopped('vm-v', 99)], 500);
    const b = l.vms[0]!;
    assert.equal(b.state, 'terminated');
    assert.equal(b.endReportedBy, 'vm');
    assert.equal(b.terminatedAt, at(99));
    assert.equal(b.unended, false);
    assert.equal(b.billedSeconds, 198);
    close(b.usd, 0.0198, 'usd');
  });

  test('windows still add up for a flagged VM: [0, 50) + [50, 300] bills what [0, 300] does', () => {
    const events = [vm('vm.launched', 'vm-w', 1, 0), ...aliveEvery('vm-w', 0, 100)];
    const first = computeLedger({
      billing: events.filter((e) => e.at < at(50)),
      stages: [],
      queries: [],
      prices: PRICES,
      now: at(50),
      livenessStaleMs: STALE_MS,
    });
    const second = computeLedger({
      billing: events,
      stages: [],
      queries: [],
      prices: PRICES,
      now: at(300),
      since: at(50),
      livenessStaleMs: STALE_MS,
    });
    assert.equal(first.vms[0]!.billedSeconds + second.vms[0]!.billedSeconds, ledger(events, 300).vms[0]!.billedSeconds);
    assert.equal(ledger(events, 300).vms[0]!.billedSeconds, 220);
  });
});

describe('billing events of version 2', () => {
  const base = { at: T0, timeScale: 1, model: 'm', stage: 1, vmId: 'vm-1', instanceType: 't' };
  test('version-1 events still read; the new types need version 2 and their fields', () => {
    assert.equal(parseBillingEvent({ v: 1, type: 'vm.launched', ...base, bootDelayMs: 0 }).type, 'vm.launched');
    assert.equal(parseBillingEvent({ v: 2, type: 'vm.launched', ...base, bootDelayMs: 0 }).type, 'vm.launched');
    assert.equal(parseBillingEvent({ v: 2, type: 'vm.alive', ...base, intervalMs: 60_000 }).type, 'vm.alive');
    assert.equal(parseBillingEvent({ v: 2, type: 'vm.stopped', ...base, reason: 'x' }).type, 'vm.stopped');
    assert.throws(() => parseBillingEvent({ v: 1, type: 'vm.alive', ...base, intervalMs: 60_000 }), /v/);
    assert.throws(() => parseBillingEvent({ v: 2, type: 'vm.alive', ...base }), /intervalMs/);
    assert.throws(() => parseBillingEvent({ v: 2, type: 'vm.alive', ...base, intervalMs: 0 }), /intervalMs/);
    assert.throws(() => parseBillingEvent({ v: 3, type: 'vm.launched', ...base, bootDelayMs: 0 }), /v/);
  });
  test('a fact of one VM life has one message id whoever publishes it; liveness one per time', () => {
    const term = parseBillingEvent({ v: 2, type: 'vm.terminated', ...base, reason: 'drained' });
    const termLater = parseBillingEvent({ v: 2, type: 'vm.terminated', ...base, at: T0 + 5, reason: 'other' });
    assert.equal(billingMsgId(term), 'vm-1.vm.terminated');
    assert.equal(billingMsgId(termLater), billingMsgId(term));
    assert.equal(
      billingMsgId(parseBillingEvent({ v: 2, type: 'vm.stopped', ...base, reason: 'x' })),
      'vm-1.vm.stopped',
    );
    assert.equal(
      billingMsgId(parseBillingEvent({ v: 2, type: 'vm.alive', ...base, intervalMs: 1 })),
      `vm-1.vm.alive.${T0}`,
    );
    const invoked = { v: 2, type: 'faas.invoked', ...base, instanceId: 'i', queryId: 'q', memoryMb: 128 };
    assert.equal(
      billingMsgId(parseBillingEvent({ ...invoked, durationMs: 1, initMs: 0, coldStart: false })),
      undefined,
    );
  });
});
