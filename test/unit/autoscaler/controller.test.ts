/**
 * autoscaler/controller.ts on virtual time: one tick reads the intake window and the pools, runs the policy, then
 * scales through the actuator, publishes the routing plan and records the decision. The actuator, intake, routing
 * store and recorder are in-memory fakes (test/helpers/controller-fakes.ts); the policy is the real SERFLOW policy
 * on the shared fixture (autoscaler-fixture.ts: mu = 10, 5, 5 q/s per VM, T-CIP 2.5 q/s, overflowAfterMs 200,
 * 400, 400 ms), with co-location off unless a test turns it on. Ticks 1 s apart, so arrivals = q/s.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createController, type Controller } from '../../../autoscaler/controller';
import { serflowPolicy } from '../../../autoscaler/policies/serflow';
import { parseDecisionRecord, type DecisionRecord } from '../../../common/control-events';
import { ROUTING_PLAN_VERSION, type RoutingPlan, type StageRoute } from '../../../common/routing';
import { SEC, compile as compileFixture, near } from '../../helpers/autoscaler-fixture';

/** These cases are computed with method.md's EWMA sizing (`sizing: 'ewma'`); the forecast rule has forecast.test.ts. */
const compile = (input: Record<string, unknown> = {}) => compileFixture({ sizing: 'ewma', ...input });
import {
  createFakeActuator,
  createFakeIntake,
  createFakeRecorder,
  createFakeRoutingStore,
  windowOf,
  type FakeActuator,
  type FakeIntake,
  type FakeRecorder,
  type FakeRoutingStore,
  type ScaleCall,
} from '../../helpers/controller-fakes';

const MODEL = 'test';
const STAGES = 3;

interface Rig {
  controller: Controller;
  actuator: FakeActuator;
  intake: FakeIntake;
  routing: FakeRoutingStore;
  recorder: FakeRecorder;
  log: string[];
}

function rig(options: { colocate?: boolean; plans?: RoutingPlan[] } = {}): Rig {
  const actuator = createFakeActuator();
  const intake = createFakeIntake();
  const routing = createFakeRoutingStore(options.plans);
  const recorder = createFakeRecorder();
  const log: string[] = [];
  const controller = createController({
    model: MODEL,
    stages: STAGES,
    policy: serflowPolicy,
    config: compile({ colocate: options.colocate ?? false }),
    intake,
    routing,
    actuator,
    recorder,
    log: (line) => log.push(line),
  });
  return { controller, actuator, intake, routing, recorder, log };
}

/** One tick and what it must have done (unset fields are not checked). */
interface Step {
  at: number;
  arrivals: number[];
  /** Pools as the agent reports them before the tick, [stage, ready, booting] (booted VMs becoming ready). */
  pools?: Array<[number, number, number]>;
  want: {
    /** Scale requests of this tick, in order. */
    scaled?: ScaleCall[];
    /** The plan's stages published this tick, or null for no plan published. */
    plan?: StageRoute[] | null;
    /** The record's actions. */
    actions?: string[];
    valid?: boolean;
  };
}

/** Routes equal, shares to 1e-9 (the hand values are exact fractions, the code's binary floats). */
function assertSameRoutes(actual: StageRoute[], expected: StageRoute[], where: string): void {
  const exact = (routes: StageRoute[]) => routes.map(({ vmShare: _share, ...rest }) => rest);
  assert.deepEqual(exact(actual), exact(expected), where);
  actual.forEach((r, i) => assert.ok(near(r.vmShare, expected[i]?.vmShare ?? NaN), `${where}: vmShare ${r.vmShare}`));
}

/** Run the steps in order on `r`, checking each; returns the records of the steps. */
async function runTimeline(r: Rig, steps: Step[]): Promise<DecisionRecord[]> {
  const records: DecisionRecord[] = [];
  for (const s of steps) {
    for (const [stage, ready, booting] of s.pools ?? []) r.actuator.setPool(stage, ready, booting);
    r.intake.window = windowOf(s.arrivals);
    const calls = r.actuator.scaleCalls.length;
    const puts = r.routing.puts.length;
    const record = await r.controller.tick(s.at);
    records.push(record);
    const where = `at ${s.at / SEC} s: ${record.decision.reason} | ${record.actions.join('; ')}`;
    if (s.want.valid !== undefined) assert.equal(record.decision.valid, s.want.valid, where);
    if (s.want.scaled) assert.deepEqual(r.actuator.scaleCalls.slice(calls), s.want.scaled, where);
    if (s.want.plan !== undefined) {
      const published = r.routing.puts.slice(puts);
      if (s.want.plan === null) assert.deepEqual(published, [], where);
      else {
        assert.equal(published.length, 1, where);
        assertSameRoutes(published[0]?.stages ?? [], s.want.plan, where);
      }
    }
    if (s.want.actions) assert.deepEqual(record.actions, s.want.actions, where);
  }
  return records;
}

