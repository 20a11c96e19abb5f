/**
 * `serflow cost`: what the running stack has cost, from the billing and stage events on JetStream and the query
 * outcomes in Temporal visibility. The I/O is here; the arithmetic is `computeLedger` (billing/ledger.ts).
 */
import { Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { NatsConnection } from 'nats';
import { computeLedger, type Ledger, type BilledQuery } from '../billing/ledger';
import { readBillingEvents, readStageEvents, type MalformedMessage } from '../billing/reader';
import type { SerflowConfig } from '../common/config';
import { SEARCH_ATTRIBUTES } from '../common/naming';
import { formatTextTable } from '../eval/report/text-table';
import { readStateFile } from '../infra/stack-state';
import { connectNats } from '../infra/nats';
import { connectClientConnection } from '../infra/temporal';

/** Workflow type of one query (the name `SerflowClient` starts it under). */
export const INFERENCE_WORKFLOW_TYPE = 'inferenceWorkflow';

/** Width of the cost-share bar in the table, characters. */
export const COST_BAR_WIDTH = 10;

export interface CostCommandOptions {
  /** Start of the period: an ISO date-time, or a duration back from now (`90s`, `10m`, `1h`, `2d`). @default everything */
  since?: string;
  /** Print one JSON object instead of the table. */
  json?: boolean;
  /** End-to-end latency objective, ms. @default none (no attainment figure) */
  sloMs?: number;
  /** Bill only this model. @default every model */
  model?: string;
}

/** The ledger plus what the command adds: the model filter, running queries, and unreadable events. */
export interface CostReport extends Omit<Ledger, 'queries'> {
  model: string | null;
  queries: Ledger['queries'] & { inFlight: number };
  malformedEvents: (MalformedMessage & { stream: string })[];
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--since` as wall epoch ms: a duration back from `now` (`10m` → now − 600 000) or an ISO date-time
 * (`2025-06-01T12:00:00Z`). Throws InvalidArgumentError naming the value otherwise.
 */
export function parseSince(value: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (duration) return now - Number(duration[1]) * (DURATION_UNITS_MS[duration[2]!] ?? NaN);
  const at = /^\d{4}-\d{2}-\d{2}/.test(value.trim()) ? Date.parse(value) : NaN;
  if (!Number.isFinite(at)) {
    throw new InvalidArgumentError(
      `--since ${JSON.stringify(value)}: expected a duration (90s, 10m, 1h, 2d) or an ISO date-time`,
    );
  }
  return at;
}

/** The visibility query selecting the period's queries of `model` (all models when undefined). */
export function visibilityQuery(model: string | undefined, since: number | undefined): string {
  const clauses = [`WorkflowType = '${INFERENCE_WORKFLOW_TYPE}'`];
  if (model !== undefined) {
    if (!/^[A-Za-z0-9._-]+$/.test(model)) throw new InvalidArgumentError(`--model ${JSON.stringify(model)}: bad name`);
    clauses.push(`${SEARCH_ATTRIBUTES.model.name} = '${model}'`);
  }
  if (since !== undefined) clauses.push(`StartTime >= '${new Date(since).toISOString()}'`);
  return clauses.join(' AND ');
}

/**
 * One listed execution as a query outcome: `COMPLETED` is ok with the workflow's own `LatencyMs` (close − start
 * when missing); `FAILED`, `TIMED_OUT`, `TERMINATED`, `CANCELLED` are violations; `RUNNING` is in flight;
 * anything else (e.g. `CONTINUED_AS_NEW`) is not a query outcome.
 */
export function queryOutcomeOf(
  wf: Pick<WorkflowExecutionInfo, 'workflowId' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes'>,
): BilledQuery | 'in-flight' | 'other' {
  const elapsed = wf.closeTime ? wf.closeTime.getTime() - wf.startTime.getTime() : null;
  switch (wf.status.name) {
    case 'COMPLETED':
      return {
        queryId: wf.workflowId,
        latencyMs: wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.latencyMs) ?? elapsed,
        ok: true,
      };
    case 'FAILED':
    case 'TIMED_OUT':
    case 'TERMINATED':
    case 'CANCELLED':
      return { queryId: wf.workflowId, latencyMs: elapsed, ok: false };
    case 'RUNNING':
      return 'in-flight';
    default:
      return 'other';
  }
}

async function listQueries(
  client: Client,
  model: string | undefined,
  since: number | undefined,
): Promise<{ outcomes: BilledQuery[]; inFlight: number }> {
  const outcomes: BilledQuery[] = [];
  let inFlight = 0;
  for await (const wf of client.workflow.list({ query: visibilityQuery(model, since) })) {
    const o = queryOutcomeOf(wf);
    if (o === 'in-flight') inFlight += 1;
    else if (o !== 'other') outcomes.push(o);
  }
  return { outcomes, inFlight };
}

/** Read everything and compute the bill (no printing). */
export async function collectCost(config: SerflowConfig, options: CostCommandOptions = {}): Promise<CostReport> {
  const now = Date.now();
  const since = options.since === undefined ? undefined : parseSince(options.since, now);
  const state = readStateFile(config.homeDir);
  const temporalAddress = config.temporal.address ?? state?.temporalAddress;
  const natsUrl = config.nats.url ?? state?.natsUrl;
  if (!temporalAddress || !natsUrl) {
    throw new Error(
      'no stack to bill: start one with `serflow up --detach`, or set TEMPORAL_ADDRESS and NATS_URL ' +
        `(missing: ${[!temporalAddress && 'Temporal address', !natsUrl && 'NATS URL'].filter(Boolean).join(', ')})`,
    );
  }
  const namespace = state?.namespace ?? config.temporal.namespace;

  const nc: NatsConnection = await connectNats(natsUrl, 'serflow-cost');
  let billing, stages;
  try {
    // Billing events from the start: a VM launched before `since` still bills the rest of its life.
    // Stage events from `since`: an execution is published when it ends, so those overlapping the period are there.
    billing = await readBillingEvents(nc);
    stages = await readStageEvents(nc, { since });
  } finally {
    await nc.close();
  }

  const connection = await connectClientConnection(temporalAddress, 10_000);
  let queries;
  try {
    queries = await listQueries(new Client({ connection, namespace }), options.model, since);
  } finally {
    await connection.close();
  }

  const model = options.model;
  const ledger = computeLedger({
    billing: model === undefined ? billing.events : billing.events.filter((e) => e.model === model),
    stages: model === undefined ? stages.events : stages.events.filter((e) => e.model === model),
    queries: queries.outcomes,
    prices: config.prices,
    now,
    sloMs: options.sloMs,
    since,
  });
  return {
    ...ledger,
    model: model ?? null,
    queries: { ...ledger.queries, inFlight: queries.inFlight },
    malformedEvents: [
      ...billing.malformed.map((m) => ({ stream: billing.stream, ...m })),
      ...stages.malformed.map((m) => ({ stream: stages.stream, ...m })),
    ],
  };
}

const usd = (x: number) => x.toFixed(6);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** `share` of the width as `#` then `.`, e.g. 0.42 → `####......`. */
export function costBar(share: number, width = COST_BAR_WIDTH): string {
  const n = Math.max(0, Math.min(width, Math.round(share * width)));
  return '#'.repeat(n) + '.'.repeat(width - n);
}

/** The table `serflow cost` prints. */
export function formatCostReport(r: CostReport): string {
  const period = r.since === null ? 'everything recorded' : `since ${new Date(r.since).toISOString()}`;
  const lines = [
    `cost of ${r.model ?? 'all models'}, ${period}, to ${new Date(r.now).toISOString()} (cloud time, USD)`,
  ];
  const header = [
    'model',
    'stage',
    'vm USD',
    'faas USD',
    'total USD',
    'share',
    'vm s',
    'invocations',
    'GB-s',
    'runs vm/faas',
  ];
  const rows = r.perStage.map((s) => [
    s.model,
    String(s.stage),
    usd(s.vmUsd),
    usd(s.faasUsd),
    usd(s.totalUsd),
    r.totalUsd > 0 ? `${costBar(s.totalUsd / r.totalUsd)} ${pct(s.totalUsd / r.totalUsd)}` : '-',
    String(s.vmSeconds),
    `${s.faasInvocations} (${s.faasColdStarts} cold${s.faasThrottled ? `, ${s.faasThrottled} throttled` : ''})`,
    s.faasBilledGbSeconds.toFixed(3),
    `${s.executions.vm}/${s.executions.faas}`,
  ]);
  rows.push([
    'total',
    '',
    usd(r.vmUsd),
    usd(r.faasUsd),
    usd(r.totalUsd),
    '',
    String(r.perBackend.vm.billedSeconds),
    `${r.faas.invocations} (${r.faas.coldStarts} cold${r.faas.throttled ? `, ${r.faas.throttled} throttled` : ''})`,
    r.faas.billedGbSeconds.toFixed(3),
    `${r.perBackend.vm.executions}/${r.perBackend.faas.executions}`,
  ]);
  // model and stage are labels, the rest figures
  lines.push(formatTextTable([header, ...rows], { leftColumns: 2 }));
  if (r.perStage.length === 0) lines.push('(no billable facts in this period)');

  const q = r.queries;
  lines.push(
    `queries: ${q.total} finished (${q.failed} failed), ${q.inFlight} in flight; per 1,000 queries: ` +
      (r.perThousandQueriesUsd === null ? '-' : `${usd(r.perThousandQueriesUsd)} USD`),
    r.sloMs === null
      ? 'SLO: none given (--slo <ms>)'
      : `SLO ${r.sloMs} ms: ${r.sloAttainment === null ? '- (no queries)' : `${pct(r.sloAttainment)} attained`}`,
    `VMs: ${r.vms.length}, idle ${r.vmIdleSeconds.toFixed(1)} s` +
      (r.vmIdleShare === null ? '' : ` (${pct(r.vmIdleShare)} of their life)`),
  );
  for (const a of r.anomalies) lines.push(`note: ${a}`);
  if (r.malformedEvents.length > 0) {
    lines.push(`WARNING: ${r.malformedEvents.length} malformed event(s) not billed:`);
    for (const m of r.malformedEvents.slice(0, 5)) lines.push(`  ${m.stream} #${m.seq} (${m.subject}): ${m.error}`);
  }
  return lines.join('\n');
}

/** `serflow cost`: print the bill (table or `--json`). */
export async function costCommand(config: SerflowConfig, options: CostCommandOptions = {}): Promise<void> {
  const report = await collectCost(config, options);
  console.log(options.json ? JSON.stringify(report) : formatCostReport(report));
}

function positiveMs(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0))
    throw new InvalidArgumentError(`expected a positive number of ms, got ${JSON.stringify(value)}`);
  return n;
}

function sinceArg(value: string): string {
  parseSince(value, Date.now()); // validate now, resolve against the clock when the command runs
  return value;
}

/** Add `cost [--since <when>] [--json] [--slo <ms>] [--model <m>]` to `program`. */
export function registerCostCommand(program: Command, loadConfig: () => SerflowConfig): Command {
  return program
    .command('cost')
    .description(
      'what the stack has cost: VMs and functions per stage, per 1,000 queries, SLO attainment, idle VM time',
    )
    .addOption(
      new Option('--since <when>', 'start of the period: ISO date-time or duration back (10m, 1h)').argParser(sinceArg),
    )
    .option('--json', 'print one JSON object')
    .addOption(new Option('--slo <ms>', 'end-to-end latency objective, ms').argParser(positiveMs))
    .option('--model <name>', 'bill only this model (default: every model)')
    .action(async (o: { since?: string; json?: boolean; slo?: number; model?: string }) =>
      costCommand(loadConfig(), { since: o.since, json: o.json, sloMs: o.slo, model: o.model }),
    );
}
