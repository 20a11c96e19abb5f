/**
 * The judgement of `serflow judge` (the whole-bill targets) over many simulated runs: per member and profile, SERFLOW's
 * bill against the cheapest other policy and against the clairvoyant bound, its SLO attainment against 99.5 % and
 * against LIBRA's; the distribution of those figures per shape (median, worst); the targets met or not; and the
 * summary page and plots. Pure: the runs come in as plain figures (sim/judge.ts makes them), and the files are
 * written by judge-write.ts.
 *
 * Three views of the bill, because orchestration (the same Temporal actions for every policy) dominates the whole
 * bill at Temporal Cloud's list price and would hide the policies' compute decisions:
 * - `temporal-cloud`: the whole bill of the runs priced at Temporal Cloud's price per action;
 * - `self-hosted`: the whole bill of the runs priced at the self-hosted CPU cost per action;
 * - `compute`: VM + serverless of the Temporal Cloud runs (and the bound's compute).
 * SLO attainment is that of the run the view reads.
 */
import type { TopLevelSpec } from 'vega-lite/build/index';
import type { Block } from './document';
import { PLOT_CONFIG, POLICY_COLORS } from './chart-style';
import { formatPercent } from './format';

/** SERFLOW may cost at most this multiple of the cheapest other policy, on every member. */
export const TARGET_CHEAPEST_MULTIPLE = 1.02;
/** SERFLOW's bill / the bound: at most this at the median ... */
export const TARGET_BOUND_MEDIAN = 1.15;
/** ... and at most this on every member. */
export const TARGET_BOUND_WORST = 1.3;
/** SERFLOW's SLO attainment at least this share on every member ... */
export const TARGET_SLO_MIN = 0.995;
/** ... and at least LIBRA's minus this share (0.05 percentage points). */
export const TARGET_SLO_BELOW_LIBRA = 0.0005;

/** How a run's orchestration was priced. */
export type JudgePricing = 'temporal-cloud' | 'self-hosted';
export const JUDGE_PRICINGS: readonly JudgePricing[] = ['temporal-cloud', 'self-hosted'];

export type BillView = 'temporal-cloud' | 'self-hosted' | 'compute';

export interface BillViewSpec {
  view: BillView;
  /** The runs the view reads. */
  pricing: JudgePricing;
  /** true: the whole bill (VM + serverless + orchestration); false: VM + serverless. */
  whole: boolean;
  label: string;
  /** A few words, for plot rows. */
  short: string;
}

export const BILL_VIEWS: readonly BillViewSpec[] = [
  {
    view: 'temporal-cloud',
    pricing: 'temporal-cloud',
    whole: true,
    label: 'whole bill, Temporal Cloud',
    short: 'Temporal Cloud',
  },
  { view: 'self-hosted', pricing: 'self-hosted', whole: true, label: 'whole bill, self-hosted', short: 'self-hosted' },
  {
    view: 'compute',
    pricing: 'temporal-cloud',
    whole: false,
    label: 'compute only (VM + serverless)',
    short: 'compute only',
  },
];

/** What the judgement needs of one policy's run. */
export interface JudgePolicyFigures {
  totalUsd: number;
  vmUsd: number;
  serverlessUsd: number;
  orchestrationUsd: number;
  /** vmUsd + serverlessUsd. */
  computeUsd: number;
  /** Share of all queries within the SLO. */
  sloAttainment: number;
}

/** What a trace of the judgement was, for the report. */
export interface JudgeCaseInfo {
  /** Member id or shared trace name. */
  id: string;
  /** The member's shape, or 'shared'. */
  group: string;
  /** The member's base rate, q/s (null for a shared trace). */
  baseRate: number | null;
  /** The member's spec or the trace file. */
  source: string;
  durationS: number;
  queries: number;
  meanRate: number;
  peakRate: number;
}

/** One simulated comparison: a member (or shared trace) × profile × pricing. */
export interface JudgeRun {
  member: string;
  /** The member's shape, or 'shared' for the shared traces. */
  group: string;
  profile: string;
  pricing: JudgePricing;
  policies: Record<string, JudgePolicyFigures>;
  /** The clairvoyant bound: the whole bill and its compute (VM + serverless); null if not computed. */
  bound: { totalUsd: number; computeUsd: number } | null;
}