const scale = (stage: number, vms: number): ScaleCall => ({ model: MODEL, stage, vms });

/** The first tick has no window to measure (windowMs 0), so the policy answers "no data" (serflow.test.ts). */
const FIRST: Step = { at: 0, arrivals: [0, 0, 0], want: { valid: false, scaled: [], plan: null, actions: [] } };

/**
 * 23, 12, 2 q/s with empty pools: stage 1 23/10 → 2 + 1 (remainder 3 >= T-CIP 2.5) = 3 VMs, stage 2 12/5 → 2
 * (remainder 2 < 2.5), stage 3 2 < 2.5 → 0. Nothing is ready, so every stage routes serverless (vmShare 0), with
 * an overflow only where VMs are wanted.
 */
const LOAD_STEP: Step = {
  at: 1 * SEC,
  arrivals: [23, 12, 2],
  want: {
    valid: true,
    scaled: [scale(1, 3), scale(2, 2)],
    plan: [
      { stage: 1, vmShare: 0, overflowAfterMs: 200 },
      { stage: 2, vmShare: 0, overflowAfterMs: 400 },
      { stage: 3, vmShare: 0 },
    ],
    actions: ['stage 1: VMs 0 -> 3', 'stage 2: VMs 0 -> 2', 'plan: 1:0.00 2:0.00 3:0.00'],
  },
};

