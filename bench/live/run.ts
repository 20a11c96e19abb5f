/**
 * `serflow bench`: every policy in turn on the identical arrival sequence, each on a fresh embedded stack of its
 * own (own Temporal, NATS and ledger in a temporary home directory, so no bill or query leaks from one policy into
 * the next), then one comparison report of the same shape as `serflow sim` writes (eval/report/types.ts), with
 * `kind: 'bench'` and no clairvoyant bound. Orchestration (the Temporal actions of the queries) is priced as
 * configured (or `--orchestration`) and counted from each query's workflow history, read before the stack stops
 * (bench/live/histories.ts); a query without a readable history is modelled from its stage events
 * (bench/live/orchestration.ts), and its policy's notes say how many.
 *
 * Each stack runs with the bench's time scale and SLO (`autoscaler.sloMs`) over the user's configuration, always
 * with embedded servers (TEMPORAL_ADDRESS / NATS_URL are ignored: a shared server would mix the ledgers).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileForModel } from '../../autoscaler/service';
import type { PolicyName } from '../../autoscaler/types';
import { CURRENT_WORKFLOW_SHAPE, type WorkflowActionShape } from '../../billing/actions';
import {
  resolveOrchestration,
  type OrchestrationPricing,
  type ResolvedOrchestration,
} from '../../billing/orchestration-pricing';
import { SerflowClient } from '../../client';
import type { SerflowConfig } from '../../common/config';
import { startStack, stopStackOnSignal, type RunningStack } from '../../deploy/local/stack';
import { connectNats } from '../../infra/nats';
import { loadManifest } from '../../models/manifest';
import { checkTargets, withRatios } from '../../eval/report/targets';
import { traceSummary } from '../../eval/report/trace-summary';
import {
  REPORT_VERSION,
  type ComparisonReport,
  type ComparisonSeries,
  type OrchestrationSummary,
  type PolicyFigures,
  type PolicySeries,
} from '../../eval/report/types';
import type { MixSchedule } from '../../eval/workload/schedules';
import { arrivalTimesMs, traceStats, type Placement, type Trace } from '../../eval/workload/traces';
import { simAgreement } from './agreement';
import { billRun, readRunEvents } from './collect';
import { benchFigures } from './figures';
import { delayedAfterMs } from '../../sim/measured-handoff';
import { actionsFromHistories } from './histories';
import { liveActions, observedActivities } from './orchestration';
import { inferenceWorkflowId } from '../../common/naming';
import { replayArrivals } from './replay';
import { createSamplePicker } from '../../eval/workload/samples';
import { seriesStepS } from '../../eval/report/figures';
import { arrivalRateSeries, benchSeries, sampleTimesS } from './series';

/**
 * Wall ms the replay waits for results after the last arrival (or the window end). A stage attempt times out
 * after `stages.timeoutMs` (10 s) and is retried; two minutes lets a few retries finish, while a policy that never
 * serves a query does not hold the run forever (its queries then count as failed).
 */
export const DEFAULT_DRAIN_LIMIT_MS = 120_000;

export interface BenchOptions {
  /** The user's configuration; each policy's stack runs a copy (benchConfig). */
  config: SerflowConfig;
  /** The trace as replayed: already windowed and scaled. */
  trace: Trace;
  rateFactor: number;
  startS: number;
  policies: PolicyName[];
  model: string;
  sloMs: number;
  timeScale: number;
  seed: number;
  placement: Placement;
  mixSchedule?: MixSchedule;
  /** The command line, recorded in the report. */
  command: string;
  drainLimitMs?: number;
  /** Orchestration pricing, over `orchestration.pricing` of the configuration. */
  orchestration?: OrchestrationPricing;
  /** The workflow's shape the actions are modelled in. @default CURRENT_WORKFLOW_SHAPE */
  workflowShape?: WorkflowActionShape;
  log?: (line: string) => void;
  /** Progress of one policy's replay: queries finished of total. */
  onProgress?: (policy: PolicyName, done: number, total: number) => void;
  /** Called before / after each policy's replay (e.g. to start and stop a progress bar). */
  onReplayStart?: (policy: PolicyName, total: number) => void;
  onReplayEnd?: (policy: PolicyName) => void;
}

