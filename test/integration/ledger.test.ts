/**
 * The cost ledger over a real stack's billing events: after a mixed workload (stages 1-2 on VMs, 3-4 serverless,
 * plus a VM launched and drained), `serflow cost` (`collectCost`) states totals that add up (VM + serverless +
 * orchestration), that equal the bill recomputed here event by event from the configured prices with the cost
 * model of method.md written out again (not the product's price functions), and the Temporal actions of every query
 * of the workload.
 *
 * Time scale 10: a VM living 2 s of wall time is billed 20 cloud seconds, so the 60 s minimum applies to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collectCost, type CostReport } from '../../cli/cost-command';
import type { BillingEvent } from '../../common/billing-events';
import type { SerflowConfig } from '../../common/config';
import type { InferenceResult } from '../../common/contracts';
import { sampleIndices } from '../../common/stats';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { readAllBillingEvents, waitForBillingEvents } from '../helpers/billing-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const STAGES = 4;
const TIME_SCALE = 10;
const THRESHOLD = 0.999999;
const QUERIES = 20;
/** Float sums taken in another order may differ in the last bits; a cent is 1e-2, so 1e-12 $ is exact enough. */
const USD_TOLERANCE = 1e-12;

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= USD_TOLERANCE, `${what}: ${a} vs ${b} (diff ${a - b})`);

interface IndependentBill {
  vmUsd: number;
  faasUsd: number;
  perVm: Map<string, number>;
  perStage: Map<number, { vmUsd: number; faasUsd: number }>;
}

/**
 * Rounding up that ignores float noise below 1e-9 (20.000000000001 s is 20 s), as a bill reads a duration.
 */
const ceil = (x: number) => Math.ceil(x - 1e-9);

/**
 * The bill recomputed from the raw events and the configured prices, with method.md's cost model written out here
 * (so a mistake in billing/prices.ts is not repeated): a VM costs its hourly price / 3600 per billed second, billed
 * seconds = max(min billed, ceil(wall ms / 1000 × timeScale)) from its `vm.launched` to its `vm.terminated` (or
 * `now`); an invocation costs per-request + per-GB-s × memory MB / 1024 × ceil((duration + init) / g) × g / 1000.
 */
function billFromEvents(events: readonly BillingEvent[], config: SerflowConfig, now: number): IndependentBill {
  const bill: IndependentBill = { vmUsd: 0, faasUsd: 0, perVm: new Map(), perStage: new Map() };
  const stage = (k: number) => {
    let s = bill.perStage.get(k);
    if (!s) bill.perStage.set(k, (s = { vmUsd: 0, faasUsd: 0 }));
    return s;
  };
  for (const e of events) {
    if (e.type === 'vm.launched') {
      const end = events.find((x) => x.type === 'vm.terminated' && x.vmId === e.vmId)?.at ?? now;
      const perHour = config.prices.vmPerHourUsd[e.instanceType];
      assert.ok(perHour !== undefined, `a price for ${e.instanceType}`);
      const seconds = Math.max(config.prices.vmMinBilledSeconds, ceil(((end - e.at) / 1000) * e.timeScale));
      const usd = (perHour / 3600) * seconds;
      bill.perVm.set(e.vmId, usd);
      bill.vmUsd += usd;
      stage(e.stage).vmUsd += usd;
    } else if (e.type === 'faas.invoked') {
      const g = config.prices.faasBillingGranularityMs;
      const billedMs = ceil((e.durationMs + e.initMs) / g) * g;
      const usd =
        config.prices.faasPerRequestUsd + config.prices.faasPerGbSecondUsd * (e.memoryMb / 1024) * (billedMs / 1000);
      bill.faasUsd += usd;
      stage(e.stage).faasUsd += usd;
    }
  }
  return bill;
}

