/**
 * The summary page of a report (`index.md`, `index.html`) as one document: the run, the comparison table, the
 * bound, the targets, the plots. Pure.
 */
import { REPORT_FILES } from './files';
import type { Block } from './document';
import {
  formatCount,
  formatDuration,
  formatNumber,
  formatPercent,
  formatPlain,
  formatRatio,
  formatUsd,
} from './format';
import type { ComparisonReport, OrchestrationSummary, PolicyFigures } from './types';

export function summaryTitle(r: ComparisonReport): string {
  return `SERFLOW comparison (${r.kind === 'sim' ? 'simulation' : 'live replay'}): ${r.trace.name}, SLO ${formatPlain(r.sloMs)} ms`;
}

const TABLE_HEADER = [
  'policy',
  'total $',
  'VM $',
  'serverless $',
  'orchestration $',
  'actions/query',
  '$/1k queries',
  'SLO attainment',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'VM-hours',
  'VM idle',
  'serverless executions',
  '× SERFLOW',
  '× bound',
];

function policyRow(p: PolicyFigures): string[] {
  return [
    p.policy,
    formatUsd(p.totalUsd),
    formatUsd(p.vmUsd),
    formatUsd(p.serverlessUsd),
    formatUsd(p.orchestrationUsd),
    formatNumber(p.actionsPerQuery),
    formatUsd(p.usdPer1kQueries),
    formatPercent(p.sloAttainment, 2),
    formatNumber(p.latencyMs.p50),
    formatNumber(p.latencyMs.p95),
    formatNumber(p.latencyMs.p99),
    formatNumber(p.vmHours),
    formatPercent(p.vmIdleShare),
    formatPercent(p.serverlessExecutionShare),
    formatRatio(p.costRatioToSerflow),
    formatRatio(p.costRatioToBound),
  ];
}

/** How the orchestration column was priced and counted, in one line. */
export function orchestrationText(o: OrchestrationSummary): string {
  const price =
    o.pricing === 'temporal-cloud'
      ? `Temporal Cloud, ${formatUsd(o.usdPerAction * 1e6)} per million actions`
      : o.pricing === 'self-hosted'
        ? `self-hosted, ${formatUsd(o.usdPerAction * 1e6)} per million actions (${o.cpuMsPerAction !== undefined ? `${formatPlain(o.cpuMsPerAction)} CPU ms per action` : 'CPU per action'}${o.cpuMsSource !== undefined ? `, from ${o.cpuMsSource}` : ''})`
        : 'not billed (no workflow engine in this setup)';
  return `${price}; actions ${o.basis}`;
}

export function summaryDocument(r: ComparisonReport): Block[] {
  const t = r.trace;
  const policies = Object.entries(r.policies).map(([name, p]) => ({ ...p, policy: p.policy || name }));
  const blocks: Block[] = [
    { type: 'heading', level: 1, text: summaryTitle(r) },
    {
      type: 'list',
      items: [
        {
          label: 'Trace',
          text:
            `${t.name} (${t.source}), rate factor ×${formatPlain(t.rateFactor)}, window ${formatPlain(t.startS)}–` +
            `${formatPlain(t.startS + t.durationS)} s (${formatDuration(t.durationS)}), ${formatCount(t.queries)} queries, ` +
            `mean ${formatPlain(t.meanRate)} q/s, peak ${formatPlain(t.peakRate)} q/s`,
        },
        { label: 'Model', text: r.model },
        { label: 'Preset', text: r.preset ?? 'none' },
        { label: 'SLO', text: `${formatPlain(r.sloMs)} ms` },
        { label: 'Orchestration', text: orchestrationText(r.orchestration) },
        { label: 'Seed', text: String(r.seed) },
        ...(r.timeScale !== 1 ? [{ label: 'Time scale', text: `${formatPlain(r.timeScale)} s cloud time per s` }] : []),
        { label: 'Created', text: r.createdAt },
      ],
    },
    { type: 'paragraph', text: 'Command:' },
    { type: 'code', text: r.command },
    { type: 'heading', level: 2, text: 'Comparison' },
    {
      type: 'paragraph',
      text:
        'Costs in USD of cloud time; the total is VM + serverless + orchestration (the Temporal actions of the ' +
        'queries, priced as stated above). SLO attainment counts failed queries as violations; latencies are of the ' +
        'completed queries. VM idle: share of billed VM time with no execution running. × SERFLOW and × bound: total ' +
        'cost over SERFLOW’s and over the clairvoyant lower bound.',
    },
    {
      type: 'table',
      header: TABLE_HEADER,
      numeric: TABLE_HEADER.map((_, i) => i > 0),
      rows: policies.map(policyRow),
    },
  ];
  const notes = policies.flatMap((p) => p.notes.map((text) => ({ label: p.policy, text })));
  if (notes.length > 0)
    blocks.push({ type: 'heading', level: 3, text: 'Policy notes' }, { type: 'list', items: notes });

  blocks.push({ type: 'heading', level: 2, text: 'Clairvoyant lower bound' });
  if (r.bound === null) {
    blocks.push({ type: 'paragraph', text: 'No bound was computed for this run.' });
  } else {
    const b = r.bound;
    blocks.push({
      type: 'paragraph',
      text:
        `${formatUsd(b.totalUsd)} (VM ${formatUsd(b.vmUsd)}, serverless ${formatUsd(b.serverlessUsd)}, ` +
        `orchestration ${formatUsd(b.orchestrationUsd)} for ${formatCount(b.actions)} actions; ` +
        `${formatNumber(b.vmSeconds)} VM-seconds). It assumes:`,
    });
    blocks.push({ type: 'list', items: b.assumptions.map((text) => ({ text })) });
  }

  blocks.push({ type: 'heading', level: 2, text: 'Targets' });
  blocks.push(
    r.targets.length === 0
      ? { type: 'paragraph', text: 'No targets were checked.' }
      : {
          type: 'list',
          items: r.targets.map((x) => ({ label: x.met ? 'met' : 'NOT met', text: `${x.name}: ${x.detail}` })),
        },
  );

  if (r.notes.length > 0) {
    blocks.push(
      { type: 'heading', level: 2, text: 'Notes' },
      { type: 'list', items: r.notes.map((text) => ({ text })) },
    );
  }

  blocks.push(
    { type: 'heading', level: 2, text: 'Plots' },
    { type: 'image', src: REPORT_FILES.costOverTime, alt: 'Cumulative cost (USD) over time per policy' },
    { type: 'image', src: REPORT_FILES.vmsPerStage, alt: 'VMs alive over time per pool and policy' },
    { type: 'image', src: REPORT_FILES.latencyCdf, alt: 'Latency CDF per policy, with the SLO' },
    { type: 'image', src: REPORT_FILES.arrivals, alt: 'Arrival rate (q/s) and the estimated rate over time' },
  );
  return blocks;
}
