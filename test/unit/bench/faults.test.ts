/**
 * The fault suite's accounting (bench/faults): the client log, the per-scenario tally and the ledger check, on
 * hand-made records whose right answers are counted by hand.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoadLog, type LoadLogLine } from '../../../bench/faults/load-log';
import { tallyScenario, type TallyInput, type WorkflowSeen } from '../../../bench/faults/tally';
import { checkLedger, invocationsInLog } from '../../../bench/faults/truth';
import { INVOCATION_LOG_PREFIX } from '../../../workers/function-instance';
import { compileConfig } from '../../../common/config';
import type { BillingEvent } from '../../../common/billing-events';

const lines = (xs: LoadLogLine[]) => xs.map((x) => JSON.stringify(x)).join('\n');
const intent = (n: number, dueAt: number): LoadLogLine => ({ kind: 'intent', id: `q-${n}`, n, dueAt });
const ok = (n: number, at: number, label = 1, exitStage = 2): LoadLogLine => ({
  kind: 'ended',
  id: `q-${n}`,
  at,
  ok: true,
  label,
  exitStage,
});

describe('client log', () => {
  test('keeps the first intent, start and end of each id, skips a torn line, lists what is open', () => {
    const text =
      lines([
        intent(0, 1000),
        { kind: 'started', id: 'q-0', at: 1010 },
        ok(0, 1100),
        intent(1, 2000),
        { kind: 'started', id: 'q-1', at: 2010 },
        intent(1, 2000), // a resumed client writes its intent again
      ]) + '\n{"kind":"ended","id":"q-1","at":30'; // torn by a kill -9
    const log = parseLoadLog(text);
    assert.equal(log.queries.length, 2);
    assert.equal(log.skipped, 1);
    assert.deepEqual(
      log.open.map((q) => q.id),
      ['q-1'],
    );
    assert.equal(log.queries[0]!.startedAt, 1010);
    assert.equal(log.queries[0]!.end?.at, 1100);
  });

  test('counts every end of an id, so an id told two outcomes shows', () => {
    const log = parseLoadLog(lines([intent(0, 0), ok(0, 10), ok(0, 20)]));
    assert.equal(log.queries[0]!.ends, 2);
  });
});

describe('scenario tally', () => {
  const wf = (id: string, status = 'COMPLETED', runs = 1): [string, WorkflowSeen] => [
    `wf-${id}`,
    { workflowId: `wf-${id}`, runs, status },
  ];
  const base = (over: Partial<TallyInput>): TallyInput => ({
    queries: [],
    workflowIdOf: (id) => `wf-${id}`,
    workflows: new Map(),
    events: [],
    direct: new Map(),
    faultAt: 10_000,
    ...over,
  });

  test('sorts queries into completed, named failures, lost, hung, never started and twice', () => {
    const { queries } = parseLoadLog(
      lines([
        intent(0, 0),
        { kind: 'started', id: 'q-0', at: 1 },
        ok(0, 100),
        intent(1, 0),
        { kind: 'started', id: 'q-1', at: 1 },
        { kind: 'ended', id: 'q-1', at: 200, ok: false, errorType: 'StageUnavailableError', error: 'x' },
        intent(2, 0),
        { kind: 'started', id: 'q-2', at: 1 }, // started, but Temporal has no such workflow: lost
        intent(3, 0), // never started, and Temporal has none: not lost
        intent(4, 0),
        { kind: 'started', id: 'q-4', at: 1 }, // still running
        intent(5, 0),
        { kind: 'started', id: 'q-5', at: 1 }, // ended in Temporal, the client never heard: lost
        intent(6, 0),
        { kind: 'started', id: 'q-6', at: 1 },
        ok(6, 300), // two runs under one id
        intent(7, 0),
        { kind: 'started', id: 'q-7', at: 1 },
        { kind: 'ended', id: 'q-7', at: 50, ok: false, errorType: 'Error', error: 'socket hang up' },
      ]),
    );
    const t = tallyScenario(
      base({
        queries,
        workflows: new Map([
          wf('q-0'),
          wf('q-1', 'FAILED'),
          wf('q-4', 'RUNNING'),
          wf('q-5'),
          wf('q-6', 'COMPLETED', 2),
          wf('q-7', 'FAILED'),
        ]),
        events: [
          { workflowId: 'wf-q-0', runId: 'r', stage: 1 },
          { workflowId: 'wf-q-0', runId: 'r', stage: 2 },
          { workflowId: 'wf-q-6', runId: 'r', stage: 1 },
          { workflowId: 'wf-q-6', runId: 'r', stage: 2 },
        ],
      }),
    );
    assert.equal(t.intended, 8);
    assert.equal(t.started, 6);
    assert.equal(t.neverStarted, 1);
    assert.equal(t.completed, 2);
    assert.deepEqual(t.failedNamed, { StageUnavailableError: 1 });
    assert.equal(t.failedUnnamed, 1);
    assert.equal(t.lost, 2);
    assert.equal(t.hung, 1);
    assert.equal(t.answeredTwice, 1);
    assert.equal(t.duplicateEvents, 0);
    assert.equal(t.missingEvents, 0);
  });

  test('counts duplicate and missing stage events and wrong answers', () => {
    const { queries } = parseLoadLog(lines([intent(0, 0), ok(0, 100, 3, 3), intent(1, 0), ok(1, 100, 5, 1)]));
    const t = tallyScenario(
      base({
        queries,
        workflows: new Map([wf('q-0'), wf('q-1')]),
        events: [
          { workflowId: 'wf-q-0', runId: 'r', stage: 1 },
          { workflowId: 'wf-q-0', runId: 'r', stage: 1 }, // a second event for one stage
          { workflowId: 'wf-q-0', runId: 'r', stage: 3 }, // stage 2 has none
          { workflowId: 'wf-q-1', runId: 'r', stage: 1 },
        ],
        direct: new Map([
          ['q-0', { label: 3, exitStage: 3 }],
          ['q-1', { label: 6, exitStage: 1 }], // the model says 6: the system answered 5
        ]),
      }),
    );
    assert.equal(t.duplicateEvents, 1);
    assert.equal(t.missingEvents, 1);
    assert.equal(t.wrongAnswers, 1);
  });

  test('recovery: from the fault to the first query after which every one ended within the bound', () => {
    // The 5 s before the fault (due 5 000..9 000): latencies 150..190 ms, p99 189.6 → 190 → bound max(380, 440) = 440 ms.
    // The cold start (due 0..4 000, 3 s each) is not the baseline, though its queries count as hit.
    const xs: LoadLogLine[] = [];
    for (let n = 0; n < 10; n++) xs.push(intent(n, n * 1000), ok(n, n * 1000 + (n < 5 ? 3_000 : 100 + n * 10)));
    // After the fault at 10 000: two slow (2 s), one failed, then fine from the query due at 14 000.
    xs.push(intent(10, 10_000), ok(10, 12_000), intent(11, 11_000), ok(11, 13_000));
    xs.push(intent(12, 12_000), { kind: 'ended', id: 'q-12', at: 12_500, ok: false, errorType: 'X' });
    xs.push(intent(13, 13_000), ok(13, 13_600)); // 600 ms: over the bound
    xs.push(intent(14, 14_000), ok(14, 14_100), intent(15, 15_000), ok(15, 15_120));
    const { queries } = parseLoadLog(lines(xs));
    const t = tallyScenario(base({ queries }));
    assert.equal(t.before.p50, 170);
    assert.equal(t.before.p99, 190);
    assert.equal(t.hitBoundMs, 440);
    assert.equal(t.hit, 9);
    assert.equal(t.recoveryMs, 4_000);
  });

  test('a fault nothing notices recovers at once; one that never clears has no recovery', () => {
    const fine = parseLoadLog(lines([intent(0, 9_000), ok(0, 9_100), intent(1, 10_500), ok(1, 10_600)])).queries;
    assert.equal(tallyScenario(base({ queries: fine })).recoveryMs, 500);
    const stuck = parseLoadLog(lines([intent(0, 9_000), ok(0, 9_100), intent(1, 10_500), ok(1, 19_000)])).queries;
    assert.equal(tallyScenario(base({ queries: stuck })).recoveryMs, null);
  });
});

describe('ledger against ground truth', () => {
  const config = compileConfig({});
  const vm = (type: 'vm.launched' | 'vm.terminated', at: number, vmId: string): BillingEvent =>
    ({
      v: 1,
      type,
      at,
      timeScale: 1,
      model: 'm',
      stage: 1,
      vmId,
      instanceType: config.vm.instanceType,
      ...(type === 'vm.launched' ? { bootDelayMs: 0 } : { reason: 'drained' }),
    }) as BillingEvent;

  test('VM seconds billed against VM seconds lived, a VM still running counted to the moment of the check', () => {
    const check = checkLedger({
      config,
      billing: [vm('vm.launched', 1_000, 'a'), vm('vm.terminated', 61_000, 'a'), vm('vm.launched', 2_000, 'b')],
      stages: [],
      lives: [
        { key: 'a', pid: 1, startedAt: 1_010, endedAt: 61_050 }, // 60.04 s
        { key: 'b', pid: 2, startedAt: 2_000, endedAt: null }, // 100 s to now
      ],
      faasInvocations: 0,
      now: 102_000,
    });
    assert.equal(check.vm.ledgerSeconds, 160);
    assert.ok(Math.abs(check.vm.truthSeconds - 160.04) < 1e-9);
    assert.ok(Math.abs(check.vm.diffShare - (160 - 160.04) / 160.04) < 1e-12);
    assert.equal(check.within, true); // 0.025 % off
  });

  test('a VM that ran without a bill, or a bill without a VM, fails the check', () => {
    const check = checkLedger({
      config,
      billing: [vm('vm.launched', 0, 'a'), vm('vm.terminated', 60_000, 'a')],
      stages: [],
      lives: [
        { key: 'a', pid: 1, startedAt: 0, endedAt: 60_000 },
        { key: 'ghost', pid: 2, startedAt: 0, endedAt: 1 },
      ],
      faasInvocations: 0,
      now: 70_000,
    });
    assert.deepEqual(check.vm.unmatched, ['ghost: ran, not billed']);
    assert.equal(check.within, false);
  });

  test('invocations counted from an instance log: only the lines the instance writes per invocation', () => {
    const log = [
      'function instance fn-1: mnist-ee stage 3 ready in 812 ms',
      `${INVOCATION_LOG_PREFIX} fn-1`,
      `${INVOCATION_LOG_PREFIX} fn-1`,
      'something else',
    ].join('\n');
    assert.equal(invocationsInLog(log), 2);
  });
});
