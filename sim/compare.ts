/**
 * One-run comparison in the simulator: every policy on the identical arrival sequence, exits and seed; then the
 * clairvoyant bound, the ratios and the evaluation targets. Pure apart from the progress callback (the CLI writes the
 * report directory with eval/report/write.ts).
 */
import { serverlessFusedRuns } from '../autoscaler/policies/serflow-fusion';
import { createPolicy } from '../autoscaler/policies';
import type { PolicyName } from '../autoscaler/types';
import { REPORT_VERSION, type ComparisonReport, type ComparisonSeries, type PolicyFigures } from '../eval/report/types';
import { seriesStepS } from '../eval/report/figures';
import { checkTargets, withRatios } from '../eval/report/targets';
import { traceSummary } from '../eval/report/trace-summary';
import { exitSharesAt, type ExitSchedule } from '../eval/workload/schedules';
import { arrivalTimesMs, traceStats, type Trace } from '../eval/workload/traces';
import { clairvoyantBound } from './clairvoyant';
import { runSimulation, type SimRunResult } from './engine';
import { conditionalExits, drawExitStages, type ExitSegment } from './exit-model';
import { figuresOf, seriesOf } from './figures';
import { fidelityChecks } from './libra-reference';
import { LIBRA_IC2E_PRESET_NAME, type SimSetup } from './setup';

export interface SimComparisonOptions {
  setup: SimSetup;
  /** The trace as replayed (already windowed and scaled). */
  trace: Trace;
  rateFactor: number;
  startS: number;
  policies: PolicyName[];
  seed: number;
  /** Exit-profile drift over the run; unset = the profile's exit shares throughout. */
  exitSchedule?: ExitSchedule;
  /**
   * The trace's name when the WHOLE trace runs at rate factor 1 under the libra-ic2e preset: the run is then
   * checked against LIBRA's simulator's published figures (libra-reference.ts).
   */
  referenceTrace?: string;
  /** Whether to compute the clairvoyant bound. @default true */
  bound?: boolean;
  command: string;
  onProgress?: (policy: string, done: number, total: number) => void;
}

export interface SimComparison {
  report: ComparisonReport;
  series: ComparisonSeries;
  /** Simulated queries per wall minute of each policy's run (the simulator's speed). */
  speed: Array<{ policy: string; queries: number; wallMs: number; queriesPerMinute: number }>;
}

/** The exit model of a run: the profile's shares, or the schedule's segments. */
export function exitSegments(setup: SimSetup, schedule: ExitSchedule | undefined): ExitSegment[] {
  const profileShares = setup.profile.map((p) => p.exitShare);
  const entries = schedule ?? [{ atS: 0, exitShares: 'profile' as const }];
  return entries.map((e) => ({
    fromMs: e.atS * 1000,
    exitProbability: conditionalExits(exitSharesAt(entries, e.atS, profileShares)),
  }));
}

export function runSimComparison(o: SimComparisonOptions): SimComparison {
  const { setup, trace, seed } = o;
  const stats = traceStats(trace);
  const arrivalsMs = arrivalTimesMs(trace, setup.placement, seed);
  const exitStage = drawExitStages(arrivalsMs, exitSegments(setup, o.exitSchedule), seed);
  // Mirroring a time-scaled live run, the simulated clock is the stack's wall clock: the trace is compressed.
  const ts = setup.timeScale;
  const simArrivalsMs = ts === 1 ? arrivalsMs : arrivalsMs.map((t) => t / ts);
  // the series step of every report (as `serflow bench` samples), in simulated ms
  const stepMs = (seriesStepS(trace.durationS) * 1000) / ts;

  const runs: SimRunResult[] = o.policies.map((name) => {
    const config = setup.compile(name, stats.peakRate * ts);
    return runSimulation({
      arrivalsMs: simArrivalsMs,
      windowMs: (trace.durationS * 1000) / ts,
      timeScale: ts,
      stages: setup.stages,
      exitStage,
      platform: setup.platform,
      policy: createPolicy(name),
      config,
      sloMs: setup.sloMs,
      seed,
      ...(setup.initialVms(name) ? { initialVms: setup.initialVms(name) } : {}),
      // The plan a live autoscaler publishes at start (autoscaler/service.ts), in force until the first decision.
      initialFused: serverlessFusedRuns(config),
      preRollMs: setup.preRollMs(name),
      seriesStepMs: stepMs,
      ...(o.onProgress ? { onProgress: (d: number, t: number) => o.onProgress?.(name, d, t) } : {}),
    });
  });

  const first = setup.compile(o.policies[0] ?? 'serflow', stats.peakRate);
  const bound =
    o.bound === false
      ? null
      : clairvoyantBound({
          arrivalsMs,
          exitStage,
          durationS: trace.durationS,
          stages: setup.stages,
          prices: setup.platform.prices,
          vmPricePerHourUsd: first.stages[0]?.vmPricePerHourUsd ?? 0,
          bootDelayMs: setup.cloudBootDelayMs,
          usdPerAction: setup.platform.orchestration.usdPerAction,
        });

  const figures: Record<string, PolicyFigures> = {};
  for (const r of runs) figures[r.policy] = figuresOf(r, setup.sloMs);
  const policies = withRatios(figures, bound?.totalUsd ?? null);

  const firstRun = runs[0];
  const series: ComparisonSeries = {
    v: REPORT_VERSION,
    // In trace (cloud) seconds whatever the time scale.
    timeS: firstRun ? firstRun.series.timeMs.map((t) => (t * ts) / 1000) : [],
    stepS: (stepMs * ts) / 1000,
    arrivalRate: firstRun ? firstRun.series.arrivals.map((n) => n / ((stepMs * ts) / 1000)) : [],
    sloMs: setup.sloMs,
    policies: Object.fromEntries(runs.map((r) => [r.policy, seriesOf(r, ts)])),
  };

  const speed = runs.map((r) => ({
    policy: r.policy,
    queries: r.queries,
    wallMs: r.wallMs,
    queriesPerMinute: r.wallMs > 0 ? (r.queries / r.wallMs) * 60_000 : Infinity,
  }));
  const report: ComparisonReport = {
    v: REPORT_VERSION,
    kind: 'sim',
    createdAt: new Date().toISOString(),
    command: o.command,
    trace: traceSummary(trace, o.rateFactor, o.startS),
    model: setup.model,
    preset: setup.preset,
    sloMs: setup.sloMs,
    seed,
    timeScale: ts,
    orchestration: setup.orchestration,
    policies,
    bound,
    targets: [
      ...checkTargets(policies, bound),
      ...(o.referenceTrace && setup.preset === LIBRA_IC2E_PRESET_NAME
        ? fidelityChecks(o.referenceTrace, true, policies)
        : []),
    ],
    notes: [
      ...setup.notes,
      `simulator speed: ${speed.map((s) => `${s.policy} ${Math.round(s.queriesPerMinute).toLocaleString('en-US')} queries/min`).join(', ')} (one core)`,
      o.exitSchedule
        ? `exit drift: ${o.exitSchedule.map((e) => `${e.atS} s → ${e.exitShares === 'profile' ? 'profile' : e.exitShares.join('/')}`).join('; ')}`
        : `exit shares: the profile's (${setup.profile.map((p) => p.exitShare.toFixed(3)).join(' / ')})`,
    ],
  };
  return { report, series, speed };
}