describe('controller: read → decide → actuate → record', () => {
  test('the first tick has no window to measure: nothing is actuated, the record says why', async () => {
    const r = rig();
    const [record] = await runTimeline(r, [{ ...FIRST, arrivals: [23, 12, 2] }]);
    assert.equal(record?.decision.reason, 'no-data');
    assert.equal(record?.observation.windowMs, 0);
    assert.equal(r.intake.commits, 1, 'a window decided on (even as "no data") is committed');
    assert.deepEqual(r.log, [], 'nothing done, nothing logged');
  });

  test('bad intake input is logged with its counts and the window is still decided on', async () => {
    const r = rig();
    r.intake.malformed = 2;
    r.intake.pullErrors = 1;
    const [record] = await runTimeline(r, [FIRST]);
    assert.equal(record?.decision.reason, 'no-data');
    assert.equal(r.intake.commits, 1);
    assert.deepEqual(r.log, [
      'intake: 2 malformed stage events terminated (#1 fake: malformed; #2 fake: malformed), 1 failed pulls this window',
    ]);
  });

  test('a load step scales up the stages that pay for VMs and publishes the routing plan', async () => {
    const r = rig();
    await runTimeline(r, [FIRST, LOAD_STEP]);
    assert.equal(r.routing.puts[0]?.source, 'autoscaler:serflow');
    assert.equal(r.routing.puts[0]?.v, ROUTING_PLAN_VERSION);
    assert.equal(r.routing.puts[0]?.updatedAt, 1 * SEC, 'the plan is stamped with the policy clock');
    assert.equal(r.log.length, 1);
    assert.match(r.log[0] ?? '', /^serflow: stage 1: VMs 0 -> 3; stage 2: VMs 0 -> 2; plan: .* \(/);
  });

  test('a decision equal to the current pools scales nothing and an unchanged plan is not republished', async () => {
    const r = rig();
    await runTimeline(r, [
      FIRST,
      LOAD_STEP,
      // The agent now reports 3 and 2 booting (what was asked): same load, mean 23 / 12 / 2, dev 0 → 3, 2, 0
      // again = the pools; nothing ready yet → shares 0 again: the same plan.
      { at: 2 * SEC, arrivals: [23, 12, 2], want: { valid: true, scaled: [], plan: null, actions: [] } },
    ]);
    assert.equal(r.log.length, 1, 'a tick that does nothing logs nothing');
  });

  test('VMs becoming ready change the plan, not the pools', async () => {
    const r = rig();
    await runTimeline(r, [
      FIRST,
      LOAD_STEP,
      // All up: stage 1 3 · 10 = 30 >= 23 → share 1; stage 2 2 · 5 = 10 of 12 → 5/6; stage 3 no VM → 0.
      {
        at: 2 * SEC,
        arrivals: [23, 12, 2],
        pools: [
          [1, 3, 0],
          [2, 2, 0],
        ],
        want: {
          scaled: [],
          plan: [
            { stage: 1, vmShare: 1, overflowAfterMs: 200 },
            { stage: 2, vmShare: 10 / 12, overflowAfterMs: 400 },
            { stage: 3, vmShare: 0 },
          ],
          actions: ['plan: 1:1.00 2:0.83 3:0.00'],
        },
      },
    ]);
  });

  test('the whole-model pool is stage 0 of the actuator', async () => {
    // Co-location on: 23, 12, 2 q/s are cheapest as one shared pool for stages 1..3 of 5 VMs
    // (colocation.test.ts: W = 2.3 + 2.4 + 0.4 = 5.1 → 5); the per-stage pools stay empty.
    const r = rig({ colocate: true });
    const [, record] = await runTimeline(r, [
      FIRST,
      { at: 1 * SEC, arrivals: [23, 12, 2], want: { valid: true, scaled: [scale(0, 5)] } },
    ]);
    assert.equal(record?.decision.wholeModelVms, 5);
    assert.equal(record?.actions[0], 'whole model: VMs 0 -> 5');
  });

  test('a plan cleared by someone else (`serflow route clear`) is published again at the next tick', async () => {
    const r = rig();
    const same = { at: 2 * SEC, arrivals: [23, 12, 2] };
    await runTimeline(r, [FIRST, LOAD_STEP, { ...same, want: { plan: null } }]);
    await r.routing.clear(MODEL);
    await runTimeline(r, [{ ...same, at: 3 * SEC, want: { plan: LOAD_STEP.want.plan! } }]);
    assert.equal(((await r.routing.get(MODEL)) as RoutingPlan | null)?.source, 'autoscaler:serflow');
  });

  test('a rejected stored value pins nothing and is replaced by the decision at the next tick', async () => {
    const r = rig();
    r.routing.plantRejected(MODEL, 'plan for mnist-ee: expected a plan object, got 5');
    await runTimeline(r, [FIRST, LOAD_STEP]);
    const stored = (await r.routing.get(MODEL)) as RoutingPlan | null;
    assert.equal(stored?.source, 'autoscaler:serflow');
    assert.ok(!r.recorder.records.some((rec) => rec.actions.some((a) => a.startsWith('not actuating'))));
  });

  test('a plan that differs only in its fused runs is published', async () => {
    const r = rig();
    await runTimeline(r, [FIRST, LOAD_STEP]);
    const stored = (await r.routing.get(MODEL)) as RoutingPlan;
    // Someone rewrote the plan with the same shares but a fused run: the controller's decision has none.
    await r.routing.put({ ...stored, fused: [{ first: 2, last: 3 }] });
    const puts = r.routing.puts.length;
    await runTimeline(r, [{ at: 2 * SEC, arrivals: [23, 12, 2], want: {} }]);
    assert.equal(r.routing.puts.length, puts + 1);
    assert.equal(((await r.routing.get(MODEL)) as RoutingPlan).fused, undefined);
  });

  test("an operator's static plan pins pools and routing: decided and recorded, not actuated", async () => {
    const pinned: RoutingPlan = {
      v: ROUTING_PLAN_VERSION,
      model: MODEL,
      stages: [1, 2, 3].map((stage) => ({ stage, vmShare: 1 })),
      source: 'static:all-vm',
      updatedAt: 0,
    };
    const r = rig({ plans: [pinned] });
    const notActuating = 'not actuating: static plan static:all-vm pinned by an operator';
    await runTimeline(r, [
      { ...FIRST, want: { ...FIRST.want, actions: [notActuating] } },
      { ...LOAD_STEP, want: { valid: true, scaled: [], plan: null, actions: [notActuating] } },
    ]);
    assert.equal(r.recorder.records[1]?.decision.stages[0]?.desiredVms, 3, 'the decision itself is kept');
  });
});

describe('controller: the decision record', () => {
  test('what tick returns is what was recorded, and what the readers accept', async () => {
    const r = rig();
    // Cloud time runs 10x wall time: the policy clock is `now`, the window is measured on the wall clock.
    await r.controller.tick(0, 1_000_000);
    r.intake.window = windowOf([23, 12, 2]);
    const record = await r.controller.tick(10 * SEC, 1_001_000);
    assert.equal(r.recorder.records.length, 2);
    assert.equal(r.recorder.records[1], record);
    assert.equal(r.controller.lastRecord, record);
    assert.deepEqual(
      { v: record.v, type: record.type, model: record.model, policy: record.policy, at: record.at },
      { v: 1, type: 'autoscaler.decision', model: MODEL, policy: 'serflow', at: 10 * SEC },
    );
    assert.equal(record.wallAt, 1_001_000);
    assert.equal(record.observation.now, 10 * SEC);
    assert.equal(record.observation.windowMs, 1000, 'wall ms since the previous tick');
    assert.deepEqual(record.observation.stages, windowOf([23, 12, 2]));
    assert.deepEqual(
      record.observation.pools,
      [0, 1, 2, 3].map((stage) => ({ stage, vmsReady: 0, vmsBooting: 0, vmsDraining: 0 })),
      'every pool, the whole-model one (stage 0) included, as the actuator reported them',
    );
    assert.deepEqual(parseDecisionRecord(JSON.parse(JSON.stringify(record)), 'test'), record);
  });
});

describe('controller: when the actuator fails', () => {
  test('a refused scale fails the tick: nothing recorded or committed, and the next tick asks again', async () => {
    const r = rig();
    await runTimeline(r, [FIRST]);
    const refusal = new Error('pool API busy');
    r.actuator.failScale = (call) => (call.stage === 2 ? refusal : undefined);
    r.intake.window = windowOf([23, 12, 2]);
    await assert.rejects(r.controller.tick(1 * SEC), refusal);
    // Stage 1 was asked (and the agent took it) before stage 2 failed; the plan comes after the pools.
    assert.deepEqual(r.actuator.scaleCalls, [scale(1, 3), scale(2, 2)]);
    assert.deepEqual(r.routing.puts, []);
    assert.equal(r.recorder.records.length, 1, 'only the first tick is recorded');
    assert.equal(r.controller.lastRecord, r.recorder.records[0]);
    assert.equal(r.intake.commits, 1, 'the failed window is kept, to be counted again');

    r.actuator.failScale = undefined;
    const [record] = await runTimeline(r, [
      {
        // Stage 1 now reports its 3 booting VMs: only stage 2 is asked again, and the plan goes out.
        at: 2 * SEC,
        arrivals: [23, 12, 2],
        want: {
          valid: true,
          scaled: [scale(2, 2)],
          plan: LOAD_STEP.want.plan,
          actions: ['stage 2: VMs 0 -> 2', 'plan: 1:0.00 2:0.00 3:0.00'],
        },
      },
    ]);
    // Today the failed tick still moved the window's start: the retry's window is measured from the failed tick
    // (1 s), while its counts still hold the failed window's events (not committed).
    assert.equal(record?.observation.windowMs, 1000);
    assert.equal(r.intake.commits, 2);
  });

  test('a pool API that does not answer fails the tick before the policy runs', async () => {
    const r = rig();
    await runTimeline(r, [FIRST]);
    r.actuator.failPools = new Error('no cloud agent answered');
    await assert.rejects(r.controller.tick(1 * SEC), /no cloud agent answered/);
    assert.deepEqual(r.actuator.scaleCalls, []);
    assert.equal(r.recorder.records.length, 1);
    assert.equal(r.intake.commits, 1);

    r.actuator.failPools = undefined;
    // The failed tick did not count as a tick: the window runs from the last good one, 2 s, so the counts of
    // both seconds (46, 24, 4) are the load step's rates (23, 12, 2 q/s) and its decision.
    const [record] = await runTimeline(r, [{ ...LOAD_STEP, at: 2 * SEC, arrivals: [46, 24, 4] }]);
    assert.equal(record?.observation.windowMs, 2000);
  });
});
