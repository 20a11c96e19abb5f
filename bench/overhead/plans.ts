/**
 * Step 5, against the engine's own floor: on the same stack and in the same run, the floor (a no-op workflow
 * running one no-op activity on its own task queue, floor-workflow.ts) and each routing plan of the pipeline
 * (every stage on its own VM pool, one whole-model VM, every stage serverless), each measured the same way:
 * Temporal actions per query counted from workflow histories, latency at concurrency 1, throughput and CPU per
 * query per process at the highest concurrency, each also as a ratio to the floor's.
 */
import * as path from 'node:path';
import type { NatsConnection } from 'nats';
import { totalActions, addActions, NO_ACTIONS, type ActionCounts } from '../../billing/actions';
import { actionsFromHistory } from '../../billing/history-actions';
import type { SerflowClient } from '../../client';
import { inferenceWorkflowId } from '../../common/naming';
import type { SerflowConfig } from '../../common/config';
import { planFromSpec, validateRoutingPlan, type RoutingPlan } from '../../common/routing';
import { summarizeLatency, type LatencySummary } from '../../common/stats';
import { spawnManaged, stopPid, tailLog, type ManagedProcess } from '../../deploy/local/processes';
import type { RunningStack } from '../../deploy/local/stack';
import { createRoutingStore } from '../../infra/routing-store';
import { cpuPerQuery, cpuSnapshot } from './cpu';
import { floorWorkflow, FLOOR_WORKFLOW_QUEUE } from './floor-workflow';
import { round } from './round';
import { serflowPlanFor } from './serflow-plan';

/**
 * What step 5 measures: the floor and the pipeline under each plan. `whole-model-vm` runs every query as one fused
 * activity on the whole-model VM; `serflow` is what the SERFLOW policy decides for the load this run measured
 * (serflow-plan.ts).
 */
export const PLANS = ['per-stage-vm', 'whole-model-vm', 'all-serverless', 'serflow'] as const;
export type PlanName = (typeof PLANS)[number];

/** Wall ms between publishing a plan and the first query that must use it (the workflow worker's KV watch). */
const PLAN_SETTLE_MS = 1_000;
/** How long the floor worker gets to bundle its workflow and start polling. */
const FLOOR_READY_TIMEOUT_MS = 60_000;

export interface PlanMeasure {
  name: 'floor' | PlanName;
  /** The routing the plan published (a `serflow route set` spec, or the SERFLOW decision's plan and pools). */
  routing?: string;
  /** Mean Temporal actions per query, counted from `historyQueries` histories, total and per kind. */
  actionsPerQuery: number | null;
  actionCounts: ActionCounts | null;
  historyQueries: number;
  /** Concurrency 1: `queries` queries one after the other. */
  sequential: { queries: number; failed: number; latencyMs: LatencySummary };
  /** Closed loop at the highest concurrency for the run's duration. */
  loaded: {
    concurrency: number;
    queries: number;
    failed: number;
    qps: number;
    latencyMs: LatencySummary;
    cpu: ReturnType<typeof cpuPerQuery> | null;
  };
  /** This plan's figures over the floor's: latency p50 at c = 1, throughput and total CPU per query loaded. */
  ratioToFloor?: { p50: number | null; qps: number | null; cpuPerQuery: number | null };
}

interface Outcome {
  ok: boolean;
  latencyMs: number;
  workflowId?: string;
}

/** One query of a measure: runs it and says how it went and which workflow it was. */
type Call = () => Promise<Outcome>;

export interface PlanPhaseOptions {
  config: SerflowConfig;
  /** Queries/s the pipeline sustained earlier in this run at the highest concurrency: the load `serflow` plans for. */
  loadQps: number;
  stack: RunningStack;
  client: SerflowClient;
  nc: NatsConnection;
  model: string;
  stages: number;
  images: Float32Array[];
  threshold: number;
  plans: readonly PlanName[];
  sequentialQueries: number;
  concurrency: number;
  durationS: number;
  historySamples: number;
  warmup: number;
  logDir: string;
  log: (line: string) => void;
}

