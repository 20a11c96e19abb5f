import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { TypedSearchAttributes } from '@temporalio/common';
import {
  collectCost,
  costBar,
  formatCostReport,
  HISTORY_PROGRESS_ABOVE,
  historyProgress,
  mapWithConcurrency,
  orchestrationVisibilityQuery,
  parseSince,
  queryOutcomeOf,
  registerCostCommand,
  visibilityQuery,
  type CostReport,
} from '../../../cli/cost-command';
import { totalActions, type ActionCounts } from '../../../billing/actions';
import { computeLedger } from '../../../billing/ledger';
import { MissingOrchestrationCostError } from '../../../billing/prices';
import { compileConfig } from '../../../common/config';
import { SEARCH_ATTRIBUTES } from '../../../common/naming';
import { NoStackError } from '../../../infra/stack-state';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');

describe('--since', () => {
  const cases = [
    { value: '90s', want: NOW - 90_000 },
    { value: '10m', want: NOW - 600_000 }, // 10 × 60 000 ms
    { value: '1h', want: NOW - 3_600_000 },
    { value: '1.5h', want: NOW - 5_400_000 },
    { value: '2d', want: NOW - 172_800_000 }, // 2 × 86 400 000 ms
    { value: '500ms', want: NOW - 500 },
    { value: '2025-06-01T11:00:00Z', want: NOW - 3_600_000 },
  ];
  for (const c of cases) {
    test(`${c.value} is ${NOW - c.want} ms before now`, () => {
      assert.equal(parseSince(c.value, NOW), c.want);
    });
  }
  for (const bad of ['10', 'yesterday', '10 minutes', '-5m', '']) {
    test(`${JSON.stringify(bad)} is rejected with the accepted forms`, () => {
      assert.throws(() => parseSince(bad, NOW), /expected a duration \(90s, 10m, 1h, 2d\) or an ISO date-time/);
    });
  }
});

describe('visibility query', () => {
  test('selects inference workflows of one model started at/after since', () => {
    assert.equal(
      visibilityQuery('mnist-ee', NOW),
      "WorkflowType = 'inferenceWorkflow' AND SerflowModel = 'mnist-ee' AND StartTime >= '2025-06-01T12:00:00.000Z'",
    );
  });
  test('selects every model and all time by default', () => {
    assert.equal(visibilityQuery(undefined, undefined), "WorkflowType = 'inferenceWorkflow'");
  });
  test('refuses a model name that would break the query', () => {
    assert.throws(() => visibilityQuery("x' OR 'a'='a", undefined), /bad name/);
  });
});

describe('orchestration visibility query', () => {
  test('selects inference workflows of one model closed at/after since', () => {
    assert.equal(
      orchestrationVisibilityQuery('mnist-ee', NOW),
      "WorkflowType = 'inferenceWorkflow' AND SerflowModel = 'mnist-ee' AND CloseTime >= '2025-06-01T12:00:00.000Z'",
    );
  });
  test('selects every closed one of every model by default (a running workflow is counted once it closes)', () => {
    assert.equal(
      orchestrationVisibilityQuery(undefined, undefined),
      "WorkflowType = 'inferenceWorkflow' AND ExecutionStatus != 'Running'",
    );
  });
  test('refuses a model name that would break the query', () => {
    assert.throws(() => orchestrationVisibilityQuery("x' OR 'a'='a", undefined), /bad name/);
  });
});

describe('fetching histories', () => {
  test('at most `limit` calls in flight, results in the order of the items', async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 30 }, (_, i) => i);
    const out = await mapWithConcurrency(items, 8, async (x) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, (x * 7) % 5)); // finish out of order
      inFlight -= 1;
      return x * 2;
    });
    assert.deepEqual(
      out,
      items.map((x) => x * 2),
    );
    assert.equal(most, 8);
  });

  test('no items, no calls', async () => {
    assert.deepEqual(await mapWithConcurrency([], 8, async () => assert.fail('called')), []);
  });

  test('a failing call fails the whole', async () => {
    await assert.rejects(
      mapWithConcurrency([1, 2, 3], 2, async (x) => {
        if (x === 2) throw new Error('history fetch failed');
        return x;
      }),
      /history fetch failed/,
    );
  });
});

