/**
 * `serflow cost`: what the running stack has cost, from the billing and stage events on JetStream, the query
 * outcomes in Temporal visibility and the Temporal actions counted from the queries' workflow histories. The I/O
 * is here; the arithmetic is `computeLedger` (billing/ledger.ts) and `actionsFromHistory`
 * (billing/history-actions.ts).
 */
import { Client, isGrpcServiceError, type WorkflowExecutionInfo } from '@temporalio/client';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { NatsConnection } from 'nats';
import { addActions, NO_ACTIONS, type ActionCounts } from '../billing/actions';
import { actionsFromHistory } from '../billing/history-actions';
import { computeLedger, type Ledger, type BilledQuery } from '../billing/ledger';
import { OVERHEAD_RESULTS_FILE, resolveOrchestration } from '../billing/orchestration-pricing';
import { readBillingEvents, readStageEvents, type MalformedMessage } from '../billing/reader';
import type { SerflowConfig } from '../common/config';
import { SEARCH_ATTRIBUTES } from '../common/naming';
import { formatTextTable } from '../eval/report/text-table';
import { discoverStack, requireNatsUrl, requireTemporalAddress } from '../infra/stack-state';
import { connectNats } from '../infra/nats';
import { connectClientConnection } from '../infra/temporal';

/** Workflow type of one query (the name `SerflowClient` starts it under). */
export const INFERENCE_WORKFLOW_TYPE = 'inferenceWorkflow';

/** Width of the cost-share bar in the table, characters. */
export const COST_BAR_WIDTH = 10;

/** Workflow histories fetched at once to count actions: enough to hide round trips, few enough to spare the server. */
export const HISTORY_FETCH_CONCURRENCY = 8;

/** Above this many workflows, counting their actions reports its progress on stderr (a few seconds per 1 000). */
export const HISTORY_PROGRESS_ABOVE = 200;

/** gRPC status NOT_FOUND: the workflow's history is gone (retention) between listing it and fetching it. */
const GRPC_NOT_FOUND = 5;