export interface BenchResult {
  report: ComparisonReport;
  series: ComparisonSeries;
  /** Wall ms of each policy's run, stack start to stop. */
  wallMs: Record<string, number>;
}

/**
 * The configuration of one policy's stack: the user's, with its own home directory, the bench's time scale and
 * SLO, embedded servers on free ports, and (for vm-max, unless configured) the trace's peak as `peakRate`.
 */
export function benchConfig(
  base: SerflowConfig,
  o: { homeDir: string; timeScale: number; sloMs: number; policy: PolicyName; peakRateWall: number },
): SerflowConfig {
  const { address: _address, ...temporal } = base.temporal;
  const { url: _url, ...nats } = base.nats;
  void _address;
  void _url;
  return {
    ...base,
    homeDir: o.homeDir,
    timeScale: o.timeScale,
    temporal: { ...temporal, port: 0, uiPort: 0 },
    nats: { ...nats, port: 0 },
    autoscaler: {
      ...base.autoscaler,
      policy: o.policy,
      sloMs: o.sloMs,
      ...(base.autoscaler.peakRate === undefined ? { peakRate: Math.max(o.peakRateWall, 1e-9) } : {}),
    },
  };
}

interface PolicyRun {
  figures: PolicyFigures;
  series: PolicySeries;
}

/** Query ids of a policy's replay are `<prefix><n>`. */
const queryIdPrefix = (policy: PolicyName) => `bench-${policy}-`;

/** How the bench's orchestration column is priced and counted, as the report states it. */
function orchestrationSummary(
  priced: ResolvedOrchestration,
  shape: Readonly<WorkflowActionShape>,
): OrchestrationSummary {
  return {
    pricing: priced.pricing,
    usdPerAction: priced.usdPerAction,
    ...(priced.pricing === 'self-hosted' && priced.cpuMsPerAction !== undefined
      ? { cpuMsPerAction: priced.cpuMsPerAction, cpuMsSource: priced.cpuMsSource ?? 'config' }
      : {}),
    counted: 'histories',
    shape: { ...shape },
    basis:
      'counted from each query\u2019s workflow history (billing/history-actions.ts: workflow start, activity attempts, ' +
      'local-activity tasks, search-attribute upserts, timers, signals; heartbeats as the stage results report them); ' +
      `a query without a readable history is modelled from its stage events (per query 1 workflow start, ` +
      `${shape.localActivityTasks} local-activity task(s), ${shape.searchAttributeUpserts} upsert(s), per stage attempt ` +
      `1 activity + ${shape.heartbeatsPerAttempt} heartbeat(s)), as its policy's notes say`,
  };
}