/** SERFLOW on one member, profile and view. */
export interface MemberVerdict {
  member: string;
  group: string;
  profile: string;
  view: BillView;
  serflowUsd: number;
  /** The cheapest policy other than SERFLOW in this view, and its bill. */
  cheapestOther: string;
  cheapestOtherUsd: number;
  /** serflowUsd / cheapestOtherUsd. */
  ratioToCheapest: number;
  boundUsd: number | null;
  /** serflowUsd / boundUsd (null without a bound). */
  ratioToBound: number | null;
  slo: number;
  /** LIBRA's SLO attainment in the same run (null when LIBRA did not run). */
  libraSlo: number | null;
}

/** a / b, with 0 / 0 = 1 (equal) and x / 0 = ∞. */
export function safeRatio(a: number, b: number): number {
  if (b > 0) return a / b;
  return a > 0 ? Infinity : 1;
}

const billOf = (f: JudgePolicyFigures, whole: boolean) => (whole ? f.totalUsd : f.computeUsd);

/** SERFLOW's verdict on every run of `runs` that the view reads (runs without SERFLOW or another policy skipped). */
export function memberVerdicts(runs: readonly JudgeRun[], spec: BillViewSpec): MemberVerdict[] {
  const out: MemberVerdict[] = [];
  for (const r of runs) {
    if (r.pricing !== spec.pricing) continue;
    const s = r.policies.serflow;
    const others = Object.entries(r.policies).filter(([name]) => name !== 'serflow');
    if (!s || others.length === 0) continue;
    let cheapest = others[0] as [string, JudgePolicyFigures];
    for (const o of others) if (billOf(o[1], spec.whole) < billOf(cheapest[1], spec.whole)) cheapest = o;
    const serflowUsd = billOf(s, spec.whole);
    const cheapestOtherUsd = billOf(cheapest[1], spec.whole);
    const boundUsd = r.bound ? (spec.whole ? r.bound.totalUsd : r.bound.computeUsd) : null;
    out.push({
      member: r.member,
      group: r.group,
      profile: r.profile,
      view: spec.view,
      serflowUsd,
      cheapestOther: cheapest[0],
      cheapestOtherUsd,
      ratioToCheapest: safeRatio(serflowUsd, cheapestOtherUsd),
      boundUsd,
      ratioToBound: boundUsd === null ? null : safeRatio(serflowUsd, boundUsd),
      slo: s.sloAttainment,
      libraSlo: r.policies.libra?.sloAttainment ?? null,
    });
  }
  return out;
}

/** The median (the mean of the two middle values for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A figure's worst value and the member it came from. */
export interface Worst {
  value: number;
  member: string;
}

/** The member with the largest (`'max'`) or smallest (`'min'`) value; null for none. */
export function worstOf<T extends { member: string }>(
  items: readonly T[],
  value: (x: T) => number | null,
  direction: 'max' | 'min',
): Worst | null {
  let best: Worst | null = null;
  for (const x of items) {
    const v = value(x);
    if (v === null || Number.isNaN(v)) continue;
    if (best === null || (direction === 'max' ? v > best.value : v < best.value)) best = { value: v, member: x.member };
  }
  return best;
}

/** The distribution of SERFLOW's figures over the members of one group, profile and view. */
export interface GroupSummary {
  view: BillView;
  profile: string;
  group: string;
  members: number;
  ratioToCheapest: { median: number; worst: Worst | null };
  /** Members where SERFLOW costs more than TARGET_CHEAPEST_MULTIPLE × the cheapest other policy. */
  overCheapestTarget: number;
  /** How often each other policy was the cheapest other one. */
  cheapestOtherCounts: Record<string, number>;
  ratioToBound: { median: number; worst: Worst | null };
  minSlo: Worst | null;
  /** The smallest SERFLOW − LIBRA SLO attainment (share; negative = SERFLOW below LIBRA). */
  minSloMinusLibra: Worst | null;
}

