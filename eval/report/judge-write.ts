/**
 * Writes `serflow judge`'s directory: `report.json` (every run's figures, SERFLOW's verdict per member, profile and
 * bill view, the per-shape summaries and the targets), `index.md` / `index.html` (the targets and one table per
 * shape), `members.md` (every member's verdict) and one box/strip plot per shape (`judge-<shape>.svg`).
 */
import { mkdir } from 'node:fs/promises';
import type { Block } from './document';
import { formatDuration, formatPercent, formatPlain } from './format';
import { toHtml } from './html';
import {
  BILL_VIEWS,
  groupPlotSpec,
  median,
  groupTable,
  judgeTargets,
  memberVerdicts,
  summarize,
  TARGET_BOUND_MEDIAN,
  TARGET_BOUND_WORST,
  TARGET_CHEAPEST_MULTIPLE,
  TARGET_SLO_BELOW_LIBRA,
  TARGET_SLO_MIN,
  viewLabel,
  type BillViewSpec,
  type GroupSummary,
  type JudgeCaseInfo,
  type JudgePricing,
  type JudgeRun,
  type JudgeTarget,
  type MemberVerdict,
} from './judge';
import { toMarkdown } from './markdown';
import { renderSvg } from './vega';
import { writeReportFiles } from './write';

export const JUDGE_REPORT_VERSION = 1;

export interface JudgeReport {
  v: typeof JUDGE_REPORT_VERSION;
  kind: 'judge';
  createdAt: string;
  /** The command line that produced it. */
  command: string;
  /** Commit and whether the tree had changes (null outside a git checkout). */
  git: { commit: string; dirty: boolean } | null;
  machine: Record<string, unknown>;
  /** Wall time of all the runs, s. */
  wallS: number;
  /** The family grid (eval/workload/family.ts TRACE_FAMILY) and the shared traces judged. */
  family: unknown;
  sharedTraces: string[];
  /** Seed of arrival placement, exits and service times. */
  seed: number;
  profiles: Array<{ model: string; sloMs: number }>;
  pricings: JudgePricing[];
  /** USD per Temporal action of each pricing. */
  usdPerAction: Partial<Record<JudgePricing, number>>;
  views: readonly BillViewSpec[];
  policies: string[];
  targetsDefinition: Record<string, number>;
  cases: JudgeCaseInfo[];
  runs: JudgeRun[];
  verdicts: MemberVerdict[];
  summary: GroupSummary[];
  targets: JudgeTarget[];
  setupNotes: Record<string, string[]>;
}

export type JudgeReportInput = Omit<
  JudgeReport,
  'v' | 'kind' | 'verdicts' | 'summary' | 'targets' | 'views' | 'targetsDefinition'
>;

/** The report: the inputs plus the verdicts, summaries and targets of every view. */
export function judgeReport(input: JudgeReportInput): JudgeReport {
  const verdicts = BILL_VIEWS.filter((v) => input.pricings.includes(v.pricing)).flatMap((v) =>
    memberVerdicts(input.runs, v),
  );
  return {
    v: JUDGE_REPORT_VERSION,
    kind: 'judge',
    ...input,
    views: BILL_VIEWS,
    targetsDefinition: {
      cheapestOtherMultiple: TARGET_CHEAPEST_MULTIPLE,
      boundMedianMultiple: TARGET_BOUND_MEDIAN,
      boundWorstMultiple: TARGET_BOUND_WORST,
      sloMin: TARGET_SLO_MIN,
      sloBelowLibra: TARGET_SLO_BELOW_LIBRA,
    },
    verdicts,
    summary: summarize(verdicts),
    targets: judgeTargets(verdicts),
  };
}

/** Groups in report order: the family's shapes as they come, then 'shared'. */
export function groupsOf(r: Pick<JudgeReport, 'cases'>): string[] {
  const groups = [...new Set(r.cases.map((c) => c.group))];
  return [...groups.filter((g) => g !== 'shared'), ...groups.filter((g) => g === 'shared')];
}

const plotFile = (group: string) => `judge-${group.replace(/[^A-Za-z0-9_-]+/g, '_')}.svg`;

