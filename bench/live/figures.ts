/**
 * One policy's row of a bench report (`PolicyFigures`), from what the client saw (latencies, failures, the
 * backend of each stage) and what the ledger billed (VMs, functions and the queries' Temporal actions). The latency statistics are the simulator's own functions
 * (common/stats.ts, sim/figures.ts), so a `sim` and a `bench` report of the same trace compare like with like. Pure.
 */
import type { Ledger } from '../../billing/ledger';
import type { BillingEvent } from '../../common/billing-events';
import type { PolicyFigures } from '../../eval/report/types';
import { summarizeLatency } from '../../common/stats';
import { delayFigures } from '../../sim/figures';
import { delayedAfterMs } from '../../sim/measured-handoff';
import type { ReplayResult } from './replay';

/** Send lag above which the report says the client could not keep the schedule, wall ms. */
export const LAG_NOTE_MS = 100;

/** Queue waits of every query: the sum of its VM executions' `queueMs` (serverless executions count 0). */
function queueWaitsMs(replay: ReplayResult): number[] {
  return replay.queries.map((q) =>
    (q.result?.stages ?? []).reduce((s, st) => s + (st.backend === 'vm' ? st.queueMs : 0), 0),
  );
}

/** Largest number of VMs booting or serving at once over all pools (draining and terminated ones excluded). */
export function peakVms(billing: readonly BillingEvent[]): number {
  const gone = new Set<string>();
  const alive = new Set<string>();
  let peak = 0;
  for (const e of [...billing].sort((a, b) => a.at - b.at)) {
    if (!('vmId' in e)) continue;
    if (e.type === 'vm.launched' && !gone.has(e.vmId)) alive.add(e.vmId);
    else if (e.type === 'vm.draining' || e.type === 'vm.terminated') {
      alive.delete(e.vmId);
      gone.add(e.vmId);
    }
    peak = Math.max(peak, alive.size);
  }
  return peak;
}

/** Sorted client latencies of the completed queries, for the statistics and the CDF. */
export function completedLatencies(replay: ReplayResult): Float32Array {
  const out = replay.queries.flatMap((q) => (q.result && q.latencyMs !== undefined ? [q.latencyMs] : []));
  return Float32Array.from(out).sort();
}

export interface FiguresInput {
  policy: string;
  replay: ReplayResult;
  ledger: Ledger;
  billing: readonly BillingEvent[];
  stages: number;
  sloMs: number;
  /** Billing or stage messages that did not parse (each becomes a note). */
  malformed?: readonly string[];
}

/** The policy's row, without the ratios (set once every policy has run). */
export function benchFigures(i: FiguresInput): PolicyFigures {
  const { replay, ledger } = i;
  const queries = replay.queries.length;
  const completed = replay.queries.filter((q) => q.result).length;
  const sorted = completedLatencies(replay);
  let withinSlo = 0;
  for (const v of sorted) if (v <= i.sloMs) withinSlo++;
  let byVm = 0;
  let byServerless = 0;
  let correct = 0;
  for (const q of replay.queries) {
    const first = q.result?.stages[0]?.backend;
    if (first === 'vm') byVm++;
    else if (first === 'faas') byServerless++;
    if (q.result && q.result.label === q.expected) correct++;
  }
  const vmExec = ledger.perBackend.vm.executions;
  const faasExec = ledger.perBackend.faas.executions;
  const stageBill = (k: number) => ledger.perStage.find((s) => s.stage === k);

  const notes: string[] = [];
  const errors = new Map<string, number>();
  for (const q of replay.queries) if (q.error) errors.set(q.error.type, (errors.get(q.error.type) ?? 0) + 1);
  if (errors.size > 0) {
    notes.push(
      `${queries - completed} queries failed (counted as SLO violations): ${[...errors].map(([t, n]) => `${t} ${n}`).join(', ')}`,
    );
  }
  notes.push(`accuracy ${((correct / Math.max(1, queries)) * 100).toFixed(2)} % of all queries`);
  if (replay.maxLagMs > LAG_NOTE_MS) {
    notes.push(`the client sent some queries late: largest lag ${replay.maxLagMs.toFixed(0)} ms wall (open loop)`);
  }
  if (ledger.faas.throttled > 0) {
    notes.push(`${ledger.faas.throttled} function calls throttled at the account concurrency limit (retried)`);
  }
  for (const a of ledger.anomalies) notes.push(`ledger: ${a}`);
  if (ledger.unendedVms.length > 0) {
    notes.push(
      `ledger: VMs with no end fact, billed to their last liveness + one interval: ${ledger.unendedVms.join(', ')}`,
    );
  }
  for (const m of i.malformed ?? []) notes.push(`malformed event not billed: ${m}`);

  return {
    policy: i.policy,
    queries,
    completed,
    failed: queries - completed,
    // the ledger's total: VM, serverless and the orchestration it was given (collect.ts billRun)
    totalUsd: ledger.totalUsd,
    vmUsd: ledger.vmUsd,
    serverlessUsd: ledger.faasUsd,
    orchestrationUsd: ledger.orchestrationUsd,
    actions: ledger.actions,
    actionsPerQuery: queries ? ledger.actions / queries : 0,
    actionCounts: ledger.actionCounts,
    usdPer1kQueries: queries ? (ledger.totalUsd / queries) * 1000 : 0,
    sloAttainment: queries ? withinSlo / queries : 1,
    latencyMs: summarizeLatency(sorted),
    vmHours: ledger.perBackend.vm.billedSeconds / 3600,
    vmSeconds: ledger.perBackend.vm.billedSeconds,
    peakVms: peakVms(i.billing),
    vmIdleShare: ledger.vmIdleShare ?? 0,
    serverlessExecutionShare: vmExec + faasExec ? faasExec / (vmExec + faasExec) : 0,
    queriesByVm: byVm,
    queriesByServerless: byServerless,
    stageExecutions: Array.from({ length: i.stages }, (_, j) => {
      const s = stageBill(j + 1);
      return {
        stage: j + 1,
        vm: s?.executions.vm ?? 0,
        serverless: s?.executions.faas ?? 0,
        cold: s?.faasColdStarts ?? 0,
      };
    }),
    delay: delayFigures(queueWaitsMs(replay), delayedAfterMs()),
    costRatioToSerflow: null,
    costRatioToBound: null,
    notes,
  };
}
