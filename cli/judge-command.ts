/**
 * `serflow judge`: every policy on every member of the trace family (eval/workload/family.ts) and on the shared
 * traces, for both profiles and both orchestration pricings, in the simulator; SERFLOW judged against the cheapest
 * other policy, the clairvoyant bound and LIBRA's SLO attainment (the whole-bill targets) on the whole bill at Temporal
 * Cloud and self-hosted prices and on compute only. Writes report.json, index.md/html, members.md and one plot per
 * shape to --out, and prints the per-shape tables and the targets.
 */
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { POLICY_NAMES, type PolicyName } from '../autoscaler/types';
import { gitInfo, machineInfo } from '../bench/run-info';
import { commandLine } from '../common/command-line';
import type { SerflowConfig } from '../common/config';
import { GROUP_TABLE_HEADER, groupTableRow, JUDGE_PRICINGS, viewLabel, type JudgePricing } from '../eval/report/judge';
import { groupsOf, judgeReport, writeJudgeDir } from '../eval/report/judge-write';
import { formatTextTable } from '../eval/report/text-table';
import { familyMembers, FAMILY_SHAPES, memberTrace, TRACE_FAMILY } from '../eval/workload/family';
import { loadTrace } from '../eval/workload/traces';
import { JUDGE_PROFILES, runJudge, type JudgeCase } from '../sim/judge';
import { policyList, positiveInt } from './options';

/** The shared traces judged besides the family (eval/workload/traces.ts TRACE_NAMES). */
export const JUDGE_SHARED_TRACES = ['wits', 'azure', 'sin', 'square'];

export const JUDGE_DEFAULT_OUT = path.join('bench', 'results', 'judge');

export interface JudgeCommandOptions {
  out: string;
  policies?: PolicyName[];
  seed: number;
  /** Comma-separated shapes to keep (default: all). */
  shapes?: string;
  /** Comma-separated shared traces, or 'none'. */
  shared?: string;
  /** Keep only the first n members of each shape and base rate (a quick look). */
  perBase?: number;
  /** Comma-separated models (default: both profiles). */
  models?: string;
  json?: boolean;
}

function listOption(value: string | undefined, known: readonly string[], what: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === 'none') return [];
  const items = value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const x of items) {
    if (!known.includes(x)) throw new Error(`--${what}: unknown ${JSON.stringify(x)}; known: ${known.join(', ')}`);
  }
  return items;
}

/** The cases to judge: the family's members (filtered) then the shared traces. */
export function judgeCases(o: Pick<JudgeCommandOptions, 'shapes' | 'shared' | 'perBase'>): JudgeCase[] {
  const shapes = listOption(o.shapes, FAMILY_SHAPES, 'shapes') ?? [...FAMILY_SHAPES];
  const shared = listOption(o.shared, JUDGE_SHARED_TRACES, 'shared') ?? JUDGE_SHARED_TRACES;
  const taken = new Map<string, number>();
  const members = familyMembers().filter((m) => {
    if (!shapes.includes(m.shape)) return false;
    if (o.perBase === undefined) return true;
    const key = `${m.shape}|${m.baseRate}`;
    const n = taken.get(key) ?? 0;
    taken.set(key, n + 1);
    return n < o.perBase;
  });
  return [
    ...members.map((m) => ({ id: m.id, group: m.shape, baseRate: m.baseRate, trace: memberTrace(m) })),
    ...shared.map((name) => ({ id: name, group: 'shared', trace: loadTrace(name) })),
  ];
}