function summaryOf(view: BillView, profile: string, group: string, vs: readonly MemberVerdict[]): GroupSummary {
  const cheapestOtherCounts: Record<string, number> = {};
  for (const v of vs) cheapestOtherCounts[v.cheapestOther] = (cheapestOtherCounts[v.cheapestOther] ?? 0) + 1;
  const bounded = vs.filter((v) => v.ratioToBound !== null);
  return {
    view,
    profile,
    group,
    members: vs.length,
    ratioToCheapest: {
      median: median(vs.map((v) => v.ratioToCheapest)),
      worst: worstOf(vs, (v) => v.ratioToCheapest, 'max'),
    },
    overCheapestTarget: vs.filter((v) => v.ratioToCheapest > TARGET_CHEAPEST_MULTIPLE).length,
    cheapestOtherCounts,
    ratioToBound: {
      median: median(bounded.map((v) => v.ratioToBound as number)),
      worst: worstOf(bounded, (v) => v.ratioToBound, 'max'),
    },
    minSlo: worstOf(vs, (v) => v.slo, 'min'),
    minSloMinusLibra: worstOf(vs, (v) => (v.libraSlo === null ? null : v.slo - v.libraSlo), 'min'),
  };
}

/**
 * One summary per (view, profile, group) present in `verdicts`, in the order first seen, plus one per (view,
 * profile) over all groups (group `all`).
 */
export function summarize(verdicts: readonly MemberVerdict[]): GroupSummary[] {
  const keys: string[] = [];
  const byKey = new Map<string, MemberVerdict[]>();
  const add = (key: string, v: MemberVerdict) => {
    let list = byKey.get(key);
    if (!list) {
      list = [];
      byKey.set(key, list);
      keys.push(key);
    }
    list.push(v);
  };
  for (const v of verdicts) {
    add(JSON.stringify([v.view, v.profile, v.group]), v);
    add(JSON.stringify([v.view, v.profile, 'all']), v);
  }
  return keys.map((key) => {
    const [view, profile, group] = JSON.parse(key) as [BillView, string, string];
    return summaryOf(view, profile, group, byKey.get(key) as MemberVerdict[]);
  });
}

/** A target checked on one view and profile over every member (family and shared traces). */
export interface JudgeTarget {
  view: BillView;
  profile: string;
  name: string;
  met: boolean;
  /** The figures, in words. */
  detail: string;
}

const x3 = (r: number) => `${r.toFixed(3)}×`;
const pts = (share: number) => `${(share * 100).toFixed(3)} points`;

