import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { TypedSearchAttributes } from '@temporalio/common';
import {
  costBar,
  formatCostReport,
  parseSince,
  queryOutcomeOf,
  registerCostCommand,
  visibilityQuery,
  type CostReport,
} from '../../../cli/cost-command';
import { computeLedger } from '../../../billing/ledger';
import { compileConfig } from '../../../common/config';
import { SEARCH_ATTRIBUTES } from '../../../common/naming';

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