describe('progress line', () => {
  const capture = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, stream: { isTTY, write: (chunk: string) => (written.push(chunk), true) } };
  };

  test(`none for up to ${HISTORY_PROGRESS_ABOVE} workflows`, () => {
    assert.equal(historyProgress(HISTORY_PROGRESS_ABOVE, capture(false).stream), undefined);
  });

  test('off a terminal: a line per 5 % and one at the end', () => {
    const { written, stream } = capture(false);
    const progress = historyProgress(1_000, stream);
    assert.ok(progress);
    for (let done = 1; done <= 1_000; done++) progress(done);
    assert.equal(written.length, 20); // every 50 of 1 000
    assert.equal(written[0], 'counting Temporal actions: 50/1000 workflow histories\n');
    assert.equal(written.at(-1), 'counting Temporal actions: 1000/1000 workflow histories\n');
  });

  test('on a terminal: one line rewritten in place, ended at the end', () => {
    const { written, stream } = capture(true);
    const progress = historyProgress(201, stream)!;
    for (let done = 1; done <= 201; done++) progress(done);
    assert.ok(written.every((w) => w.startsWith('\r')));
    assert.equal(written.at(-1), '\rcounting Temporal actions: 201/201 workflow histories\n');
    assert.ok(written.slice(0, -1).every((w) => !w.endsWith('\n')));
  });
});

describe('orchestration pricing', () => {
  test('self-hosted without a CPU cost per action fails naming the setting, before any connection', async () => {
    const config = compileConfig({ orchestration: { pricing: 'self-hosted' } });
    const overheadFile = path.join(os.tmpdir(), `serflow-no-overhead-${process.pid}.json`); // no measurement either
    await assert.rejects(collectCost(config, { overheadFile }), (err: unknown) => {
      assert.ok(err instanceof MissingOrchestrationCostError, `got ${String(err)}`);
      assert.match(err.message, /orchestration\.cpuMsPerAction/);
      assert.match(err.message, /npm run bench:overhead/);
      return true;
    });
  });
});

describe('stack discovery', () => {
  test('no configured address and no recorded stack fails naming how to get one, before any connection', async () => {
    const homeDir = path.join(os.tmpdir(), `serflow-no-stack-${process.pid}`); // no state file there
    const config = compileConfig({ homeDir, orchestration: { pricing: 'self-hosted', cpuMsPerAction: 1 } });
    await assert.rejects(collectCost(config), (err: unknown) => {
      assert.ok(err instanceof NoStackError, `got ${String(err)}`);
      assert.match(err.message, /serflow up --detach/);
      return true;
    });
  });
});

describe('query outcome of a listed workflow', () => {
  const start = new Date(NOW);
  const close = new Date(NOW + 700);
  const info = (name: string, latency?: number) => ({
    workflowId: 'wf',
    status: { code: 0 as never, name: name as never },
    startTime: start,
    closeTime: name === 'RUNNING' ? undefined : close,
    typedSearchAttributes: new TypedSearchAttributes(
      latency === undefined ? [] : [{ key: SEARCH_ATTRIBUTES.latencyMs, value: latency }],
    ),
  });
  test("a completed query is ok with the workflow's own latency", () => {
    assert.deepEqual(queryOutcomeOf(info('COMPLETED', 420)), { queryId: 'wf', latencyMs: 420, ok: true });
  });
  test('a completed query without LatencyMs falls back to close − start (700 ms)', () => {
    assert.deepEqual(queryOutcomeOf(info('COMPLETED')), { queryId: 'wf', latencyMs: 700, ok: true });
  });
  for (const name of ['FAILED', 'TIMED_OUT', 'TERMINATED', 'CANCELLED']) {
    test(`${name} is a violation`, () => {
      assert.deepEqual(queryOutcomeOf(info(name)), { queryId: 'wf', latencyMs: 700, ok: false });
    });
  }
  test('a running query is in flight and a continued-as-new one is not an outcome', () => {
    assert.equal(queryOutcomeOf(info('RUNNING')), 'in-flight');
    assert.equal(queryOutcomeOf(info('CONTINUED_AS_NEW')), 'other');
  });
});

