/**
 * `serflow sim`: every policy on the identical arrival sequence of a trace, in the discrete-event simulator,
 * written as a report directory (report.json, series.json, plots, index.md/html).
 */
import * as path from 'node:path';
import { commandLine } from '../common/command-line';
import { Option, type Command } from 'commander';
import { POLICY_NAMES, type PolicyName } from '../autoscaler/types';
import type { SerflowConfig } from '../common/config';
import { formatPercent, formatUsd, orchestrationText, writeReportDir } from '../eval/report/render';
import { formatTextTable } from '../eval/report/text-table';
import { parseExitSchedule } from '../eval/workload/schedules';
import { loadTrace, PLACEMENTS, scaleTrace, windowTrace, type Placement } from '../eval/workload/traces';
import { runSimComparison } from '../sim/compare';
import {
  libraIc2eSetup,
  LIBRA_IC2E_PRESET_NAME,
  setupFromConfig,
  SIM_PLATFORM_KINDS,
  type SimPlatformKind,
} from '../sim/setup';
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

/** Policies compared when none are named: all six; the preset's four (its reference has no SERFLOW or Spock). */
const DEFAULT_POLICIES: PolicyName[] = [...POLICY_NAMES];
const PRESET_POLICIES: PolicyName[] = ['libra', 'faas-only', 'vm-auto', 'vm-max'];

export interface SimCommandOptions {
  trace: string;
  policies?: PolicyName[];
  slo?: number;
  out?: string;
  seed: number;
  rateFactor: number;
  start: number;
  duration?: number;
  model?: string;
  preset?: string;
  placement?: Placement;
  exitSchedule?: string;
  accountConcurrency?: number;
  platform?: SimPlatformKind;
  timeScale?: number;
  orchestration?: OrchestrationPricingOption;
  json?: boolean;
}

/** `reports/sim-<trace>-<yyyymmdd-hhmmss>` (UTC). */
export function defaultOutDir(kind: string, traceSpec: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const name = traceSpec.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40);
  return path.join('reports', `${kind}-${name}-${stamp}`);
}

export async function simCommand(config: SerflowConfig, o: SimCommandOptions, argv: string[]): Promise<void> {
  if (o.preset !== undefined && (o.timeScale !== undefined || o.platform !== undefined)) {
    throw new Error(`--preset ${o.preset} fixes the platform: --time-scale and --platform do not apply`);
  }
  if (o.preset !== undefined && o.orchestration !== undefined) {
    throw new Error(
      `--preset ${o.preset} has no workflow engine (orchestration is not billed): --orchestration does not apply`,
    );
  }
  if (o.preset !== undefined && o.preset !== LIBRA_IC2E_PRESET_NAME) {
    throw new Error(`--preset: unknown preset ${JSON.stringify(o.preset)}; known: ${LIBRA_IC2E_PRESET_NAME}`);
  }
  const preset = o.preset === LIBRA_IC2E_PRESET_NAME;
  const model = o.model ?? config.defaultModel;
  const setup = preset
    ? libraIc2eSetup(o.slo !== undefined ? { sloMs: o.slo } : {})
    : setupFromConfig(config, model, {
        ...(o.slo !== undefined ? { sloMs: o.slo } : {}),
        ...(o.placement ? { placement: o.placement } : {}),
        ...(o.accountConcurrency !== undefined ? { accountConcurrency: o.accountConcurrency } : {}),
        ...(o.platform ? { platform: o.platform } : {}),
        ...(o.timeScale !== undefined ? { timeScale: o.timeScale } : {}),
        ...(o.orchestration !== undefined ? { orchestrationPricing: o.orchestration } : {}),
      });
  if (preset && o.placement) setup.placement = o.placement;
  const full = loadTrace(o.trace);
  const windowed = o.start > 0 || o.duration !== undefined ? windowTrace(full, o.start, o.duration) : full;
  const trace = o.rateFactor !== 1 ? scaleTrace(windowed, o.rateFactor, o.seed) : windowed;
  const policies = o.policies ?? (preset ? PRESET_POLICIES : DEFAULT_POLICIES);
  const exitSchedule = o.exitSchedule ? parseExitSchedule(o.exitSchedule, setup.stages.length) : undefined;
  const out = path.resolve(o.out ?? defaultOutDir('sim', o.trace));

  let bar: ReturnType<typeof progressBar> | undefined;
  let barPolicy = '';
  const result = runSimComparison({
    setup,
    trace,
    rateFactor: o.rateFactor,
    startS: o.start,
    policies,
    seed: o.seed,
    ...(exitSchedule ? { exitSchedule } : {}),
    ...(trace === full ? { referenceTrace: full.name } : {}),
    command: commandLine('serflow', argv),
    onProgress: (policy, done, total) => {
      if (policy !== barPolicy) {
        bar?.stop();
        barPolicy = policy;
        bar = progressBar(`sim ${policy}`, total);
      }
      bar?.update(done);
    },
  });
  bar?.stop();
  const written = await writeReportDir(out, result.report, result.series);
  if (o.json) {
    console.log(JSON.stringify({ out, report: result.report }));
    return;
  }
  console.log(formatComparison(result.report));
  console.log(`\nreport: ${path.join(out, 'index.html')} (${written.length} files)`);
}