export interface CostCommandOptions {
  /** Start of the period: an ISO date-time, or a duration back from now (`90s`, `10m`, `1h`, `2d`). @default everything */
  since?: string;
  /** Print one JSON object instead of the table. */
  json?: boolean;
  /** End-to-end latency objective, ms. @default none (no attainment figure) */
  sloMs?: number;
  /** Bill only this model. @default every model */
  model?: string;
  /**
   * Where self-hosted orchestration finds the CPU per action when the configuration has none: the overhead
   * benchmark's result. @default OVERHEAD_RESULTS_FILE (bench/results/overhead.json)
   */
  overheadFile?: string;
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
 * The visibility query selecting the workflows whose actions the period pays for: those of `model` (all models
 * when undefined) that closed at/after `since` (all closed ones when undefined). A workflow is counted once, in the
 * period it closed in, so consecutive periods add up; a running one is counted when it has closed.
 */
export function orchestrationVisibilityQuery(model: string | undefined, since: number | undefined): string {
  const clauses = [`WorkflowType = '${INFERENCE_WORKFLOW_TYPE}'`];
  if (model !== undefined) {
    if (!/^[A-Za-z0-9._-]+$/.test(model)) throw new InvalidArgumentError(`--model ${JSON.stringify(model)}: bad name`);
    clauses.push(`${SEARCH_ATTRIBUTES.model.name} = '${model}'`);
  }
  clauses.push(
    since === undefined ? `ExecutionStatus != 'Running'` : `CloseTime >= '${new Date(since).toISOString()}'`,
  );
  return clauses.join(' AND ');
}

/** `fn` over `items`, at most `limit` calls in flight at once; the results in the order of `items`. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return results;
}

/**
 * A progress line for counting `total` histories, written to `stream` (stderr), or undefined when there are too few
 * to need one: on a terminal one line rewritten in place, elsewhere a line per 5 %.
 */
export function historyProgress(
  total: number,
  stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stderr,
): ((done: number) => void) | undefined {
  if (total <= HISTORY_PROGRESS_ABOVE) return undefined;
  const step = Math.ceil(total / 20);
  return (done) => {
    if (done % step !== 0 && done !== total) return;
    const line = `counting Temporal actions: ${done}/${total} workflow histories`;
    stream.write(stream.isTTY ? `\r${line}${done === total ? '\n' : ''}` : `${line}\n`);
  };
}

/** The actions of the period's workflows (see orchestrationVisibilityQuery), counted from their histories. */
interface CountedActions {
  actionCounts: ActionCounts;
  /** Workflows whose histories were counted. */
  workflows: number;
  /** Workflows listed whose history was gone by the time it was fetched. */
  gone: number;
}

async function countActions(
  client: Client,
  model: string | undefined,
  since: number | undefined,
): Promise<CountedActions> {
  const executions: { workflowId: string; runId: string }[] = [];
  for await (const wf of client.workflow.list({ query: orchestrationVisibilityQuery(model, since) })) {
    executions.push({ workflowId: wf.workflowId, runId: wf.runId });
  }
  const progress = historyProgress(executions.length);
  let done = 0;
  const perWorkflow = await mapWithConcurrency(executions, HISTORY_FETCH_CONCURRENCY, async (e) => {
    try {
      return actionsFromHistory(await client.workflow.getHandle(e.workflowId, e.runId).fetchHistory());
    } catch (err) {
      if (isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND) return null;
      throw err;
    } finally {
      progress?.((done += 1));
    }
  });
  const counted: CountedActions = { actionCounts: { ...NO_ACTIONS }, workflows: 0, gone: 0 };
  for (const counts of perWorkflow) {
    if (counts === null) counted.gone += 1;
    else {
      counted.actionCounts = addActions(counted.actionCounts, counts);
      counted.workflows += 1;
    }
  }
  return counted;
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
  // Priced first: a self-hosted setup without its CPU cost per action (configured or measured) fails here, naming
  // the setting and the benchmark that measures it, before any connection is made.
  const actionUsd = resolveOrchestration(config.orchestration, config.prices, {
    overheadFile: options.overheadFile ?? OVERHEAD_RESULTS_FILE,
  }).usdPerAction;
  const now = Date.now();
  const since = options.since === undefined ? undefined : parseSince(options.since, now);
  const stack = discoverStack(config);
  const temporalAddress = requireTemporalAddress(stack);
  const natsUrl = requireNatsUrl(stack);
  const namespace = stack.namespace;

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

  const connection = await connectClientConnection(
    { address: temporalAddress, embedded: stack.temporalEmbedded === true },
    10_000,
  );
  let queries, actions;
  try {
    const client = new Client({ connection, namespace });
    queries = await listQueries(client, options.model, since);
    actions = await countActions(client, options.model, since);
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
    livenessStaleMs: config.vmLiveness.staleMs,
    sloMs: options.sloMs,
    since,
    orchestration: {
      actionCounts: actions.actionCounts,
      workflows: actions.workflows,
      usdPerAction: actionUsd,
      pricing: config.orchestration.pricing,
    },
  });
  if (actions.gone > 0) {
    ledger.anomalies.push(
      `${actions.gone} workflow(s) closed in the period had no history any more (namespace retention); ` +
        'their actions are not counted',
    );
  }
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

/** Names of the action kinds in the breakdown line, in the order of ActionCounts. */
const ACTION_KIND_NAMES: Record<keyof ActionCounts, string> = {
  workflowStarted: 'workflows started',
  activityAttempts: 'activity attempts',
  localActivityTasks: 'local-activity tasks',
  heartbeats: 'heartbeats',
  searchAttributeUpserts: 'search-attribute upserts',
  timersStarted: 'timers',
  signals: 'signals',
};

/** The orchestration lines: workflows counted, actions, per query, the price, USD; then the actions by kind. */
export function formatOrchestration(
  r: Pick<CostReport, 'orchestration' | 'actions' | 'actionCounts' | 'actionsPerQuery' | 'orchestrationUsd'>,
): string[] {
  if (r.orchestration === null) return ['orchestration: not counted'];
  const o = r.orchestration;
  const table = formatTextTable(
    [
      ['orchestration', 'workflows', 'actions', 'actions/query', 'USD/action', 'USD'],
      [
        o.pricing,
        String(o.workflows),
        String(r.actions),
        r.actionsPerQuery === null ? null : r.actionsPerQuery.toFixed(2),
        o.usdPerAction.toPrecision(3),
        usd(r.orchestrationUsd),
      ],
    ],
    { leftColumns: 1 },
  );
  const kinds = (Object.keys(ACTION_KIND_NAMES) as (keyof ActionCounts)[])
    .map((k) => `${r.actionCounts[k]} ${ACTION_KIND_NAMES[k]}`)
    .join(', ');
  return [table, `actions by kind: ${kinds}`];
}

/** The table `serflow cost` prints. */
export function formatCostReport(r: CostReport): string {
  const period = r.since === null ? 'everything recorded' : `since ${new Date(r.since).toISOString()}`;
  /** `part` of the whole bill as a bar and a percentage. */
  const share = (part: number) => (r.totalUsd > 0 ? `${costBar(part / r.totalUsd)} ${pct(part / r.totalUsd)}` : '-');
  const lines = [
    `cost of ${r.model ?? 'all models'}, ${period}, to ${new Date(r.now).toISOString()} (cloud time, USD)`,
  ];
  const header = [
    'model',
    'stage',
    'vm USD',
    'faas USD',
    'orch USD',
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
    '', // orchestration is per query, not per stage: its own row below
    usd(s.totalUsd),
    share(s.totalUsd),
    String(s.vmSeconds),
    `${s.faasInvocations} (${s.faasColdStarts} cold${s.faasThrottled ? `, ${s.faasThrottled} throttled` : ''})`,
    s.faasBilledGbSeconds.toFixed(3),
    `${s.executions.vm}/${s.executions.faas}`,
  ]);
  if (r.orchestration !== null) {
    rows.push([
      'orchestration',
      '',
      '',
      '',
      usd(r.orchestrationUsd),
      usd(r.orchestrationUsd),
      share(r.orchestrationUsd),
      // its actions and the price are in the orchestration table below
    ]);
  }
  rows.push([
    'total',
    '',
    usd(r.vmUsd),
    usd(r.faasUsd),
    usd(r.orchestrationUsd),
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
  lines.push(...formatOrchestration(r));

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
  const unended = r.vms.filter((v) => v.unended);
  if (unended.length > 0) {
    // Its provider died with it: billed to its last liveness plus one interval, not to now; worth a look.
    lines.push(
      `WARNING: ${unended.length} VM(s) with no end fact and no recent liveness, billed to their last liveness ` +
        '+ one interval (flagged unended):',
    );
    for (const v of unended) {
      lines.push(
        `  ${v.vmId} (${v.model} stage ${v.stage}): last alive ${v.lastAliveAt === null ? '-' : new Date(v.lastAliveAt).toISOString()}, ` +
          `billed ${v.billedSeconds} s, ${usd(v.usd)} USD`,
      );
    }
  }
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
      'what the stack has cost: VMs and functions per stage, Temporal actions (orchestration), per 1,000 queries, ' +
        'SLO attainment, idle VM time',
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