async function runPolicy(
  o: BenchOptions,
  policy: PolicyName,
  arrivalsMs: Float64Array,
  peakRate: number,
  timesS: number[],
  orchestration: ResolvedOrchestration,
): Promise<PolicyRun> {
  const log = o.log ?? (() => undefined);
  const homeDir = fs.mkdtempSync(path.join(os.tmpdir(), `serflow-bench-${policy}-`));
  const config = benchConfig(o.config, {
    homeDir,
    timeScale: o.timeScale,
    sloMs: o.sloMs,
    policy,
    peakRateWall: peakRate * o.timeScale,
  });
  const compiled = compileForModel(config, o.model, policy);
  const stages = loadManifest(o.model, config.modelsDir).stages.length;
  log(`${policy}: starting a fresh stack in ${homeDir}`);
  let stack: RunningStack;
  try {
    stack = await startStack({ config, models: [o.model], autoscaler: policy, onProgress: log });
  } catch (err) {
    log(`${policy}: the stack did not start; its data and logs are kept in ${homeDir}`);
    throw err;
  }
  const unhook = stopStackOnSignal(stack, log);
  let failed = false;
  try {
    const client = await SerflowClient.connectToStack(stack.info, config);
    let replay;
    let counted;
    let replaying = true;
    const replayEnded = () => {
      if (replaying) o.onReplayEnd?.(policy);
      replaying = false;
    };
    try {
      o.onReplayStart?.(policy, arrivalsMs.length);
      replay = await replayArrivals({
        client,
        model: o.model,
        arrivalsMs,
        durationS: o.trace.durationS,
        timeScale: o.timeScale,
        picker: createSamplePicker(o.model, config.modelsDir, o.seed),
        ...(o.mixSchedule ? { mixSchedule: o.mixSchedule } : {}),
        drainLimitMs: o.drainLimitMs ?? DEFAULT_DRAIN_LIMIT_MS,
        queryIdPrefix: queryIdPrefix(policy),
        onProgress: (d, t) => o.onProgress?.(policy, d, t),
      });
      replayEnded();
      log(`${policy}: counting the actions of ${replay.queries.length} workflow histories`);
      counted = await actionsFromHistories(
        client,
        replay.queries.map((q) => inferenceWorkflowId(o.model, `${queryIdPrefix(policy)}${q.n}`)),
      );
    } finally {
      replayEnded();
      await client.close().catch(() => undefined);
    }
    const nc = await connectNats(stack.info.natsUrl, 'serflow-bench');
    let events;
    try {
      events = await readRunEvents(nc, o.model);
    } finally {
      await nc.close().catch(() => undefined);
    }
    const activities = observedActivities(replay, events.stages, (n) => `${queryIdPrefix(policy)}${n}`);
    const live = liveActions(counted, activities, o.workflowShape ?? CURRENT_WORKFLOW_SHAPE);
    const ledger = billRun(events, replay, config.prices, o.sloMs, {
      actionCounts: live.actions,
      workflows: replay.queries.length,
      usdPerAction: orchestration.usdPerAction,
      pricing: orchestration.pricing,
    });
    const figures = benchFigures({
      policy,
      replay,
      ledger,
      billing: events.billing,
      stages,
      sloMs: o.sloMs,
      malformed: events.malformed,
    });
    if (live.modelled > 0) {
      figures.notes.push(
        `${live.modelled} of ${live.perQuery.length} queries had no readable workflow history: their actions are ` +
          'modelled from their stage events',
      );
    }
    const series = benchSeries({
      policy,
      replay,
      billing: events.billing,
      decisions: events.decisions,
      prices: config.prices,
      timeScale: o.timeScale,
      timesS,
      totalUsd: ledger.totalUsd,
      orchestration: replay.queries.map((q, n) => ({
        at: q.sentAt,
        usd: (live.perQuery[n] ?? 0) * orchestration.usdPerAction,
      })),
      ewma: compiled,
    });
    return { figures, series };
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    unhook();
    log(`${policy}: stopping the stack`);
    await stack.stop();
    // Keep the logs of a failed run for diagnosis; a good run leaves nothing behind.
    if (failed) log(`${policy}: stack data and logs kept in ${homeDir}`);
    else fs.rmSync(homeDir, { recursive: true, force: true });
  }
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  if (o.policies.length === 0) throw new Error('no policy to run');
  const stats = traceStats(o.trace);
  const arrivalsMs = arrivalTimesMs(o.trace, o.placement, o.seed);
  // Fail on unpriceable orchestration (self-hosted without a measured CPU per action) before any stack starts.
  const orchestration = resolveOrchestration(o.config.orchestration, o.config.prices, {
    ...(o.orchestration ? { pricing: o.orchestration } : {}),
  });
  // Fail on a bad autoscaler section before any stack starts, with the field named.
  for (const policy of o.policies) {
    compileForModel(
      benchConfig(o.config, {
        homeDir: o.config.homeDir,
        timeScale: o.timeScale,
        sloMs: o.sloMs,
        policy,
        peakRateWall: stats.peakRate * o.timeScale,
      }),
      o.model,
      policy,
    );
  }
  const stepS = seriesStepS(o.trace.durationS);
  const timesS = sampleTimesS(o.trace.durationS, stepS);

  const runs: Record<string, PolicyRun & { wallMs: number; load: [number, number] }> = {};
  for (const policy of o.policies) {
    const t0 = performance.now();
    const loadBefore = os.loadavg()[0] as number;
    const run = await runPolicy(o, policy, arrivalsMs, stats.peakRate, timesS, orchestration);
    runs[policy] = { ...run, wallMs: performance.now() - t0, load: [loadBefore, os.loadavg()[0] as number] };
  }

  const figures: Record<string, PolicyFigures> = {};
  for (const [name, r] of Object.entries(runs)) figures[name] = r.figures;
  const policies = withRatios(figures, null);
  const series: ComparisonSeries = {
    v: REPORT_VERSION,
    timeS: timesS,
    stepS,
    arrivalRate: arrivalRateSeries(arrivalsMs, timesS, stepS),
    sloMs: o.sloMs,
    policies: Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.series])),
  };
  const wallMs = Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, Math.round(r.wallMs)]));
  const agreement = simAgreement({
    ...o,
    ...(o.orchestration ? { orchestrationPricing: o.orchestration } : {}),
    live: policies,
  });
  const report: ComparisonReport = {
    v: REPORT_VERSION,
    kind: 'bench',
    createdAt: new Date().toISOString(),
    command: o.command,
    trace: traceSummary(o.trace, o.rateFactor, o.startS),
    model: o.model,
    preset: null,
    sloMs: o.sloMs,
    seed: o.seed,
    timeScale: o.timeScale,
    orchestration: orchestrationSummary(orchestration, o.workflowShape ?? CURRENT_WORKFLOW_SHAPE),
    policies,
    bound: null,
    targets: [...checkTargets(policies, null), ...agreement.targets],
    notes: [
      ...runNotes(o, stats.meanRate, wallMs),
      agreement.note,
      // Other work on the machine competes with the stack and shows up as latency: say how busy it was.
      `machine load (1-min average) before → after each policy: ${Object.entries(runs)
        .map(([p, r]) => `${p} ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)}`)
        .join(', ')} (${os.cpus().length} cores)`,
    ],
  };
  return { report, series, wallMs };
}