describe('table', () => {
  test('the cost bar shows the share in tenths', () => {
    assert.equal(costBar(0), '..........');
    assert.equal(costBar(0.42), '####......'); // round(4.2) = 4
    assert.equal(costBar(1), '##########');
  });

  test('shows stages, totals, per 1,000 queries, the SLO line and malformed events', () => {
    const prices = { ...compileConfig({}).prices, vmPerHourUsd: { 't.small': 0.36 } };
    const ledger = computeLedger({
      billing: [
        {
          v: 1,
          type: 'vm.launched',
          at: NOW,
          timeScale: 1,
          model: 'm',
          stage: 1,
          vmId: 'a',
          instanceType: 't.small',
          bootDelayMs: 0,
        },
      ],
      stages: [],
      queries: [
        { queryId: 'q1', latencyMs: 100, ok: true },
        { queryId: 'q2', latencyMs: null, ok: false },
      ],
      prices,
      now: NOW + 100_000,
      sloMs: 200,
    });
    const report: CostReport = {
      ...ledger,
      model: 'm',
      queries: { ...ledger.queries, inFlight: 3 },
      malformedEvents: [
        { stream: 'SERFLOW_BILLING', seq: 7, subject: 'serflow.billing.vm.ready', error: 'at: Invalid input' },
      ],
    };
    const text = formatCostReport(report);
    // 100 s × 0.0001 $/s = 0.01 $; 2 queries → 5 $ per 1,000; 1 of 2 within 200 ms → 50 %.
    assert.match(text, /^m +1 +0\.010000 +0\.000000 +0\.010000 +########## 100\.0 %/m);
    assert.match(text, /queries: 2 finished \(1 failed\), 3 in flight; per 1,000 queries: 5\.000000 USD/);
    assert.match(text, /SLO 200 ms: 50\.0 % attained/);
    assert.match(text, /WARNING: 1 malformed event\(s\) not billed:\n {2}SERFLOW_BILLING #7/);
  });
});

describe('flagged VMs', () => {
  test('a VM with no end and stale liveness is listed in the table and flagged in the JSON', () => {
    // vm 'gone': launched at NOW, alive at NOW and NOW + 60 s, nothing after; the bill at NOW + 600 s with the
    // default 180 s staleness: billed to 60 + 60 = 120 s (t.small at 0.36 $/h → 0.012 $), flagged.
    const prices = { ...compileConfig({}).prices, vmPerHourUsd: { 't.small': 0.36 } };
    const fact = { timeScale: 1, model: 'm', stage: 1, vmId: 'gone', instanceType: 't.small' };
    const ledger = computeLedger({
      billing: [
        { v: 2, type: 'vm.launched', at: NOW, ...fact, bootDelayMs: 0 },
        { v: 2, type: 'vm.alive', at: NOW, ...fact, intervalMs: 60_000 },
        { v: 2, type: 'vm.alive', at: NOW + 60_000, ...fact, intervalMs: 60_000 },
      ],
      stages: [],
      queries: [],
      prices,
      now: NOW + 600_000,
      livenessStaleMs: compileConfig({}).vmLiveness.staleMs,
    });
    const report: CostReport = {
      ...ledger,
      model: null,
      queries: { ...ledger.queries, inFlight: 0 },
      malformedEvents: [],
    };
    const text = formatCostReport(report);
    assert.match(text, /^WARNING: 1 VM\(s\) with no end fact and no recent liveness/m);
    assert.match(text, /^ {2}gone \(m stage 1\): last alive 2025-06-01T12:01:00\.000Z, billed 120 s, 0\.012000 USD$/m);
    assert.doesNotMatch(text, /^note: vm gone/m, 'said once, in the warning');
    const json = JSON.parse(JSON.stringify(report)) as {
      unendedVms: string[];
      vms: { unended: boolean; state: string }[];
    };
    assert.deepEqual(json.unendedVms, ['gone']);
    assert.equal(json.vms[0]!.unended, true);
    assert.equal(json.vms[0]!.state, 'unended');
  });
});

describe('table with orchestration', () => {
  // One VM of 't.small' at 0.36 $/h for 100 s → 0.01 $; 2 workflows with 11 + 5 = 16 actions at 25 $ per million
  // (2.5e-5 $) → 4e-4 $; the bill 0.0104 $.
  const ACTIONS: ActionCounts = {
    workflowStarted: 2,
    activityAttempts: 5,
    localActivityTasks: 2,
    heartbeats: 5,
    searchAttributeUpserts: 2,
    timersStarted: 0,
    signals: 0,
  };
  const prices = { ...compileConfig({}).prices, vmPerHourUsd: { 't.small': 0.36 } };
  const ledger = computeLedger({
    billing: [
      {
        v: 1,
        type: 'vm.launched',
        at: NOW,
        timeScale: 1,
        model: 'm',
        stage: 1,
        vmId: 'a',
        instanceType: 't.small',
        bootDelayMs: 0,
      },
    ],
    stages: [],
    queries: [
      { queryId: 'q1', latencyMs: 100, ok: true },
      { queryId: 'q2', latencyMs: 150, ok: true },
    ],
    prices,
    now: NOW + 100_000,
    orchestration: { actionCounts: ACTIONS, workflows: 2, usdPerAction: 25 / 1e6, pricing: 'temporal-cloud' },
  });
  const report: CostReport = {
    ...ledger,
    model: 'm',
    queries: { ...ledger.queries, inFlight: 0 },
    malformedEvents: [],
  };

  test('the totals add up: VM + serverless + orchestration = total, and the JSON carries the actions', () => {
    assert.equal(totalActions(ACTIONS), 16);
    assert.equal(report.actions, 16);
    assert.deepEqual(report.actionCounts, ACTIONS);
    assert.equal(report.actionsPerQuery, 8);
    assert.ok(Math.abs(report.orchestrationUsd - 4e-4) < 1e-15, `${report.orchestrationUsd}`);
    assert.equal(report.totalUsd, report.vmUsd + report.faasUsd + report.orchestrationUsd);
    assert.ok(Math.abs(report.totalUsd - 0.0104) < 1e-12, `${report.totalUsd}`);
    // per 1,000 queries includes orchestration: 0.0104 / 2 × 1 000 = 5.2
    assert.ok(Math.abs(report.perThousandQueriesUsd! - 5.2) < 1e-9);
    const json = JSON.parse(JSON.stringify(report)) as Record<string, unknown>;
    for (const key of ['orchestrationUsd', 'actions', 'actionCounts', 'actionsPerQuery', 'vmUsd', 'faasUsd'])
      assert.ok(key in json, `--json has ${key}`);
    assert.deepEqual(json['orchestration'], { workflows: 2, usdPerAction: 2.5e-5, pricing: 'temporal-cloud' });
  });

  test('shows the orchestration row and column, the orchestration table and the actions by kind', () => {
    const text = formatCostReport(report);
    // the stage's share is now of the whole bill: 0.01 / 0.0104 = 96.2 %
    assert.match(text, /^m +1 +0\.010000 +0\.000000 +0\.010000 +########## 96\.2 %/m);
    // orchestration: 4e-4 of 0.0104 = 3.8 %
    assert.match(text, /^orchestration +0\.000400 +0\.000400 +\.{10} 3\.8 %/m);
    assert.match(text, /^total +0\.010000 +0\.000000 +0\.000400 +0\.010400 /m);
    assert.match(text, /^orchestration +workflows +actions +actions\/query +USD\/action +USD$/m);
    assert.match(text, /^temporal-cloud +2 +16 +8\.00 +0\.0000250 +0\.000400$/m);
    assert.match(
      text,
      /^actions by kind: 2 workflows started, 5 activity attempts, 2 local-activity tasks, 5 heartbeats, 2 search-attribute upserts, 0 timers, 0 signals$/m,
    );
    assert.match(text, /per 1,000 queries: 5\.200000 USD/);
  });

  test('a bill without orchestration says it was not counted and adds no orchestration row', () => {
    const bare = computeLedger({ billing: [], stages: [], queries: [], prices, now: NOW });
    assert.equal(bare.orchestrationUsd, 0);
    assert.equal(bare.actions, 0);
    assert.equal(bare.actionsPerQuery, null);
    const text = formatCostReport({
      ...bare,
      model: null,
      queries: { ...bare.queries, inFlight: 0 },
      malformedEvents: [],
    });
    assert.match(text, /^orchestration: not counted$/m);
    assert.doesNotMatch(text, /^orchestration +0/m);
  });
});

describe('registration', () => {
  test('adds `cost` with --since, --json, --slo and --model', () => {
    const program = new Command('serflow');
    registerCostCommand(program, () => compileConfig({}));
    const cost = program.commands.find((c) => c.name() === 'cost');
    assert.ok(cost);
    assert.deepEqual(
      cost.options.map((o) => o.long),
      ['--since', '--json', '--slo', '--model'],
    );
  });
});