/** The issue's three targets, per (view, profile) present in `verdicts`. */
export function judgeTargets(verdicts: readonly MemberVerdict[]): JudgeTarget[] {
  const out: JudgeTarget[] = [];
  const keys = [...new Set(verdicts.map((v) => JSON.stringify([v.view, v.profile])))];
  for (const key of keys) {
    const [view, profile] = JSON.parse(key) as [BillView, string];
    const vs = verdicts.filter((v) => v.view === view && v.profile === profile);
    const s = summaryOf(view, profile, 'all', vs);
    const worstCheap = s.ratioToCheapest.worst;
    const worstVerdict = vs.find((v) => v.member === worstCheap?.member);
    out.push({
      view,
      profile,
      name: `SERFLOW ≤ ${TARGET_CHEAPEST_MULTIPLE}× the cheapest other policy on every member`,
      met: s.overCheapestTarget === 0 && vs.length > 0,
      detail:
        `worst ${worstCheap ? `${x3(worstCheap.value)} (${worstCheap.member}, cheapest other ${worstVerdict?.cheapestOther ?? '?'})` : 'n/a'}, ` +
        `median ${x3(s.ratioToCheapest.median)}; ${s.overCheapestTarget} of ${s.members} members above ${TARGET_CHEAPEST_MULTIPLE}×`,
    });
    const wb = s.ratioToBound.worst;
    out.push({
      view,
      profile,
      name: `SERFLOW within ${TARGET_BOUND_MEDIAN}× the bound at the median and ${TARGET_BOUND_WORST}× at worst`,
      met: wb !== null && s.ratioToBound.median <= TARGET_BOUND_MEDIAN && wb.value <= TARGET_BOUND_WORST,
      detail:
        `median ${Number.isNaN(s.ratioToBound.median) ? 'n/a' : x3(s.ratioToBound.median)}, worst ` +
        `${wb ? `${x3(wb.value)} (${wb.member})` : 'n/a'}; ` +
        `${vs.filter((v) => v.ratioToBound !== null && v.ratioToBound > TARGET_BOUND_WORST).length} of ${s.members} members above ${TARGET_BOUND_WORST}×`,
    });
    const lowSlo = vs.filter((v) => v.slo < TARGET_SLO_MIN).length;
    const belowLibra = vs.filter((v) => v.libraSlo !== null && v.slo < v.libraSlo - TARGET_SLO_BELOW_LIBRA).length;
    const ms = s.minSlo;
    const ml = s.minSloMinusLibra;
    out.push({
      view,
      profile,
      name: `SERFLOW SLO attainment ≥ ${formatPercent(TARGET_SLO_MIN, 1)} and ≥ LIBRA’s − ${TARGET_SLO_BELOW_LIBRA * 100} points`,
      met: vs.length > 0 && lowSlo === 0 && belowLibra === 0,
      detail:
        `min ${ms ? `${formatPercent(ms.value, 3)} (${ms.member})` : 'n/a'}, ${lowSlo} of ${s.members} below ${formatPercent(TARGET_SLO_MIN, 1)}; ` +
        `min SERFLOW − LIBRA ${ml ? `${pts(ml.value)} (${ml.member})` : 'n/a'}, ${belowLibra} members more than ${TARGET_SLO_BELOW_LIBRA * 100} points below LIBRA`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Tables and the summary page

/** The view's label (BILL_VIEWS). */
export function viewLabel(view: BillView): string {
  return BILL_VIEWS.find((v) => v.view === view)?.label ?? view;
}

const ratioCell = (r: number) => (Number.isFinite(r) ? r.toFixed(3) : Number.isNaN(r) ? 'n/a' : '∞');
const worstCell = (w: Worst | null, format: (x: number) => string) => (w ? `${format(w.value)} (${w.member})` : 'n/a');

export const GROUP_TABLE_HEADER = [
  'profile',
  'bill',
  'members',
  'SERFLOW / cheapest other: median',
  'worst',
  `members > ${TARGET_CHEAPEST_MULTIPLE}×`,
  'cheapest other (times)',
  'SERFLOW / bound: median',
  'worst',
  'min SLO',
  'min SERFLOW − LIBRA SLO (points)',
];

/** One row of a group's table. */
export function groupTableRow(s: GroupSummary): string[] {
  const counts = Object.entries(s.cheapestOtherCounts)
    .sort((a, b) => b[1] - a[1])
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  return [
    s.profile,
    viewLabel(s.view),
    String(s.members),
    ratioCell(s.ratioToCheapest.median),
    worstCell(s.ratioToCheapest.worst, ratioCell),
    String(s.overCheapestTarget),
    counts,
    ratioCell(s.ratioToBound.median),
    worstCell(s.ratioToBound.worst, ratioCell),
    worstCell(s.minSlo, (x) => formatPercent(x, 2)),
    worstCell(s.minSloMinusLibra, (x) => (x * 100).toFixed(3)),
  ];
}

/** The group's table as a document block (rows ordered by profile, then view). */
export function groupTable(summaries: readonly GroupSummary[], group: string): Block {
  const rows = summaries.filter((s) => s.group === group);
  return {
    type: 'table',
    header: GROUP_TABLE_HEADER,
    numeric: GROUP_TABLE_HEADER.map((_, i) => i >= 2 && i !== 6),
    rows: rows.map(groupTableRow),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Plots

/** Strip-plot rows of one group: one per member, profile and view. */
export interface StripRow {
  member: string;
  profile: string;
  row: string;
  ratioToCheapest: number;
  ratioToBound: number | null;
  sloPercent: number;
  /** A deterministic vertical offset in [-1, 1) so that points of one row do not overlap. */
  jitter: number;
}

/** A fixed pseudo-random number in [-1, 1) for the i-th point (the plot is the same at every run). */
function jitterOf(i: number): number {
  const x = Math.sin((i + 1) * 12.9898) * 43758.5453;
  return 2 * (x - Math.floor(x)) - 1;
}

export function stripRows(verdicts: readonly MemberVerdict[], group: string): StripRow[] {
  return verdicts
    .filter((v) => v.group === group)
    .map((v, i) => ({
      member: v.member,
      profile: v.profile,
      row: `${v.profile} · ${BILL_VIEWS.find((b) => b.view === v.view)?.short ?? v.view}`,
      ratioToCheapest: v.ratioToCheapest,
      ratioToBound: v.ratioToBound,
      sloPercent: v.slo * 100,
      jitter: jitterOf(i),
    }));
}

/** Profile colours: the first profile SERFLOW's red, the second LIBRA's blue (fixed, not by order of data). */
const PROFILE_COLORS = [POLICY_COLORS.serflow, POLICY_COLORS.libra, POLICY_COLORS['faas-only'], POLICY_COLORS.spock];

const PANEL_W = 260;

/** Tick values of a log ratio axis. */
const LOG_RATIO_TICKS = [0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 20, 30, 50, 100];

/**
 * One box-and-strip panel: a box (quartiles, whiskers to min and max) per row and every member as a point, with
 * dashed rules at the targets.
 */
function panel(
  rows: readonly StripRow[],
  field: 'ratioToCheapest' | 'ratioToBound' | 'sloPercent',
  title: string,
  rules: number[],
  order: string[],
  profiles: string[],
  showRowAxis: boolean,
): Record<string, unknown> {
  const values = rows.map((r) => r[field]).filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = Math.min(...values, ...rules);
  const hi = Math.max(...values, ...rules);
  const log = field !== 'sloPercent' && lo > 0 && hi / lo > 4;
  const pad = (hi - lo) * 0.05 || 0.01;
  const scale = log
    ? { type: 'log', domain: [lo / 1.05, hi * 1.05], nice: false }
    : { domain: [lo - pad, hi + pad], nice: false, zero: false };
  // a log axis labels few values between powers of ten: name the round ratios in range
  const logTicks = LOG_RATIO_TICKS.filter((t) => t >= lo / 1.05 && t <= hi * 1.05);
  const y = {
    field: 'row',
    type: 'nominal',
    sort: order,
    title: null,
    axis: showRowAxis ? { labelLimit: 260 } : { labels: false, ticks: false },
  };
  const x = {
    field,
    type: 'quantitative',
    title: `${title}${log ? ' (log scale)' : ''}`,
    scale,
    ...(log ? { axis: { values: logTicks } } : {}),
  };
  const color = {
    field: 'profile',
    type: 'nominal',
    title: 'profile',
    scale: { domain: profiles, range: PROFILE_COLORS.slice(0, profiles.length) },
  };
  const finite = rows.filter((r) => r[field] !== null && Number.isFinite(r[field]));
  return {
    width: PANEL_W,
    height: { step: 28 },
    layer: [
      {
        data: { values: finite },
        mark: { type: 'boxplot', extent: 'min-max', size: 16, opacity: 0.35, median: { color: '#333333' } },
        encoding: { y, x, color: { ...color, legend: null } },
      },
      {
        data: { values: finite },
        mark: { type: 'circle', size: 22, opacity: 0.85 },
        encoding: {
          y,
          x,
          yOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-3, 3] } },
          color,
          tooltip: [{ field: 'member' }, { field }],
        },
      },
      {
        data: { values: rules.map((r) => ({ r })) },
        mark: { type: 'rule', color: '#333333', strokeDash: [5, 4] },
        encoding: { x: { field: 'r', type: 'quantitative' } },
      },
    ],
  };
}

/**
 * A group's plot: three panels side by side, one row per profile and bill view: SERFLOW / the cheapest other policy
 * (rule at the 1.02× target), SERFLOW / the bound (rules at 1.15× and 1.3×), SERFLOW's SLO attainment (rule at
 * 99.5 %).
 */
export function groupPlotSpec(verdicts: readonly MemberVerdict[], group: string, subtitle: string[]): TopLevelSpec {
  const rows = stripRows(verdicts, group);
  const profiles = [...new Set(rows.map((r) => r.profile))];
  const order = [...new Set(rows.map((r) => r.row))];
  const bounded = rows.filter((r) => r.ratioToBound !== null);
  const panels = [
    panel(
      rows,
      'ratioToCheapest',
      'SERFLOW / cheapest other policy',
      [1, TARGET_CHEAPEST_MULTIPLE],
      order,
      profiles,
      true,
    ),
    ...(bounded.length > 0
      ? [
          panel(
            bounded,
            'ratioToBound',
            'SERFLOW / clairvoyant bound',
            [1, TARGET_BOUND_MEDIAN, TARGET_BOUND_WORST],
            order,
            profiles,
            false,
          ),
        ]
      : []),
    panel(rows, 'sloPercent', 'SERFLOW SLO attainment (%)', [TARGET_SLO_MIN * 100], order, profiles, false),
  ];
  return {
    title: {
      text: `SERFLOW on the ${group} ${group === 'shared' ? 'traces' : 'members'}: one point per member`,
      subtitle,
    },
    config: PLOT_CONFIG,
    hconcat: panels,
    resolve: { scale: { color: 'shared' } },
  } as unknown as TopLevelSpec;
}
