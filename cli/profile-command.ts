/**
 * `serflow profile`: measure a model on this machine (bench/profiler.ts) and write its profile, validated,
 * to `models/<model>/profile.json` (or `--out`); print one line per stage. Progress goes to stderr.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseProfile, profilePath, type ModelProfile } from '../autoscaler/profile';
import { DEFAULT_PROFILE_RUNS, MIN_PROFILE_RUNS, profileModel } from '../bench/profiler';
import type { SerflowConfig } from '../common/config';
import { formatTextTable } from '../eval/report/text-table';

export interface ProfileCommandOptions {
  /** @default the configured default model */
  model?: string;
  /** @default the manifest's default threshold */
  threshold?: number;
  /** Calibration samples. @default the whole calibration split */
  samples?: number;
  /** Measured executions per stage and VM option. @default DEFAULT_PROFILE_RUNS */
  runs?: number;
  /** Output file. @default `<modelsDir>/<model>/profile.json` */
  out?: string;
  /** Print `{ file, profile }` as one JSON object instead of the table. */
  json?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function runsArg(value: string): number {
  const n = positiveInt(value);
  if (n < MIN_PROFILE_RUNS) throw new InvalidArgumentError(`expected at least ${MIN_PROFILE_RUNS}, got ${n}`);
  return n;
}

function thresholdArg(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got ${JSON.stringify(value)}`);
  return n;
}

const fmt = (x: number, digits = 3) => x.toFixed(digits);

/**
 * One row per stage: VM 1-thread p50/p95/p99, VM throughput per thread count, function warm p50/p95 and cold
 * start as measured locally, activation bytes, q_k, p_k.
 */
export function formatProfileTable(profile: ModelProfile): string {
  const threads = [...new Set(profile.stages.flatMap((s) => s.vm.map((o) => o.threads)))].sort((a, b) => a - b);
  const head = [
    'stage',
    'vm1 p50',
    'vm1 p95',
    'vm1 p99',
    ...threads.map((t) => `vm${t} /s`),
    'fn p50',
    'fn p95',
    'cold p50',
    'cold max',
    'act B',
    'q_k',
    'p_k',
  ];
  const rows = profile.stages.map((s) => {
    const vm1 = s.vm.find((o) => o.threads === 1)!;
    const f = s.faasMeasured;
    return [
      String(s.stage),
      fmt(vm1.serviceMs.p50),
      fmt(vm1.serviceMs.p95),
      fmt(vm1.serviceMs.p99),
      ...threads.map((t) => fmt(s.vm.find((o) => o.threads === t)?.throughputPerSec ?? NaN, 0)),
      fmt(f.serviceMs.p50),
      fmt(f.serviceMs.p95),
      fmt(f.coldStartMs.p50, 1),
      fmt(f.coldStartMs.max, 1),
      String(s.activationBytes),
      fmt(s.exitShare, 4),
      fmt(s.reachProbability, 4),
    ];
  });
  const memories = profile.stages[0]?.faas.map((o) => `${o.memoryMb} MB ×${o.cpuSlowdown}`).join(', ') ?? '';
  return [
    `${profile.model} at threshold ${profile.threshold}, ${profile.calibration.samples} calibration samples, ` +
      `${profile.machine.cpus} × ${profile.machine.cpuModel}, ORT ${profile.machine.onnxruntime}`,
    'times in ms; vm1 = one inference thread; fn = local function instance (one core), warm handler duration',
    formatTextTable([head, ...rows], { leftColumns: 0 }),
    `function memory options (times × cpuSlowdown = max(1, 1769 / MB)): ${memories}`,
  ].join('\n');
}

/** Measure, validate, write, print. Returns the profile and where it was written. */
export async function profileCommand(
  config: SerflowConfig,
  o: ProfileCommandOptions,
): Promise<{ profile: ModelProfile; file: string }> {
  const model = o.model ?? config.defaultModel;
  const file = path.resolve(o.out ?? profilePath(model, config.modelsDir));
  const abort = new AbortController();
  const onSignal = () => {
    process.stderr.write('[serflow] interrupted: stopping the profiler\n');
    abort.abort(new Error('interrupted'));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const measured = await profileModel({
      config,
      model,
      threshold: o.threshold,
      samples: o.samples,
      runs: o.runs,
      signal: abort.signal,
      onProgress: (line) => process.stderr.write(`[serflow] profile: ${line}\n`),
    });
    // What is written must load back: validate the exact JSON text.
    const text = `${JSON.stringify(measured, null, 2)}\n`;
    const profile = parseProfile(JSON.parse(text), file);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    if (o.json) console.log(JSON.stringify({ file, profile }));
    else {
      console.log(formatProfileTable(profile));
      console.log(`\nwrote ${file}`);
    }
    return { profile, file };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerProfileCommand(program: Command, config: () => SerflowConfig): Command {
  return program
    .command('profile')
    .description(
      'measure a model offline: per-stage service times on VM threads and functions, cold starts, exit profile',
    )
    .option('--model <name>', 'model (default: the configured default model)')
    .addOption(
      new Option('--threshold <t>', 'exit threshold of the exit profile (default: the manifest default)').argParser(
        thresholdArg,
      ),
    )
    .addOption(
      new Option('--samples <n>', 'calibration samples (default: the whole calibration split)').argParser(positiveInt),
    )
    .addOption(
      new Option('--runs <n>', 'measured executions per stage and VM option')
        .argParser(runsArg)
        .default(DEFAULT_PROFILE_RUNS),
    )
    .option('--out <file>', 'output file (default: models/<model>/profile.json)')
    .option('--json', 'print the written file and the profile as one JSON object')
    .action(async (o: ProfileCommandOptions) => {
      await profileCommand(config(), o);
    });
}
