/**
 * The time series of a bench run (series.json and the plots), rebuilt after the run from the timestamps of the
 * billing events and the decision records, on the simulator's time axis: samples every `stepS` trace seconds
 * from the replay start, sample i at the end of step i. Wall times map to trace time as
 * (wall − replay start) × timeScale (the replay compresses the trace by timeScale, bench/live/replay.ts). Pure.
 */
import { emptyEwma, ewmaRecord, ewmaUpper, type EwmaParams, type EwmaState } from '../../autoscaler/stats';
import { faasInvocationCostUsd, vmPricePerHourUsd, type Prices } from '../../billing/prices';
import type { BillingEvent } from '../../common/billing-events';
import type { DecisionRecord } from '../../common/control-events';
import { latencyCdf } from '../../sim/figures';
import type { PolicySeries } from '../../eval/report/types';
import { completedLatencies } from './figures';
import type { ReplayResult } from './replay';

/** Sample times, trace seconds: stepS, 2·stepS, ... up to the first one at or after the window end. */
export function sampleTimesS(durationS: number, stepS: number): number[] {
  return Array.from({ length: Math.ceil(durationS / stepS) }, (_, i) => (i + 1) * stepS);
}

/** Arrivals per second in each step ending at the sample times. */
export function arrivalRateSeries(arrivalsMs: Float64Array, timesS: readonly number[], stepS: number): number[] {
  const counts = new Array<number>(timesS.length).fill(0);
  for (const t of arrivalsMs) {
    const i = Math.min(timesS.length - 1, Math.floor(t / 1000 / stepS));
    counts[i] = (counts[i] as number) + 1;
  }
  return counts.map((n) => n / stepS);
}

interface VmLife {
  pool: number;
  launchedAt: number;
  /** Wall epoch ms; the replay end for a VM still alive then. */
  endAt: number;
  usdPerCloudSecond: number;
  timeScale: number;
}

function vmLives(billing: readonly BillingEvent[], endedAt: number, prices: Prices): VmLife[] {
  const lives = new Map<string, VmLife>();
  for (const e of [...billing].sort((a, b) => a.at - b.at)) {
    if (e.type === 'vm.launched') {
      lives.set(e.vmId, {
        pool: e.stage,
        launchedAt: e.at,
        endAt: endedAt,
        usdPerCloudSecond: vmPricePerHourUsd(e.instanceType, prices) / 3600,
        timeScale: e.timeScale,
      });
    } else if (e.type === 'vm.terminated') {
      const life = lives.get(e.vmId);
      if (life) life.endAt = Math.min(e.at, endedAt);
    }
  }
  return [...lives.values()];
}

/** Wall epoch ms of trace time tS (seconds from the replay start). */
function wallAt(i: Pick<SeriesInput, 'replay' | 'timeScale'>, tS: number): number {
  return i.replay.startedAt + (tS * 1000) / i.timeScale;
}

export interface SeriesInput {
  policy: string;
  replay: ReplayResult;
  billing: readonly BillingEvent[];
  decisions: readonly DecisionRecord[];
  prices: Prices;
  timeScale: number;
  timesS: readonly number[];
  /** The run's total bill: the last cumulative point is set to it (VM minimum billing included, as in the sim). */
  totalUsd: number;
  /** Orchestration cost of each query, charged at its send (wall epoch ms), as the simulator charges at arrival. */
  orchestration?: ReadonlyArray<{ at: number; usd: number }>;
  /** The policy's estimator settings, to rebuild SERFLOW's stage-1 rate estimate from the decision records. */
  ewma: EwmaParams & { z: number };
}

export function benchSeries(i: SeriesInput): PolicySeries {
  const lives = vmLives(i.billing, i.replay.endedAt, i.prices);
  const invocations = i.billing
    .filter((e) => e.type === 'faas.invoked')
    .map((e) => ({ at: e.at, usd: faasInvocationCostUsd(e, i.prices) }))
    .sort((a, b) => a.at - b.at);

  const orchestration = [...(i.orchestration ?? [])].sort((a, b) => a.at - b.at);

  // Cumulative cost: VM time accrued per cloud second (no minimum) plus every invocation and query so far.
  let next = 0;
  let faasUsd = 0;
  let nextQuery = 0;
  let orchestrationUsd = 0;
  const cumulativeUsd = i.timesS.map((tS) => {
    const w = wallAt(i, tS);
    while (next < invocations.length && (invocations[next] as { at: number }).at <= w) {
      faasUsd += (invocations[next++] as { usd: number }).usd;
    }
    while (nextQuery < orchestration.length && (orchestration[nextQuery] as { at: number }).at <= w) {
      orchestrationUsd += (orchestration[nextQuery++] as { usd: number }).usd;
    }
    const vmUsd = lives.reduce(
      (s, l) => s + (Math.max(0, Math.min(w, l.endAt) - l.launchedAt) / 1000) * l.timeScale * l.usdPerCloudSecond,
      0,
    );
    return vmUsd + faasUsd + orchestrationUsd;
  });
  if (cumulativeUsd.length > 0) cumulativeUsd[cumulativeUsd.length - 1] = i.totalUsd;

  // VMs alive (booting, serving or draining) per pool; pools that never had a VM are left out, as in the sim.
  const vmsByPool: Record<string, number[]> = {};
  for (const pool of [...new Set(lives.map((l) => l.pool))].sort((a, b) => a - b)) {
    const mine = lives.filter((l) => l.pool === pool);
    vmsByPool[String(pool)] = i.timesS.map((tS) => {
      const w = wallAt(i, tS);
      return mine.filter((l) => l.launchedAt <= w && w < l.endAt).length;
    });
  }

  const out: PolicySeries = {
    policy: i.policy,
    cumulativeUsd,
    vmsByPool,
    latencyCdf: latencyCdf(completedLatencies(i.replay), i.replay.queries.length),
  };
  const rate = estimatedRate(i);
  if (rate) out.estimatedRate = rate;
  return out;
}

/**
 * SERFLOW's estimate of the stage-1 arrival rate, per trace second, folded from what the live autoscaler observed
 * each tick (stage-1 arrivals over its wall window, ÷ timeScale to state it per trace second like the arrival
 * series). Undefined without decision records (no autoscaler ran, or none recorded).
 */
function estimatedRate(i: SeriesInput): { mean: number[]; upper: number[] } | undefined {
  const ticks = i.decisions
    .map((d) => ({ at: d.wallAt, obs: d.observation }))
    .filter((d) => d.obs.windowMs > 0)
    .sort((a, b) => a.at - b.at);
  if (ticks.length === 0) return undefined;
  let est: EwmaState = emptyEwma();
  let next = 0;
  const mean: number[] = [];
  const upper: number[] = [];
  for (const tS of i.timesS) {
    const w = wallAt(i, tS);
    while (next < ticks.length && (ticks[next] as { at: number }).at <= w) {
      const { at, obs } = ticks[next++] as (typeof ticks)[number];
      const arrivals = obs.stages.find((s) => s.stage === 1)?.arrivals ?? 0;
      est = ewmaRecord(est, at, (arrivals * 1000) / obs.windowMs / i.timeScale, i.ewma);
    }
    mean.push(est.n > 0 ? est.mean : 0);
    upper.push(est.n > 0 ? ewmaUpper(est, i.ewma.z) : 0);
  }
  return { mean, upper };
}