/** What a reader of a live report must know about how it was made. */
function runNotes(o: BenchOptions, meanRate: number, wallMs: Record<string, number>): string[] {
  const c = o.config;
  return [
    `live run: each policy on a fresh embedded stack (Temporal dev server, nats-server, real workers) on this machine (${os.cpus().length} cores); ` +
      `wall time per policy ${Object.entries(wallMs)
        .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(0)} s`)
        .join(', ')}`,
    `time scale ${o.timeScale}: trace seconds are cloud seconds and the replay compresses them ${o.timeScale}×, so the machine ` +
      `receives ${(meanRate * o.timeScale).toFixed(1)} queries per wall second on average; VM boots, cold-start extras, keep-alives and ` +
      'bills are in cloud time, while latencies (and the SLO) are measured wall milliseconds and compute is never scaled',
    `open loop: each query starts at its arrival; count traces placed '${o.placement}' within each second (seed ${o.seed}); ` +
      `images from the held-out split${o.mixSchedule ? `, input mix over time: ${o.mixSchedule.map((e) => `${e.atS} s → ${e.mix}`).join('; ')}` : ''}`,
    'latency is end to end at the client (workflow start request to result); a failed query, or one without a result ' +
      `${(o.drainLimitMs ?? DEFAULT_DRAIN_LIMIT_MS) / 1000} s (wall) after the replay, counts as an SLO violation`,
    'VM and serverless costs from the ledger over the stack\u2019s billing events up to the replay end (VMs still alive are billed up to it), ' +
      'orchestration from the queries\u2019 Temporal actions (see Orchestration); ' +
      'vmsByPool and cumulative cost are rebuilt from the billing events\u2019 and the queries\u2019 send times; estimatedRate folds the live autoscaler\u2019s ' +
      'stage-1 observations with its own EWMA settings, per trace second',
    `"delayed" = VM queue waits above ${delayedAfterMs()} ms (the measured p95 hand-off rounded up to 10 ms) in all (Temporal's task dispatch is part of every live wait)`,
    `VM boot ${c.vm.bootDelayMs / 1000} s, function cold-start extra ${c.faas.coldStartExtraMs / 1000} s, keep-alive ${c.faas.keepAliveMs / 1000} s (cloud); ` +
      `function account concurrency ${c.faas.accountConcurrency}; VM ${c.vm.instanceType} at ${c.prices.vmPerHourUsd[c.vm.instanceType] ?? '?'} $/h`,
  ];
}
