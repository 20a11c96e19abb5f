/**
 * Report figures from a simulation run (engine.ts): the per-policy row of `report.json` and its time series.
 * Percentiles of latency by linear interpolation (as elsewhere in the project); queue-delay percentiles
 * nearest-rank, as LIBRA's simulator states them.
 */
import { totalActions } from '../billing/actions';
import { summarizeLatency } from '../common/stats';
import type { DelayFigures, PolicyFigures, PolicySeries } from '../eval/report/types';
import type { SimRunResult } from './engine';

/** At most this many points on a latency CDF line. */
export const CDF_POINTS = 500;

function sortedFinite(values: Float32Array): Float32Array {
  let n = 0;
  for (const v of values) if (Number.isFinite(v)) n++;
  const out = new Float32Array(n);
  let i = 0;
  for (const v of values) if (Number.isFinite(v)) out[i++] = v;
  return out.sort();
}

/**
 * Queue-wait figures over all queries (a query that never waited counts 0 s); "delayed" = waited more than
 * `delayedAfterMs` (0 in the simulator, as LIBRA counts; a live run sets a dispatch allowance).
 */
export function delayFigures(waitMs: ArrayLike<number>, delayedAfterMs = 0): DelayFigures {
  const sorted = Float64Array.from(waitMs).sort();
  const n = sorted.length;
  let delayed = 0;
  let sum = 0;
  for (const v of sorted) {
    if (v > delayedAfterMs) delayed++;
    sum += v;
  }
  const nearestRank = (q: number) => (n ? (sorted[Math.max(0, Math.ceil(q * n) - 1)] as number) : 0);
  return {
    delayed,
    delayedShare: n ? delayed / n : 0,
    meanS: n ? sum / n / 1000 : 0,
    p99S: nearestRank(0.99) / 1000,
    maxS: n ? (sorted[n - 1] as number) / 1000 : 0,
  };
}

/** CDF points `[latencyMs, share of ALL queries at or below]` (failed queries never reach 1). */
export function latencyCdf(sorted: Float32Array, total: number, points = CDF_POINTS): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (sorted.length === 0 || total === 0) return out;
  const step = Math.max(1, Math.floor(sorted.length / points));
  for (let i = step - 1; i < sorted.length; i += step) out.push([sorted[i] as number, (i + 1) / total]);
  const last = sorted.length - 1;
  if (out.length === 0 || (out[out.length - 1] as [number, number])[1] !== (last + 1) / total) {
    out.push([sorted[last] as number, (last + 1) / total]);
  }
  return out;
}

/** The policy's row of the report, without the ratios (set once every policy has run). */
export function figuresOf(r: SimRunResult, sloMs: number): PolicyFigures {
  const sorted = sortedFinite(r.latencyMs);
  let withinSlo = 0;
  for (const v of sorted) if (v <= sloMs) withinSlo++;
  let byVm = 0;
  let byFaas = 0;
  for (const b of r.firstBackend) {
    if (b === 1) byVm++;
    else if (b === 2) byFaas++;
  }
  const vmExec = r.vmExecutions.reduce((s, x) => s + x, 0);
  const faasExec = r.faasExecutions.reduce((s, x) => s + x, 0);
  const totalUsd = r.vmUsd + r.serverlessUsd + r.orchestrationUsd;
  const actions = totalActions(r.actions);
  const notes: string[] = [];
  if (r.failed > 0) notes.push(`${r.failed} queries unfinished at the drain limit: counted as failed (SLO violations)`);
  return {
    policy: r.policy,
    queries: r.queries,
    completed: r.completed,
    failed: r.failed,
    totalUsd,
    vmUsd: r.vmUsd,
    serverlessUsd: r.serverlessUsd,
    orchestrationUsd: r.orchestrationUsd,
    actions,
    actionsPerQuery: r.queries ? actions / r.queries : 0,
    actionCounts: r.actions,
    usdPer1kQueries: r.queries ? (totalUsd / r.queries) * 1000 : 0,
    sloAttainment: r.queries ? withinSlo / r.queries : 1,
    latencyMs: summarizeLatency(sorted),
    vmHours: r.vmSeconds / 3600,
    vmSeconds: r.vmSeconds,
    peakVms: r.peakVms,
    vmIdleShare: r.vmSlotMs > 0 ? Math.max(0, 1 - r.vmBusySlotMs / r.vmSlotMs) : 0,
    serverlessExecutionShare: vmExec + faasExec ? faasExec / (vmExec + faasExec) : 0,
    queriesByVm: byVm,
    queriesByServerless: byFaas,
    stageExecutions: r.vmExecutions.map((vm, k) => ({
      stage: k + 1,
      vm,
      serverless: r.faasExecutions[k] ?? 0,
      cold: r.coldStarts[k] ?? 0,
    })),
    delay: delayFigures(r.waitMs),
    costRatioToSerflow: null,
    costRatioToBound: null,
    notes,
  };
}

/** The policy's time series for series.json (pools with no VM ever are left out). */
/** `timeScale`: rates were estimated per simulated second; the series states them per trace second. */
export function seriesOf(r: SimRunResult, timeScale = 1): PolicySeries {
  const vmsByPool: Record<string, number[]> = {};
  r.series.vmsByPool.forEach((values, p) => {
    if (values.some((v) => v > 0)) vmsByPool[String(p)] = values;
  });
  return {
    policy: r.policy,
    cumulativeUsd: r.series.cumulativeUsd,
    vmsByPool,
    latencyCdf: latencyCdf(sortedFinite(r.latencyMs), r.queries),
    estimatedRate: {
      mean: r.series.estimatedMean.map((x) => x / timeScale),
      upper: r.series.estimatedUpper.map((x) => x / timeScale),
    },
  };
}
