/**
 * The pure pieces of `serflow bench` (bench/live/series.ts, figures.ts, agreement.ts) on hand-made inputs: the
 * time axis, arrival rates, the peak fleet from billing events, and the exit shares a live run implies.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BillingEvent } from '../../../common/billing-events';
import { observedExitShares } from '../../../bench/live/agreement';
import { peakVms } from '../../../bench/live/figures';
import { arrivalRateSeries, sampleTimesS } from '../../../bench/live/series';
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