/** Start the floor's worker process beside the stack; resolves once it polls both of its queues. */
async function startFloorWorker(o: PlanPhaseOptions): Promise<ManagedProcess> {
  const script = path.join(__dirname, 'floor-worker.js');
  const proc = spawnManaged({
    name: 'floor-worker',
    command: process.execPath,
    args: [script, '--temporal', o.stack.info.temporalAddress, '--namespace', o.stack.info.namespace],
    logDir: o.logDir,
  });
  const deadline = Date.now() + FLOOR_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (/^ready$/m.test(tailLog(proc.logFile, 5))) return proc;
    const exited = await Promise.race([proc.exited, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
    if (exited !== null) throw new Error(`floor worker exited (${exited}):\n${tailLog(proc.logFile)}`);
  }
  await stopPid(proc.pid);
  throw new Error(`floor worker not ready after ${FLOOR_READY_TIMEOUT_MS} ms:\n${tailLog(proc.logFile)}`);
}

async function closedLoop(concurrency: number, until: () => boolean, call: Call): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (until()) outcomes.push(await call());
    }),
  );
  return outcomes;
}

async function timed(run: () => Promise<string>): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const workflowId = await run();
    return { ok: true, latencyMs: performance.now() - t0, workflowId };
  } catch {
    return { ok: false, latencyMs: performance.now() - t0 };
  }
}

/** Mean actions per query over the histories of `workflowIds`. */
async function countActions(client: SerflowClient, workflowIds: string[]) {
  let sum: ActionCounts = { ...NO_ACTIONS };
  for (const id of workflowIds) {
    sum = addActions(sum, actionsFromHistory(await client.temporal.workflow.getHandle(id).fetchHistory()));
  }
  const n = workflowIds.length;
  if (n === 0) return { actionsPerQuery: null, actionCounts: null };
  const perQuery = (v: number) => Math.round((v / n) * 1000) / 1000;
  const mean = Object.fromEntries(
    (Object.entries(sum) as [keyof ActionCounts, number][]).map(([k, v]) => [k, perQuery(v)]),
  ) as unknown as ActionCounts;
  return { actionsPerQuery: round(totalActions(sum) / n, 3), actionCounts: mean };
}

async function measure(
  name: PlanMeasure['name'],
  call: Call,
  o: PlanPhaseOptions,
  processes: { pid: number }[],
): Promise<PlanMeasure> {
  for (let i = 0; i < o.warmup; i++) await call();
  let left = o.sequentialQueries;
  const seq = await closedLoop(1, () => left-- > 0, call);
  const okSeq = seq.filter((s) => s.ok);
  o.log(`${name}: c=1 ${okSeq.length}/${seq.length} ok, p50 ${summarizeLatency(okSeq.map((s) => s.latencyMs)).p50} ms`);
  const before = cpuSnapshot(processes);
  const t0 = performance.now();
  const deadline = t0 + o.durationS * 1000;
  const loaded = await closedLoop(o.concurrency, () => performance.now() < deadline, call);
  const wallMs = performance.now() - t0;
  const after = cpuSnapshot(processes);
  const okLoaded = loaded.filter((s) => s.ok);
  const qps = round(okLoaded.length / (wallMs / 1000), 1) ?? 0;
  o.log(`${name}: c=${o.concurrency} ${qps} q/s, ${loaded.length - okLoaded.length} failed`);
  const ids = okSeq.flatMap((s) => (s.workflowId ? [s.workflowId] : [])).slice(-o.historySamples);
  return {
    name,
    ...(await countActions(o.client, ids)),
    historyQueries: ids.length,
    sequential: {
      queries: seq.length,
      failed: seq.length - okSeq.length,
      latencyMs: summarizeLatency(okSeq.map((s) => s.latencyMs)),
    },
    loaded: {
      concurrency: o.concurrency,
      queries: loaded.length,
      failed: loaded.length - okLoaded.length,
      qps,
      latencyMs: summarizeLatency(okLoaded.map((s) => s.latencyMs)),
      cpu: process.platform === 'linux' ? cpuPerQuery(before, after, loaded.length, wallMs) : null,
    },
  };
}

/** Publish `plan` for the model and let the workflow worker see it. */
async function publishPlan(o: PlanPhaseOptions, plan: RoutingPlan): Promise<void> {
  const store = await createRoutingStore(o.nc);
  try {
    await store.put(validateRoutingPlan(plan, o.stages));
  } finally {
    store.close();
  }
  await new Promise((r) => setTimeout(r, PLAN_SETTLE_MS));
}

