/**
 * `serflow bench`: replay an arrival trace live against the real stack, once per policy, and write the same
 * comparison report directory as `serflow sim` (eval/report/). The work is in bench/live/; this file parses and
 * checks the options (every error names its option), draws the progress, prints the table.
 */
import * as path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { commandLine } from '../common/command-line';
import { compileForModel } from '../autoscaler/service';
import { POLICY_NAMES, type PolicyName } from '../autoscaler/types';
import type { SerflowConfig } from '../common/config';
import { runBench } from '../bench/live/run';
import { orchestrationText, writeReportDir } from '../eval/report/render';
import { formatTextTable } from '../eval/report/text-table';
import type { ComparisonReport } from '../eval/report/types';
import { parseMixSchedule } from '../eval/workload/schedules';
import { loadTrace, PLACEMENTS, scaleTrace, windowTrace, type Placement, type Trace } from '../eval/workload/traces';
import { SIM_DEFAULT_PLACEMENT } from '../sim/setup';
import {
  durationMs,
  nonNegativeNumber,
  ORCHESTRATION_OPTION_HELP,
  orchestrationPricing,
  policyList,
  positiveInt,
  positiveNumber,
  progressBar,
  type OrchestrationPricingOption,
} from './options';
import { defaultOutDir } from './sim-command';

/** Policies run when `--policies` is not given: SERFLOW and the two baselines of the live comparison. */
export const DEFAULT_BENCH_POLICIES: readonly PolicyName[] = ['serflow', 'libra', 'faas-only'];