export async function judgeCommand(config: SerflowConfig, o: JudgeCommandOptions, argv: string[]): Promise<void> {
  const models = listOption(
    o.models,
    JUDGE_PROFILES.map((p) => p.model),
    'models',
  );
  const profiles = JUDGE_PROFILES.filter((p) => !models || models.includes(p.model));
  const policies = o.policies ?? [...POLICY_NAMES];
  if (!policies.includes('serflow')) throw new Error('--policies: serflow must be among them (it is what is judged)');
  const pricings: JudgePricing[] = [...JUDGE_PRICINGS];
  const cases = judgeCases(o);
  const out = path.resolve(o.out);
  const command = commandLine('serflow', argv);
  const log = (line: string) => process.stderr.write(`[judge] ${line}\n`);
  log(
    `${cases.length} traces × ${profiles.length} profiles × ${pricings.length} pricings = ` +
      `${cases.length * profiles.length * pricings.length} simulated comparisons of ${policies.length} policies`,
  );
  // the commit measured: taken before the runs, so a commit made meanwhile is not recorded instead
  const git = gitInfo();
  const started = Date.now();
  const result = runJudge({
    config,
    cases,
    profiles,
    pricings,
    policies,
    seed: o.seed,
    command,
    onProgress: (p) => {
      const elapsed = (Date.now() - started) / 1000;
      // the time left in proportion to the queries left (WITS alone is a third of the work)
      const left = p.queriesDone > 0 ? (elapsed / p.queriesDone) * (p.queriesTotal - p.queriesDone) : 0;
      const eta = p.done < p.total ? `, about ${Math.round(left)} s left` : '';
      log(`${p.done}/${p.total} ${p.case} ${p.profile} ${p.pricing} (${(p.wallMs / 1000).toFixed(1)} s${eta})`);
    },
  });
  const wallS = (Date.now() - started) / 1000;
  const report = judgeReport({
    createdAt: new Date().toISOString(),
    command,
    git,
    machine: { ...machineInfo() },
    wallS,
    family: TRACE_FAMILY,
    sharedTraces: cases.filter((c) => c.group === 'shared').map((c) => c.id),
    seed: o.seed,
    profiles: [...profiles],
    pricings,
    usdPerAction: result.usdPerAction,
    policies: [...policies],
    cases: result.cases,
    runs: result.runs,
    setupNotes: result.setupNotes,
  });
  const written = await writeJudgeDir(out, report);
  if (o.json) {
    console.log(JSON.stringify({ out, summary: report.summary, targets: report.targets }));
    return;
  }
  for (const group of [...groupsOf(report), 'all']) {
    console.log(`\n${group === 'all' ? 'all traces' : group}:`);
    const rows = report.summary.filter((s) => s.group === group).map(groupTableRow);
    console.log(formatTextTable([GROUP_TABLE_HEADER, ...rows], { leftColumns: 3 }));
  }
  console.log('\ntargets:');
  for (const t of report.targets) {
    console.log(`${t.met ? 'met    ' : 'NOT met'}  [${viewLabel(t.view)}, ${t.profile}] ${t.name}: ${t.detail}`);
  }
  console.log(`\n${written.length} files in ${out} (${wallS.toFixed(0)} s of simulation)`);
}

export function registerJudgeCommand(program: Command, config: () => SerflowConfig): void {
  program
    .command('judge')
    .description(
      'simulate every policy on every trace of the family and the shared traces, both profiles, and judge SERFLOW ' +
        'against the cheapest other policy, the bound and its SLO targets (tables, plots, report.json)',
    )
    .option('--out <dir>', 'report directory', JUDGE_DEFAULT_OUT)
    .addOption(
      new Option(
        '--policies <list>',
        `comma-separated, serflow among them: ${POLICY_NAMES.join(',')} (default: all)`,
      ).argParser(policyList),
    )
    .addOption(
      new Option('--seed <n>', 'seed of arrival placement, exits and service times').argParser(positiveInt).default(1),
    )
    .option('--shapes <list>', `family shapes to run: ${FAMILY_SHAPES.join(',')} (default: all)`)
    .option('--shared <list>', `shared traces to run: ${JUDGE_SHARED_TRACES.join(',')} or none (default: all)`)
    .addOption(
      new Option('--per-base <n>', 'only the first n members of each shape and base rate (a quick look)').argParser(
        positiveInt,
      ),
    )
    .option(
      '--models <list>',
      `profiles: ${JUDGE_PROFILES.map((p) => `${p.model} (SLO ${p.sloMs} ms)`).join(', ')} (default: both)`,
    )
    .option('--json', 'print the summaries and targets as one JSON object')
    .action(async (o: JudgeCommandOptions) => judgeCommand(config(), o, process.argv.slice(2)));
}
