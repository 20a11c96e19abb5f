/**
 * The pure pieces of `serflow bench` (bench/live/series.ts, figures.ts, agreement.ts) on hand-made inputs: the
 * time axis, arrival rates, the peak fleet from billing events, and the exit shares a live run implies.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ACTIVITY_WORKFLOW_SHAPE, NO_ACTIONS, totalActions } from '../../../billing/actions';
import { computeLedger } from '../../../billing/ledger';
import { loadConfig } from '../../../common/config';
import type { BillingEvent } from '../../../common/billing-events';
import { observedExitShares } from '../../../bench/live/agreement';
import { benchFigures, peakVms } from '../../../bench/live/figures';
import { liveActions, observedActivities } from '../../../bench/live/orchestration';
import type { ReplayQuery, ReplayResult } from '../../../bench/live/replay';
import { arrivalRateSeries, benchSeries, sampleTimesS } from '../../../bench/live/series';
import { seriesStepS } from '../../../eval/report/figures';
import type { PolicyFigures } from '../../../eval/report/types';

describe('bench time axis', () => {
  test('about 600 samples, whole seconds: 300 s → 1 s steps, 3,600 s → 6 s, 45,000 s → 75 s', () => {
    assert.deepEqual([300, 3600, 45_000].map(seriesStepS), [1, 6, 75]);
  });

  test('sample times end each step and cover the window', () => {
    assert.deepEqual(sampleTimesS(10, 3), [3, 6, 9, 12]);
  });

  test('arrival rate per step: counts over the step length, the tail folded into the last step', () => {
    const arrivals = Float64Array.from([0, 500, 1500, 2500, 2900, 5999, 7000]);
    // steps of 2 s ending at 2, 4, 6: [0, 2) has 3, [2, 4) has 2, [4, 6] has 1 + the 7 s arrival folded in
    assert.deepEqual(arrivalRateSeries(arrivals, [2, 4, 6], 2), [1.5, 1, 1]);
  });
});

describe('peak fleet from billing events', () => {
  const vm = (type: 'vm.launched' | 'vm.draining' | 'vm.terminated', at: number, vmId: string): BillingEvent => {
    const base = { v: 1 as const, at, timeScale: 1, model: 'm', stage: 1, vmId, instanceType: 'c6i.large' };
    if (type === 'vm.launched') return { ...base, type, bootDelayMs: 0 };
    if (type === 'vm.terminated') return { ...base, type, reason: 'scale-in' };
    return { ...base, type };
  };

  test('draining VMs leave the fleet; the order of the events in the array does not matter', () => {
    const events = [
      vm('vm.launched', 0, 'a'),
      vm('vm.launched', 10, 'b'),
      vm('vm.draining', 20, 'a'),
      vm('vm.launched', 30, 'c'),
      vm('vm.launched', 40, 'd'),
      vm('vm.terminated', 50, 'a'),
    ];
    assert.equal(peakVms(events), 3);
    assert.equal(peakVms([...events].reverse()), 3);
  });
});

describe('exit shares a live run implies', () => {
  const figures = (runs: number[]) =>
    ({
      stageExecutions: runs.map((n, k) => ({
        stage: k + 1,
        vm: n - Math.floor(n / 2),
        serverless: Math.floor(n / 2),
        cold: 0,
      })),
    }) as unknown as PolicyFigures;

  test('100 / 60 / 20 / 5 executions → exits 0.4 / 0.4 / 0.15 / 0.05', () => {
    assert.deepEqual(observedExitShares(figures([100, 60, 20, 5])), [0.4, 0.4, 0.15, 0.05]);
  });

  test('no query ran: no shares', () => {
    assert.equal(observedExitShares(figures([0, 0])), undefined);
  });
});

describe('orchestration of a live run', () => {
  const query = (n: number, stages?: number): ReplayQuery => ({
    n,
    arrivalMs: n * 1000,
    mix: 'all',
    index: n,
    expected: 0,
    sentAt: 1_000_000 + n * 1000,
    lagMs: 0,
    latencyMs: 50,
    ...(stages !== undefined ? { result: { stages: new Array(stages).fill({}) } as never } : {}),
  });
  const replay: ReplayResult = {
    queries: [query(0, 1), query(1, 2), query(2, 3), query(3)],
    startedAt: 1_000_000,
    endedAt: 1_005_000,
    unfinished: 0,
    maxLagMs: 0,
  };
  const id = (n: number) => `bench-serflow-${n}`;
  const event = (n: number, stage: number, attempt = 1) => ({ queryId: id(n), stage, attempt });

  test('stage attempts per query from the stage events: a retry counts again, a duplicate event does not', () => {
    const events = [event(0, 1), event(0, 1), event(1, 1), event(1, 2), event(1, 2, 2), event(9, 1)];
    // query 2 published no event: its result's 3 stages; query 3 neither: 0
    assert.deepEqual(observedActivities(replay, events, id), [1, 3, 3, 0]);
  });

  test('histories where read, the model elsewhere (3 + 2 per attempt with a heartbeat per attempt)', () => {
    const fromHistory = { ...NO_ACTIONS, workflowStarted: 1, activityAttempts: 1, searchAttributeUpserts: 1 };
    const live = liveActions(
      [fromHistory, undefined, undefined, undefined],
      [1, 3, 3, 0],
      LOCAL_ACTIVITY_WORKFLOW_SHAPE,
    );
    assert.deepEqual(live.perQuery, [3, 9, 9, 3]);
    assert.equal(totalActions(live.actions), 24);
    assert.equal(live.actions.workflowStarted, 4);
    assert.equal(live.counted, 1);
    assert.equal(live.modelled, 3);
  });

  test('the figures and the cost series carry orchestration in the total', () => {
    const config = loadConfig({}, {});
    const actionCounts = {
      ...NO_ACTIONS,
      workflowStarted: 4,
      activityAttempts: 6,
      heartbeats: 6,
      searchAttributeUpserts: 4,
    };
    // as billRun hands the replay's actions to the ledger
    const ledger = computeLedger({
      billing: [],
      stages: [],
      queries: [],
      prices: config.prices,
      now: replay.endedAt,
      orchestration: { actionCounts, workflows: 4, usdPerAction: 0.5, pricing: 'temporal-cloud' },
    });
    const f = benchFigures({ policy: 'serflow', replay, ledger, billing: [], stages: 3, sloMs: 1000 });
    assert.equal(f.actions, 20);
    assert.deepEqual(f.actionCounts, actionCounts);
    assert.equal(f.actionsPerQuery, 5);
    assert.equal(f.orchestrationUsd, 10);
    assert.equal(f.totalUsd, f.vmUsd + f.serverlessUsd + 10);
    assert.equal(f.usdPer1kQueries, (f.totalUsd / 4) * 1000);
    const series = benchSeries({
      policy: 'serflow',
      replay,
      billing: [],
      decisions: [],
      prices: config.prices,
      timeScale: 1,
      timesS: [1, 2, 5],
      totalUsd: f.totalUsd,
      // each query's orchestration at its send: 1,000,000 + n × 1000 wall ms
      orchestration: replay.queries.map((q) => ({ at: q.sentAt, usd: 2 + q.n })),
      ewma: { alpha: 0.5, beta: 0.5, z: 0 } as never,
    });
    // by 1 s: queries 0 and 1 (2 + 3); by 2 s: + query 2 (4); the last point is the total
    assert.deepEqual(series.cumulativeUsd, [5, 9, f.totalUsd]);
  });
});