function mixSchedule(value: string): string {
  try {
    parseMixSchedule(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

export interface BenchCommandOptions {
  trace: string;
  policies?: PolicyName[];
  slo?: number;
  out?: string;
  rateFactor: number;
  start: number;
  duration?: number;
  timeScale?: number;
  seed: number;
  model?: string;
  mixSchedule?: string;
  placement: Placement;
  orchestration?: OrchestrationPricingOption;
  /** Print `{ out, report, wallMs }` as one JSON object instead of the table (as `sim --json`). */
  json?: boolean;
}

/** The trace as replayed: loaded, windowed, scaled; errors name the option at fault. */
export function benchTrace(
  o: Pick<BenchCommandOptions, 'trace' | 'start' | 'duration' | 'rateFactor' | 'seed'>,
): Trace {
  let trace: Trace;
  try {
    trace = loadTrace(o.trace);
  } catch (err) {
    throw new Error(`--trace: ${(err as Error).message}`, { cause: err });
  }
  try {
    trace = windowTrace(trace, o.start, o.duration);
  } catch (err) {
    throw new Error(`--start / --duration: ${(err as Error).message}`, { cause: err });
  }
  return o.rateFactor === 1 ? trace : scaleTrace(trace, o.rateFactor, o.seed);
}

/**
 * The comparison table: policy, total $, $/1k queries, SLO attainment, latency percentiles, the bill by part (VM,
 * serverless, orchestration) with the actions per query, failures.
 */
export function formatBenchTable(report: ComparisonReport): string {
  const header = [
    'policy',
    'total $',
    '$/1k queries',
    'SLO %',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'vm $',
    'faas $',
    'orch $',
    'actions/q',
    'failed',
  ];
  const rows = Object.values(report.policies).map((f) => [
    f.policy,
    f.totalUsd.toPrecision(4),
    f.usdPer1kQueries.toPrecision(4),
    (f.sloAttainment * 100).toFixed(2),
    String(f.latencyMs.p50),
    String(f.latencyMs.p95),
    String(f.latencyMs.p99),
    f.vmUsd.toPrecision(4),
    f.serverlessUsd.toPrecision(4),
    f.orchestrationUsd.toPrecision(4),
    f.actionsPerQuery.toFixed(2),
    `${f.failed}/${f.queries}`,
  ]);
  const t = report.trace;
  return [
    `trace ${t.name}: ${t.queries} queries over ${t.durationS} s (mean ${t.meanRate.toFixed(2)} q/s, peak ${t.peakRate}), ` +
      `SLO ${report.sloMs} ms, time scale ${report.timeScale}`,
    formatTextTable([header, ...rows]),
    `orchestration: ${orchestrationText(report.orchestration)}`,
    ...report.targets.map((c) => `target ${c.met ? 'met' : 'NOT met'}: ${c.name} (${c.detail})`),
  ].join('\n');
}

export async function benchCommand(config: SerflowConfig, o: BenchCommandOptions): Promise<string> {
  const log = (line: string) => console.error(`[serflow] ${line}`);
  const model = o.model ?? config.defaultModel;
  const trace = benchTrace(o);
  const policies = o.policies ?? [...DEFAULT_BENCH_POLICIES];
  const sloMs = o.slo ?? compileForModel(config, model, policies[0]).sloMs;
  const out = path.resolve(o.out ?? defaultOutDir('bench', o.trace));
  let bar: ReturnType<typeof progressBar> | undefined;
  const { report, series, wallMs } = await runBench({
    config,
    trace,
    rateFactor: o.rateFactor,
    startS: o.start,
    policies,
    model,
    sloMs,
    timeScale: o.timeScale ?? config.timeScale,
    seed: o.seed,
    placement: o.placement,
    ...(o.mixSchedule ? { mixSchedule: parseMixSchedule(o.mixSchedule) } : {}),
    ...(o.orchestration ? { orchestration: o.orchestration } : {}),
    command: commandLine('serflow', process.argv.slice(2)),
    log,
    onReplayStart: (policy, total) => (bar = progressBar(`bench ${policy}`, total)),
    onProgress: (_policy, done) => bar?.update(done),
    onReplayEnd: () => bar?.stop(),
  });
  await writeReportDir(out, report, series);
  if (o.json) {
    console.log(JSON.stringify({ out, report, wallMs }));
    return out;
  }
  console.log(formatBenchTable(report));
  const total = Object.values(wallMs).reduce((s, ms) => s + ms, 0);
  console.log(`wall time ${(total / 1000).toFixed(0)} s; report: ${out}`);
  return out;
}

/** Add `bench` to `program`. */
export function registerBenchCommand(program: Command, config: () => SerflowConfig): Command {
  return program
    .command('bench')
    .description('replay an arrival trace live against a fresh stack per policy; write a comparison report directory')
    .requiredOption(
      '--trace <spec>',
      'trace: wits, sin, square, azure, a file, or constant:rate=R,duration=S / step:… / sine:… / bursts:… / mmpp:… / flash:… / diurnal:…',
    )
    .addOption(
      new Option('--policies <list>', `comma-separated: ${POLICY_NAMES.join(',')}`)
        .argParser(policyList)
        .default(undefined, DEFAULT_BENCH_POLICIES.join(',')),
    )
    .addOption(
      new Option('--slo <latency>', 'end-to-end SLO, e.g. 1000ms or 1.5s (default: autoscaler.sloMs)').argParser(
        durationMs,
      ),
    )
    .option('--out <dir>', 'report directory (default: reports/bench-<trace>-<yyyymmdd-hhmmss>, UTC)')
    .addOption(new Option('--rate-factor <f>', 'multiply the trace rate').argParser(positiveNumber).default(1))
    .addOption(new Option('--start <s>', 'window start, trace seconds').argParser(nonNegativeNumber).default(0))
    .addOption(
      new Option('--duration <s>', 'window length, trace seconds (default: to the end)').argParser(positiveNumber),
    )
    .addOption(
      new Option(
        '--time-scale <x>',
        'cloud seconds per wall second; the replay compresses the trace by it (default: config timeScale)',
      ).argParser(positiveNumber),
    )
    .addOption(new Option('--seed <n>', 'seed of placement, scaling and samples').argParser(positiveInt).default(1))
    .option('--model <name>', 'model (default: the configured default model)')
    .addOption(
      new Option('--mix-schedule <spec>', 'input mix over trace time, e.g. 0=all;60=noise:0.4').argParser(mixSchedule),
    )
    .addOption(
      new Option('--placement <how>', 'arrivals of a count trace within their second')
        .choices([...PLACEMENTS])
        .default(SIM_DEFAULT_PLACEMENT),
    )
    .addOption(new Option('--orchestration <pricing>', ORCHESTRATION_OPTION_HELP).argParser(orchestrationPricing))
    .option('--json', 'print the report directory, the report and the wall times as one JSON object')
    .action(async (o: BenchCommandOptions) => {
      await benchCommand(config(), o);
    });
}