/** The comparison as a plain-text table with the targets under it. */
export function formatComparison(r: Awaited<ReturnType<typeof runSimComparison>>['report']): string {
  const rows = Object.values(r.policies).map((p) => [
    p.policy,
    formatUsd(p.totalUsd),
    formatUsd(p.vmUsd),
    formatUsd(p.serverlessUsd),
    formatUsd(p.orchestrationUsd),
    p.actionsPerQuery.toFixed(2),
    formatUsd(p.usdPer1kQueries),
    formatPercent(p.sloAttainment),
    `${p.latencyMs.p50}/${p.latencyMs.p95}/${p.latencyMs.p99}`,
    p.costRatioToSerflow === null ? '-' : `${p.costRatioToSerflow.toFixed(2)}x`,
    p.costRatioToBound === null ? '-' : `${p.costRatioToBound.toFixed(2)}x`,
  ]);
  const head = [
    'policy',
    'total',
    'VM',
    'serverless',
    'orchestration',
    'actions/q',
    'per 1k',
    'SLO',
    'p50/p95/p99 ms',
    'x SERFLOW',
    'x bound',
  ];
  const lines = [
    `${r.trace.name}: ${r.trace.queries.toLocaleString('en-US')} queries over ${r.trace.durationS} s ` +
      `(mean ${r.trace.meanRate.toFixed(1)} q/s, peak ${r.trace.peakRate}); model ${r.model}` +
      `${r.preset ? `, preset ${r.preset}` : ''}; SLO ${r.sloMs} ms; seed ${r.seed}`,
    // left-aligned throughout: the cells mix units ($, %, p50/p95/p99), which read from their start
    formatTextTable([head, ...rows], { leftColumns: head.length }),
    `orchestration: ${orchestrationText(r.orchestration)}`,
  ];
  if (r.bound) {
    lines.push(
      `clairvoyant bound: ${formatUsd(r.bound.totalUsd)} (orchestration ${formatUsd(r.bound.orchestrationUsd)}: ` +
        `${(r.bound.actions / Math.max(1, r.trace.queries)).toFixed(0)} actions per query)`,
    );
  }
  for (const t of r.targets) lines.push(`${t.met ? 'met    ' : 'NOT MET'}  ${t.name}: ${t.detail}`);
  return lines.join('\n');
}

export function registerSimCommand(program: Command, config: () => SerflowConfig): void {
  program
    .command('sim')
    .description('simulate every policy on the same trace and write a report directory (JSON, plots, summary)')
    .requiredOption(
      '--trace <spec>',
      'wits | sin | square | azure | a file | constant:… | step:… | sine:… | bursts:… | mmpp:… | flash:… | diurnal:…',
    )
    .addOption(
      new Option('--policies <list>', `comma-separated: ${POLICY_NAMES.join(',')} (default: all)`).argParser(
        policyList,
      ),
    )
    .addOption(new Option('--slo <duration>', 'end-to-end latency SLO, e.g. 300ms or 1.5s').argParser(durationMs))
    .option('--out <dir>', 'report directory (default: reports/sim-<trace>-<time>)')
    .addOption(new Option('--seed <n>', 'seed of arrivals, exits and service times').argParser(positiveInt).default(1))
    .addOption(new Option('--rate-factor <f>', 'multiply the trace rate').argParser(positiveNumber).default(1))
    .addOption(
      new Option('--start <s>', 'window start, seconds into the trace').argParser(nonNegativeNumber).default(0),
    )
    .addOption(new Option('--duration <s>', 'window length, seconds (default: to the end)').argParser(positiveNumber))
    .option('--model <name>', 'model whose profile is simulated (default: the default model)')
    .option('--preset <name>', `named setup: ${LIBRA_IC2E_PRESET_NAME} (LIBRA's simulator's, for the fidelity check)`)
    .addOption(new Option('--placement <p>', 'arrivals within a second of a count trace').choices([...PLACEMENTS]))
    .option('--exit-schedule <spec>', "exit-share drift, e.g. '0=profile;1800=0.2,0.3,0.3,0.2'")
    .addOption(
      new Option('--account-concurrency <n>', 'function executions at once (default 1000)').argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--platform <kind>',
        "'cloud' (default) or 'local': the embedded stack's limits, to compare with bench",
      ).choices([...SIM_PLATFORM_KINDS]),
    )
    .addOption(
      new Option('--time-scale <x>', 'mirror a live bench run at this time scale (with --platform local)').argParser(
        positiveNumber,
      ),
    )
    .addOption(new Option('--orchestration <pricing>', ORCHESTRATION_OPTION_HELP).argParser(orchestrationPricing))
    .option('--json', 'print the report as one JSON object')
    .action(async (o: SimCommandOptions) => simCommand(config(), o, process.argv.slice(2)));
}