/** The targets as a table: one row per view and profile. */
export function targetsTable(targets: readonly JudgeTarget[]): Block {
  const names = [...new Set(targets.map((t) => t.name))];
  const keys = [...new Set(targets.map((t) => `${t.view}|${t.profile}`))];
  return {
    type: 'table',
    header: ['bill', 'profile', ...names],
    numeric: [false, false, ...names.map(() => false)],
    rows: keys.map((key) => {
      const [view, profile] = key.split('|') as [string, string];
      return [
        viewLabel(view as JudgeTarget['view']),
        profile,
        ...names.map((n) => {
          const t = targets.find((x) => x.view === view && x.profile === profile && x.name === n);
          return t ? `${t.met ? 'met' : 'NOT met'}: ${t.detail}` : '-';
        }),
      ];
    }),
  };
}

function groupHeading(group: string, r: JudgeReport): string {
  const cases = r.cases.filter((c) => c.group === group);
  if (group === 'shared') return `Shared traces (${cases.map((c) => c.id).join(', ')})`;
  const rates = [...new Set(cases.map((c) => c.meanRate))];
  return `${group}: ${cases.length} members (mean rate ${formatPlain(Math.min(...rates))}–${formatPlain(Math.max(...rates))} q/s)`;
}

/**
 * Medians per shape and base rate, one row per profile: SERFLOW / the cheapest other policy and SERFLOW / the bound
 * in every view, and the median of the cheapest other policy / the bound (how far the best baseline is from it).
 */
export function baseRateTable(r: Pick<JudgeReport, 'cases' | 'verdicts' | 'views'>): Block {
  const base = new Map(r.cases.map((c) => [c.id, c.baseRate]));
  const keys: string[] = [];
  for (const c of r.cases) {
    if (c.baseRate === null) continue;
    const key = `${c.group}|${c.baseRate}`;
    if (!keys.includes(key)) keys.push(key);
  }
  const profiles = [...new Set(r.verdicts.map((v) => v.profile))];
  const views = r.views.filter((w) => r.verdicts.some((v) => v.view === w.view));
  const cell = (xs: number[]) => (xs.length === 0 ? 'n/a' : median(xs).toFixed(3));
  const rows: string[][] = [];
  for (const key of keys) {
    const [group, rate] = key.split('|') as [string, string];
    for (const profile of profiles) {
      const vs = r.verdicts.filter(
        (v) => v.group === group && v.profile === profile && String(base.get(v.member)) === rate,
      );
      const row = [group, rate, profile, String(new Set(vs.map((v) => v.member)).size)];
      for (const w of views) {
        const of = vs.filter((v) => v.view === w.view);
        row.push(cell(of.map((v) => v.ratioToCheapest)));
        row.push(cell(of.filter((v) => v.ratioToBound !== null).map((v) => v.ratioToBound as number)));
        row.push(
          cell(
            of
              .filter((v) => v.boundUsd !== null && v.boundUsd > 0)
              .map((v) => v.cheapestOtherUsd / (v.boundUsd as number)),
          ),
        );
      }
      rows.push(row);
    }
  }
  const header = [
    'shape',
    'base q/s',
    'profile',
    'members',
    ...views.flatMap((w) => [`${w.short}: SERFLOW / cheapest`, 'SERFLOW / bound', 'cheapest other / bound']),
  ];
  return { type: 'table', header, numeric: header.map((_, i) => i === 1 || i >= 3), rows };
}