describe('cost ledger over a real stack', () => {
  let t: TestStack;
  let results: InferenceResult[];
  let report: CostReport;

  before(async () => {
    // A 10 s stage timeout (the product default) leaves cold starts room on a busy 2-core machine.
    t = await startTestStack({
      timeScale: TIME_SCALE,
      routing: { plan: 'vm-prefix:2' },
      stages: { timeoutMs: 10_000 },
    });
    const split = loadSplit(loadManifest(MODEL), 'test');
    results = await Promise.all(
      sampleIndices(split.images.length, QUERIES, 61).map((i) =>
        t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD }),
      ),
    );
    // One VM with a whole life in the bill: launched by a scale-out, drained by the scale-in back to one.
    await t.stack.scaleStage(MODEL, 3, 2);
    await t.stack.scaleStage(MODEL, 3, 1);
    await waitForBillingEvents(t.nc, 'a drained stage-3 VM terminates', 20_000, (all) =>
      all.some((e) => e.type === 'vm.terminated' && e.stage === 3),
    );
    // The stack has no state file: give `serflow cost` the addresses as TEMPORAL_ADDRESS / NATS_URL would.
    const config: SerflowConfig = {
      ...t.config,
      temporal: { ...t.config.temporal, address: t.stack.info.temporalAddress },
      nats: { ...t.config.nats, url: t.stack.info.natsUrl },
    };
    // Visibility is eventually consistent: wait until every query is listed as finished.
    report = await waitUntil('every query in the bill', 10_000, async () => {
      const r = await collectCost(config);
      return r.queries.total === QUERIES ? r : undefined;
    });
  });

  after(async () => {
    await t?.stop();
  });

  test('the mixed workload ran stages 1-2 on VMs and 3-4 serverless', () => {
    const records = results.flatMap((r) => r.stages);
    assert.ok(records.some((s) => s.backend === 'faas'));
    for (const s of records) assert.equal(s.backend, s.stage <= 2 ? 'vm' : 'faas', `stage ${s.stage}`);
    assert.deepEqual(report.queries, { total: QUERIES, ok: QUERIES, failed: 0, inFlight: 0 });
    assert.deepEqual(report.malformedEvents, []);
    assert.deepEqual(report.anomalies, []);
  });

  test('totals add up: total = VM + serverless + orchestration, per-stage sums = compute totals, all cost something', () => {
    assert.equal(report.totalUsd, report.vmUsd + report.faasUsd + report.orchestrationUsd);
    assert.ok(report.vmUsd > 0, `vm ${report.vmUsd}`);
    assert.ok(report.faasUsd > 0, `faas ${report.faasUsd}`);
    assert.ok(report.orchestrationUsd > 0, `orchestration ${report.orchestrationUsd}`);
    const sum = (f: (s: CostReport['perStage'][number]) => number) => report.perStage.reduce((a, s) => a + f(s), 0);
    // Stages carry VM and serverless cost; orchestration is per query, on top of them.
    near(
      sum((s) => s.totalUsd),
      report.totalUsd - report.orchestrationUsd,
      'sum of stage totals',
    );
    near(
      sum((s) => s.vmUsd),
      report.vmUsd,
      'sum of stage VM costs',
    );
    near(
      sum((s) => s.faasUsd),
      report.faasUsd,
      'sum of stage serverless costs',
    );
    for (const s of report.perStage) {
      assert.equal(s.totalUsd, s.vmUsd + s.faasUsd, `stage ${s.stage}: total = VM + serverless`);
      assert.ok(s.vmUsd > 0, `stage ${s.stage}: its VMs are billed`);
      assert.equal(s.faasUsd > 0, s.stage > 2, `stage ${s.stage}: serverless cost only on stages 3-4`);
    }
    near(report.perBackend.vm.usd, report.vmUsd, 'per-backend VM');
    near(report.perBackend.faas.usd, report.faasUsd, 'per-backend serverless');
    near(
      report.vms.reduce((a, v) => a + v.usd, 0),
      report.vmUsd,
      'sum of per-VM bills',
    );
  });

  test('the bill equals the one recomputed event by event from the prices, by the cost model written out here', async () => {
    const events = await readAllBillingEvents(t.nc);
    const bill = billFromEvents(events, t.config, report.now);
    near(report.vmUsd, bill.vmUsd, 'VM total');
    near(report.faasUsd, bill.faasUsd, 'serverless total');
    near(report.totalUsd, bill.vmUsd + bill.faasUsd + report.orchestrationUsd, 'total');
    assert.deepEqual(
      report.perStage.map((s) => s.stage),
      [1, 2, 3, 4],
    );
    for (const s of report.perStage) {
      const mine = bill.perStage.get(s.stage);
      assert.ok(mine, `stage ${s.stage} has billing events`);
      near(s.vmUsd, mine.vmUsd, `stage ${s.stage} VM`);
      near(s.faasUsd, mine.faasUsd, `stage ${s.stage} serverless`);
    }
    assert.deepEqual(report.vms.map((v) => v.vmId).sort(), [...bill.perVm.keys()].sort());
    for (const v of report.vms) near(v.usd, bill.perVm.get(v.vmId)!, `VM ${v.vmId}`);
    // The drained VM lived a second or two of wall time (tens of cloud seconds): billed the 60 s minimum.
    const drained = report.vms.find((v) => v.stage === 3 && v.state === 'terminated');
    assert.ok(drained, 'the drained stage-3 VM is in the bill');
    // Its life from the raw events, not from the report: cloud seconds = wall ms / 1000 × timeScale.
    const launched = events.find((e) => e.type === 'vm.launched' && e.vmId === drained.vmId);
    const terminated = events.find((e) => e.type === 'vm.terminated' && e.vmId === drained.vmId);
    assert.ok(launched?.type === 'vm.launched' && terminated, 'the drained VM launched and terminated');
    const lifeS = ((terminated.at - launched.at) / 1000) * launched.timeScale;
    assert.ok(Math.abs(drained.lifetimeSeconds - lifeS) < 1e-6, `lifetime ${drained.lifetimeSeconds} vs ${lifeS}`);
    assert.equal(drained.billedSeconds, Math.max(t.config.prices.vmMinBilledSeconds, ceil(lifeS)));
    assert.equal(
      report.vms.filter((v) => v.state !== 'terminated').length,
      STAGES,
      'one running VM per stage, billed up to now',
    );
    // Invocations: the bill counts every faas.invoked. The successful attempt of each serverless execution
    // invoked its function once; an earlier attempt that timed out (a slow cold start on a loaded machine) may
    // have run to the end too, and is billed, as a cloud bills it: at most one invocation per attempt.
    const invoked = events.filter((e) => e.type === 'faas.invoked');
    assert.equal(report.faas.invocations, invoked.length);
    const serverless = results.flatMap((r) => r.stages.map((s) => ({ queryId: r.queryId, ...s })));
    for (const s of serverless.filter((x) => x.backend === 'faas')) {
      const mine = invoked.filter((e) => e.queryId === s.queryId && e.stage === s.stage);
      assert.ok(
        mine.some((e) => e.instanceId === s.instanceId),
        `query ${s.queryId} stage ${s.stage}: the instance that answered billed its invocation`,
      );
      assert.ok(
        mine.length <= s.attempt,
        `query ${s.queryId} stage ${s.stage}: ${mine.length} invocations, attempt ${s.attempt}`,
      );
    }
    assert.equal(
      invoked.filter((e) => !results.some((r) => r.queryId === e.queryId)).length,
      0,
      'every invocation belongs to a query of the workload',
    );
    for (const s of report.perStage) {
      const runs = serverless.filter((x) => x.stage === s.stage);
      const attempts = runs.reduce((n, x) => n + x.attempt, 0);
      const [backend, other] = s.stage <= 2 ? (['vm', 'faas'] as const) : (['faas', 'vm'] as const);
      assert.equal(s.executions[other], 0, `stage ${s.stage}: no execution on ${other}`);
      assert.ok(
        s.executions[backend] >= runs.length && s.executions[backend] <= attempts,
        `stage ${s.stage}: ${s.executions[backend]} executions for ${runs.length} stage runs (${attempts} attempts)`,
      );
    }
  });

  test('orchestration: every query of the workload counted from its history, priced at the configured rate', () => {
    assert.ok(report.orchestration, 'orchestration counted');
    assert.equal(report.orchestration.workflows, QUERIES);
    // The default pricing is Temporal Cloud's: the configured price per million actions.
    assert.equal(t.config.orchestration.pricing, 'temporal-cloud');
    assert.equal(report.orchestration.usdPerAction, t.config.orchestration.usdPerMillionActions / 1e6);
    assert.equal(report.actionCounts.workflowStarted, QUERIES);
    assert.equal(report.actionCounts.searchAttributeUpserts, QUERIES, 'one upsert of the result per query');
    // At least one activity per query; at most one per attempt of each stage the results report.
    const attempts = results.flatMap((r) => r.stages).reduce((n, s) => n + s.attempt, 0);
    assert.ok(
      report.actionCounts.activityAttempts >= QUERIES && report.actionCounts.activityAttempts <= attempts,
      `${report.actionCounts.activityAttempts} activity attempts for ${attempts} stage attempts`,
    );
    assert.equal(report.actionsPerQuery, report.actions / QUERIES);
    near(report.orchestrationUsd, report.actions * report.orchestration.usdPerAction, 'orchestration USD');
  });
});
