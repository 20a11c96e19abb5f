/**
 * The comparison report written by `serflow sim` and `serflow bench`: one run of several policies on the identical
 * arrival sequence. `report.json` holds the figures (`ComparisonReport`); the time series the plots are drawn from
 * are in `series.json` (`ComparisonSeries`), so the figures stay readable. Both are plain JSON.
 */
import type { ActionCounts, WorkflowActionShape } from '../../billing/actions';
import type { LatencySummary } from '../../common/stats';

export const REPORT_VERSION = 1;

/** Queue waits before service, as LIBRA's simulator counts them ("delayed" = a wait > 0 s). */
export interface DelayFigures {
  /** Queries whose total queue wait was > 0 s (serverless ones count as 0). */
  delayed: number;
  /** delayed / queries. */
  delayedShare: number;
  /** Over all queries, seconds. p99 is nearest-rank. */
  meanS: number;
  p99S: number;
  maxS: number;
}

/** Stage executions of one stage, by backend. */
export interface StageExecutions {
  stage: number;
  vm: number;
  serverless: number;
  /** Serverless executions that hit a cold start. */
  cold: number;
}

/** One policy's result. Costs in USD (cloud time). */
export interface PolicyFigures {
  policy: string;
  /** Queries in the trace window / completed / failed or timed out (failed ones count as SLO violations). */
  queries: number;
  completed: number;
  failed: number;
  /** The whole bill: `vmUsd + serverlessUsd + orchestrationUsd`. */
  totalUsd: number;
  vmUsd: number;
  serverlessUsd: number;
  /** Temporal actions × the run's price per action (`ComparisonReport.orchestration`). */
  orchestrationUsd: number;
  /** Billable Temporal actions of all the queries (see `ComparisonReport.orchestration.counted`). */
  actions: number;
  /** `actions / queries`. */
  actionsPerQuery: number;
  /** `actions` by kind (workflow starts, activity attempts, local-activity tasks, heartbeats, upserts, ...). */
  actionCounts: ActionCounts;
  usdPer1kQueries: number;
  /** Share of ALL queries completed within the SLO (a failed query is a violation). */
  sloAttainment: number;
  /** Latency figures of the completed queries, ms. */
  latencyMs: LatencySummary;
  /** Billed VM time, hours (VM-seconds / 3600). */
  vmHours: number;
  /** VM-seconds billed over all VMs. */
  vmSeconds: number;
  /** Largest fleet at once over all pools: VMs booting or serving (VMs already scaled in and draining excluded). */
  peakVms: number;
  /** Share of billed VM slot-time with no execution running (boot time counts as idle). */
  vmIdleShare: number;
  /** Share of stage executions that ran serverless. */
  serverlessExecutionShare: number;
  /** Queries whose first stage ran on a VM / serverless (LIBRA's "requests served by" VM / serverless). */
  queriesByVm: number;
  queriesByServerless: number;
  stageExecutions: StageExecutions[];
  delay: DelayFigures;
  /** totalUsd / SERFLOW's totalUsd in the same run; null when SERFLOW was not run. */
  costRatioToSerflow: number | null;
  /** totalUsd / the clairvoyant bound; null when no bound was computed (e.g. a live run). */
  costRatioToBound: number | null;
  /** Anything the reader must know about this policy's run (e.g. queries cut off at the end). */
  notes: string[];
}

/** The clairvoyant lower bound on cost for the run's arrivals and exits (see sim/clairvoyant.ts). */
export interface BoundFigures {
  /** `vmUsd + serverlessUsd + orchestrationUsd`. */
  totalUsd: number;
  vmUsd: number;
  serverlessUsd: number;
  /** The least orchestration the queries can need: `actions` × the run's price per action. */
  orchestrationUsd: number;
  /** LEAST_QUERY_ACTIONS (billing/actions.ts) per query. */
  actions: number;
  vmSeconds: number;
  /** What the bound assumes, in words. */
  assumptions: string[];
}

/** How a report's orchestration column was priced and counted. */
export interface OrchestrationSummary {
  /**
   * 'temporal-cloud': Temporal Cloud's price per action; 'self-hosted': the CPU an action costs the Temporal server
   * and the workflow worker at the VM price; 'none': a setup without a workflow engine (the libra-ic2e preset), whose
   * actions are counted and not billed.
   */
  pricing: 'temporal-cloud' | 'self-hosted' | 'none';
  usdPerAction: number;
  /** Self-hosted: CPU ms per action and where it came from ('config' or the overhead benchmark's result file). */
  cpuMsPerAction?: number;
  cpuMsSource?: string;
  /**
   * 'modelled': from each query's executed stage activities in the workflow's `shape` (billing/actions.ts
   * `modelledQueryActions`); 'histories': counted from the queries' workflow histories.
   */
  counted: 'modelled' | 'histories';
  /** The workflow shape modelled counts assume. */
  shape?: WorkflowActionShape;
  /** What the counts rest on, in words. */
  basis: string;
}

/** An evaluation target (eval/report/targets.ts), checked on this run's figures. */
export interface TargetCheck {
  name: string;
  met: boolean;
  /** The figures the check used, in words. */
  detail: string;
}

export interface ComparisonReport {
  v: typeof REPORT_VERSION;
  kind: 'sim' | 'bench';
  createdAt: string;
  /** The command line that produced it, for reproduction. */
  command: string;
  trace: {
    name: string;
    source: string;
    /** Rate factor applied and the window replayed, seconds from the trace start. */
    rateFactor: number;
    startS: number;
    durationS: number;
    queries: number;
    meanRate: number;
    peakRate: number;
  };
  model: string;
  /** Named preset in force (e.g. 'libra-ic2e'), or null. */
  preset: string | null;
  sloMs: number;
  seed: number;
  /** Cloud time per wall time of a live run (1 in the simulator). */
  timeScale: number;
  /** How the orchestration column was priced and counted. */
  orchestration: OrchestrationSummary;
  /** Policies in the order run, keyed by name. */
  policies: Record<string, PolicyFigures>;
  bound: BoundFigures | null;
  targets: TargetCheck[];
  /** Run-level notes (simulator speed, settings that differ from the defaults, ...). */
  notes: string[];
}

/** Time series of one policy, sampled every `ComparisonSeries.stepS`. */
export interface PolicySeries {
  policy: string;
  /** Cumulative cost at each sample time, USD: VM, serverless and orchestration (the last point is the total). */
  cumulativeUsd: number[];
  /** VMs alive per pool at each sample time: `vmsByPool[pool][i]`. Pool 0 = whole-model VMs, k = stage k. */
  vmsByPool: Record<string, number[]>;
  /** Latency CDF of the completed queries: `[latencyMs, shareAtOrBelow]` points, at most ~500, increasing. */
  latencyCdf: Array<[number, number]>;
  /** SERFLOW-style estimate of the stage-1 arrival rate, q/s, at each sample time: EWMA mean and mean + z·dev. */
  estimatedRate?: { mean: number[]; upper: number[] };
}

export interface ComparisonSeries {
  v: typeof REPORT_VERSION;
  /** Sample times, seconds from the start of the window. */
  timeS: number[];
  stepS: number;
  /** Arrivals per second (queries/s) at each sample time, averaged over the step. */
  arrivalRate: number[];
  sloMs: number;
  policies: Record<string, PolicySeries>;
}