/** Put the stack in `plan`: the pools it needs and the routing plan that sends the stages there; says which. */
async function enterPlan(o: PlanPhaseOptions, plan: PlanName): Promise<string> {
  const stageNumbers = Array.from({ length: o.stages }, (_, i) => i + 1);
  const scale = async (whole: number, perStage: (k: number) => number) => {
    await o.stack.scaleStage(o.model, 0, whole);
    for (const k of stageNumbers) await o.stack.scaleStage(o.model, k, perStage(k));
  };
  const fromSpec = async (spec: string) => {
    await publishPlan(o, planFromSpec(spec, o.model, o.stages, Date.now()));
    return spec;
  };
  if (plan === 'per-stage-vm') {
    await scale(0, () => 1);
    return fromSpec('all-vm');
  }
  if (plan === 'whole-model-vm') {
    await scale(1, () => 0);
    return fromSpec(`all-vm+fuse:1-${o.stages}`);
  }
  if (plan === 'all-serverless') {
    await scale(0, () => 0);
    return fromSpec('all-faas');
  }
  const picked = serflowPlanFor(o.config, o.model, o.loadQps);
  const vmsOf = (stage: number) => picked.pools.find((p) => p.stage === stage)?.vms ?? 0;
  await scale(vmsOf(0), vmsOf);
  await publishPlan(o, picked.plan);
  const shares = picked.plan.stages.map((s) => s.vmShare).join(',');
  const fused = (picked.plan.fused ?? []).map((r) => `+fuse:${r.first}-${r.last}`).join('');
  return `SERFLOW at ${o.loadQps} q/s: shares:${shares}${fused}; VMs whole-model ${vmsOf(0)}, per stage ${stageNumbers.map(vmsOf).join(',')}`;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || !b ? null : round(a / b, 3);

/** Step 5: the floor, then each plan, with their ratios to the floor. */
export async function planPhase(o: PlanPhaseOptions): Promise<{ floor: PlanMeasure; plans: PlanMeasure[] }> {
  o.log('floor: starting the floor worker (no-op workflow, one no-op activity on its own queue)');
  const floorProc = await startFloorWorker(o);
  const processes = [...o.stack.info.processes, floorProc];
  try {
    let n = 0;
    const floorCall: Call = () =>
      timed(async () => {
        const workflowId = `serflow-floor-${Date.now()}-${n++}`;
        await o.client.temporal.workflow.execute(floorWorkflow, { taskQueue: FLOOR_WORKFLOW_QUEUE, workflowId });
        return workflowId;
      });
    const floor = await measure('floor', floorCall, o, processes);
    const plans: PlanMeasure[] = [];
    for (const plan of o.plans) {
      o.log(`${plan}: setting up`);
      const routing = await enterPlan(o, plan);
      o.log(`${plan}: ${routing}`);
      let i = 0;
      const call: Call = () =>
        timed(async () => {
          const result = await o.client.infer(o.images[i++ % o.images.length]!, {
            model: o.model,
            threshold: o.threshold,
          });
          return inferenceWorkflowId(o.model, result.queryId);
        });
      const m = { ...(await measure(plan, call, o, processes)), routing };
      m.ratioToFloor = {
        p50: ratio(m.sequential.latencyMs.p50, floor.sequential.latencyMs.p50),
        qps: ratio(m.loaded.qps, floor.loaded.qps),
        cpuPerQuery: ratio(m.loaded.cpu?.totalPerQueryMs, floor.loaded.cpu?.totalPerQueryMs),
      };
      plans.push(m);
    }
    return { floor, plans };
  } finally {
    await stopPid(floorProc.pid);
  }
}

/**
 * CPU ms one Temporal action costs the Temporal server and the workflow worker (self-hosted orchestration's
 * price, `orchestration.cpuMsPerAction`): their CPU per query under the per-stage plan, loaded, over its actions
 * per query. Null when either was not measured.
 */
export function cpuMsPerAction(plans: PlanMeasure[]): number | null {
  const m = plans.find((p) => p.name === 'per-stage-vm');
  const cpu = m?.loaded.cpu?.perQueryMs;
  if (!m?.actionsPerQuery || !cpu) return null;
  const server = cpu['temporal'] ?? null;
  const workflowWorker = cpu['workflow-worker'] ?? null;
  if (server === null || workflowWorker === null) return null;
  return round((server + workflowWorker) / m.actionsPerQuery, 3);
}