/** The summary page as blocks. */
export function judgeDocument(r: JudgeReport): Block[] {
  const totalQueries = r.cases.reduce((s, c) => s + c.queries, 0);
  const blocks: Block[] = [
    { type: 'heading', level: 1, text: 'SERFLOW judged on the trace family and the shared traces' },
    {
      type: 'list',
      items: [
        { label: 'command', text: r.command },
        {
          label: 'commit',
          text: r.git ? `${r.git.commit}${r.git.dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
        },
        { label: 'created', text: `${r.createdAt}, ${formatDuration(r.wallS)} of wall time` },
        { label: 'machine', text: JSON.stringify(r.machine) },
        {
          label: 'traces',
          text:
            `${r.cases.length} (${groupsOf(r)
              .map((g) => `${g} ${r.cases.filter((c) => c.group === g).length}`)
              .join(', ')}); ` +
            `${totalQueries.toLocaleString('en-US')} queries in all; family ${String((r.family as { name?: string }).name ?? '')}`,
        },
        { label: 'profiles', text: r.profiles.map((p) => `${p.model} at SLO ${p.sloMs} ms`).join('; ') },
        { label: 'policies', text: r.policies.join(', ') },
        {
          label: 'bills',
          text:
            r.views.map((v) => v.label).join('; ') +
            ` (USD per action: ${Object.entries(r.usdPerAction)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}); compute only reads the Temporal Cloud runs`,
        },
        { label: 'seed', text: `${r.seed} (arrival placement, exits, service times; the same for every policy)` },
      ],
    },
    { type: 'heading', level: 2, text: 'Targets' },
    {
      type: 'paragraph',
      text:
        `Over every member of the family and every shared trace, per profile and bill: SERFLOW ≤ ${TARGET_CHEAPEST_MULTIPLE}× ` +
        `the cheapest other policy on every member; SERFLOW ≤ ${TARGET_BOUND_MEDIAN}× the clairvoyant bound at the median and ` +
        `≤ ${TARGET_BOUND_WORST}× at worst; SERFLOW's SLO attainment ≥ ${formatPercent(TARGET_SLO_MIN, 1)} and ≥ LIBRA's − ` +
        `${TARGET_SLO_BELOW_LIBRA * 100} points on every member.`,
    },
    targetsTable(r.targets),
  ];
  for (const group of groupsOf(r)) {
    blocks.push({ type: 'heading', level: 2, text: groupHeading(group, r) });
    blocks.push(groupTable(r.summary, group));
    blocks.push({ type: 'image', src: plotFile(group), alt: `SERFLOW's ratios and SLO attainment on ${group}` });
  }
  blocks.push({ type: 'heading', level: 2, text: 'All traces together' });
  blocks.push(groupTable(r.summary, 'all'));
  blocks.push({ type: 'heading', level: 2, text: 'Medians by shape and base rate' });
  blocks.push(baseRateTable(r));
  blocks.push({
    type: 'paragraph',
    text: 'Every member, its spec and SERFLOW’s figures in each bill: members.md; every policy’s figures: report.json (runs).',
  });
  return blocks;
}

/** members.md: one row per member, profile and view. */
export function membersDocument(r: JudgeReport): Block[] {
  const source = new Map(r.cases.map((c) => [c.id, c]));
  return [
    { type: 'heading', level: 1, text: 'SERFLOW on every member' },
    {
      type: 'table',
      header: [
        'member',
        'profile',
        'bill',
        'SERFLOW $',
        'cheapest other',
        '$',
        'SERFLOW / cheapest',
        'bound $',
        'SERFLOW / bound',
        'SLO',
        'LIBRA SLO',
        'mean q/s',
        'spec',
      ],
      numeric: [false, false, false, true, false, true, true, true, true, true, true, true, false],
      rows: r.verdicts.map((v) => [
        v.member,
        v.profile,
        v.view,
        v.serflowUsd.toPrecision(4),
        v.cheapestOther,
        v.cheapestOtherUsd.toPrecision(4),
        v.ratioToCheapest.toFixed(3),
        v.boundUsd === null ? '-' : v.boundUsd.toPrecision(4),
        v.ratioToBound === null ? '-' : v.ratioToBound.toFixed(3),
        formatPercent(v.slo, 3),
        v.libraSlo === null ? '-' : formatPercent(v.libraSlo, 3),
        formatPlain(source.get(v.member)?.meanRate ?? Number.NaN),
        source.get(v.member)?.source ?? '',
      ]),
    },
  ];
}

/** Writes the directory (created if missing); returns the written paths. */
export async function writeJudgeDir(dir: string, r: JudgeReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['report.json', JSON.stringify(r, null, 2) + '\n'],
    ['index.md', toMarkdown(judgeDocument(r))],
    ['index.html', toHtml(judgeDocument(r), 'SERFLOW judged on the trace family')],
    ['members.md', toMarkdown(membersDocument(r))],
  ];
  for (const group of groupsOf(r)) {
    const subtitle = [
      `${r.cases.filter((c) => c.group === group).length} traces × ${r.profiles.map((p) => p.model).join(' and ')}; ` +
        `rows: profile · bill; boxes: quartiles, whiskers min–max; dashed: targets`,
    ];
    files.push([plotFile(group), await renderSvg(groupPlotSpec(r.verdicts, group, subtitle))]);
  }
  return writeReportFiles(dir, files);
}
