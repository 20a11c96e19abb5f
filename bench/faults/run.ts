/**
 * One fault scenario, start to end: its own nats-server and Temporal dev server (free ports, a temp dir; the suite
 * starts them so that it can kill and restart them), a stack of workers against them with the autoscaler on, a
 * client process under steady open-loop load, one fault, then the accounting: the queries (tally.ts), the stage
 * events, and the ledger against ground truth (VM lives from /proc, invocations from the instances' own logs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { readBillingEvents, readStageEvents } from '../../billing/reader';
import { compileConfig, type SerflowConfig, type SerflowConfigInput } from '../../common/config';
import { inferenceWorkflowId } from '../../common/naming';
import { connectClientConnection } from '../../infra/temporal';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { startStack, type RunningStack } from '../../deploy/local/stack';
import { startTemporalDevServer, type StartedTemporalDevServer } from '../../deploy/local/temporal-server';
import { createSamplePicker } from '../../eval/workload/samples';
import { createDirectPipeline } from '../../models/runtime/direct-pipeline';
import { quantile } from '../../common/stats';
import { parseLoadLog, type LoggedQuery } from './load-log';
import { argValue, findProcesses, residentKb, watchLives } from './proc-watch';
import type { FaultScenario, FaultTarget } from './scenarios';
import { checkLedger, invocationsInLog, type LedgerCheck } from './truth';
import { tallyScenario, type DirectAnswer, type ScenarioTally, type WorkflowSeen } from './tally';

/** The load and timing of a run of the suite. */
export interface FaultLoad {
  /** Queries per second of the open loop. */
  rate: number;
  /** Seconds of load. */
  durationS: number;
  /** Seconds into the load the fault is injected. */
  faultAtS: number;
  /** Exit threshold of every query: high, so that many reach the serverless stages. */
  threshold: number;
}

export const DEFAULT_FAULT_LOAD: FaultLoad = { rate: 4, durationS: 30, faultAtS: 10, threshold: 0.99 };

/**
 * The stack every scenario runs: the product's defaults, except
 * - one VM per stage and a static plan that runs stages 1-2 on VMs and 3-4 serverless, so that VMs and function
 *   instances both serve (the autoscaler runs, observes and decides, but a static plan pins routing and pools);
 * - a lost stage attempt retried after 3 s and a replacement VM ready after 1 s, as in the integration tests;
 * - a query deadline of 2 min: the suite waits for every query, so none may wait 10 min.
 */
export const FAULT_STACK_CONFIG: SerflowConfigInput = {
  stages: { timeoutMs: 3_000 },
  vm: { bootDelayMs: 1_000, initialPerStage: 1 },
  routing: { plan: 'vm-prefix:2' },
  queries: { deadlineMs: 120_000 },
};

/** Time the publishers' outboxes get to flush after the load before the bill is read. */
const SETTLE_MS = 3_000;
/**
 * Longest wait for events and facts still in outboxes after that (their retry backoff grows to 10 s,
 * common/outbox.ts), read again every SETTLE_POLL_MS.
 */
const SETTLE_CEILING_MS = 30_000;
const SETTLE_POLL_MS = 2_000;

export interface ScenarioReport {
  name: string;
  fault: string;
  /** What was done, with the pid it was done to. */
  injected: string;
  load: FaultLoad;
  tally: ScenarioTally;
  ledger: LedgerCheck;
  /** Worker processes the stack restarted, by name. */
  restarts: Record<string, number>;
  /** Queries that completed within the load's duration, per second of it. */
  completedPerS: number;
  /** The stack's resident memory over the run, when sampled. */
  memory?: MemorySample[];
  /** Client-side latency of the queries due in each window of the same period, when memory is sampled. */
  windows?: LatencyWindow[];
  /** Scenario wall time, s. */
  wallS: number;
  /**
   * 0 lost, 0 answered twice, 0 hung, 0 wrong, every failure a named error, no duplicate or missing event, and the
   * ledger within tolerance.
   */
  pass: boolean;
  /** Where its logs were kept (a failing scenario keeps its directory). */
  keptDir?: string;
}

function spawnClient(dir: string, config: SerflowConfig, args: string[]): ChildProcess {
  const out = fs.openSync(path.join(dir, 'logs', 'client.log'), 'a');
  return spawn(process.execPath, [path.join(__dirname, 'load-main.js'), ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, SERFLOW_CONFIG_JSON: JSON.stringify(config) },
  });
}

/**
 * Resident memory of a run's processes: those whose arguments name its directory (servers, the stack's store and
 * logs) or its NATS URL (workers, VMs, function instances); its client is not the system under test.
 */
function stackMemory(dir: string, natsUrl: string): { rssMb: number; processes: number } {
  const mine = findProcesses((args) => {
    const line = args.join(' ');
    return (line.includes(dir) || line.includes(natsUrl)) && !line.includes('load-main');
  });
  const kb = mine.reduce((sum, p) => sum + (residentKb(p.pid) ?? 0), 0);
  return { rssMb: Math.round(kb / 102.4) / 10, processes: mine.length };
}

export interface LatencyWindow {
  /** Seconds since the load started (the window's start). */
  t: number;
  queries: number;
  failed: number;
  p50: number | null;
  p99: number | null;
}

/** Latency (end − due) of the queries due in each `periodMs` window since `start`. */
export function latencyWindows(queries: readonly LoggedQuery[], start: number, periodMs: number): LatencyWindow[] {
  const buckets = new Map<number, LoggedQuery[]>();
  for (const x of queries) {
    const k = Math.floor((x.dueAt - start) / periodMs);
    const bucket = buckets.get(k);
    if (bucket) bucket.push(x);
    else buckets.set(k, [x]);
  }
  return [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((k) => {
      const xs = buckets.get(k)!;
      const lat = xs.filter((x) => x.end?.ok).map((x) => x.end!.at - x.dueAt);
      return {
        t: (k * periodMs) / 1000,
        queries: xs.length,
        failed: xs.filter((x) => !x.end?.ok).length,
        p50: lat.length ? Math.round(quantile(lat, 0.5)) : null,
        p99: lat.length ? Math.round(quantile(lat, 0.99)) : null,
      };
    });
}

const exitOf = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => p.once('exit', () => resolve()));

/** Invocations the function instances of a stack logged (their log files, rotated ones included). */
function invocationsLogged(logDir: string): number {
  if (!fs.existsSync(logDir)) return 0;
  return fs
    .readdirSync(logDir)
    .filter((f) => f.startsWith('fn-'))
    .reduce((n, f) => n + invocationsInLog(fs.readFileSync(path.join(logDir, f), 'utf8')), 0);
}

async function listWorkflows(address: string, namespace: string): Promise<Map<string, WorkflowSeen>> {
  // The suite's own dev server: plaintext, and up again after a restart scenario (the connect retries).
  const connection = await connectClientConnection({ address, embedded: true });
  try {
    const client = new Client({ connection, namespace });
    const latest = new Map<string, { seen: WorkflowSeen; startedAt: number }>();
    for await (const w of client.workflow.list({ query: `WorkflowType = 'inferenceWorkflow'` })) {
      const prev = latest.get(w.workflowId);
      const startedAt = w.startTime.getTime();
      const runs = (prev?.seen.runs ?? 0) + 1;
      const status = !prev || startedAt >= prev.startedAt ? w.status.name : prev.seen.status;
      latest.set(w.workflowId, {
        seen: { workflowId: w.workflowId, runs, status },
        startedAt: Math.max(startedAt, prev?.startedAt ?? 0),
      });
    }
    return new Map([...latest].map(([id, x]) => [id, x.seen]));
  } finally {
    await connection.close();
  }
}

/** A run of the suite's stack under load: with a fault (a scenario) or without (the load and soak benchmark). */
export interface LoadRunOptions {
  /** The fault to inject at `load.faultAtS`; none: the load runs undisturbed. */
  scenario?: FaultScenario;
  /** Name of the run (the scenario's, or the load level's). */
  name: string;
  load: FaultLoad;
  /** Closed loop instead of open: this many clients, each starting its next query when the last one ended. */
  closedClients?: number;
  /** Sample the resident memory of the stack's processes this often (ms); none: not sampled. */
  memoryEveryMs?: number;
  log?: (line: string) => void;
}

/** Resident memory of the stack's processes (servers, workers, VMs, function instances) at one moment. */
export interface MemorySample {
  /** Seconds since the load started. */
  t: number;
  rssMb: number;
  processes: number;
}

export function runScenario(
  scenario: FaultScenario,
  load: FaultLoad = DEFAULT_FAULT_LOAD,
  log: (line: string) => void = () => undefined,
): Promise<ScenarioReport> {
  return runUnderLoad({ scenario, name: scenario.name, load, log });
}

export async function runUnderLoad(o: LoadRunOptions): Promise<ScenarioReport> {
  const { scenario, load } = o;
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `serflow-fault-${o.name}-`));
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const base = compileConfig({ ...FAULT_STACK_CONFIG, homeDir: dir });
  const natsPort = await freePort();
  const natsStore = path.join(dir, 'jetstream');
  const startNats = () =>
    startNatsServer({
      port: natsPort,
      storeDir: natsStore,
      logDir,
      clientName: 'serflow-faults',
      readyTimeoutMs: 60_000,
    });
  let nats: StartedNatsServer | undefined;
  let temporal: StartedTemporalDevServer | undefined;
  let stack: RunningStack | undefined;
  let client: ChildProcess | undefined;
  let watcher: ReturnType<typeof watchLives> | undefined;
  let pass = false;
  try {
    nats = await startNats();
    const startTemporal = (port: number, uiPort: number) =>
      startTemporalDevServer({
        port,
        uiPort,
        dbFile: path.join(dir, 'temporal.sqlite'),
        namespace: base.temporal.namespace,
        dynamicConfig: base.temporal.devServerDynamicConfig,
        logDir,
        readyTimeoutMs: 60_000,
      });
    temporal = await startTemporal(0, 0);
    const config = compileConfig({
      ...FAULT_STACK_CONFIG,
      homeDir: dir,
      temporal: { address: temporal.address },
      nats: { url: nats.url },
    });
    log(`${o.name}: starting the stack`);
    stack = await startStack({ config, dataDir: path.join(dir, 'data'), autoscaler: 'serflow' });
    const natsUrl = nats.url;
    watcher = watchLives((a) => (argValue(a, '--nats') === natsUrl ? argValue(a, '--vm-id') : undefined));

    const logFile = path.join(dir, 'client.jsonl');
    const prefix = `fault-${o.name}`;
    const clientArgs = ['--log', logFile, '--prefix', prefix, '--threshold', String(load.threshold)];
    const shape = o.closedClients ? ['--closed', String(o.closedClients)] : ['--rate', String(load.rate)];
    client = spawnClient(dir, config, [...clientArgs, ...shape, '--duration', String(load.durationS)]);
    const loadStart = Date.now();
    const memory: MemorySample[] = [];
    const sampler = o.memoryEveryMs
      ? setInterval(() => {
          const m = stackMemory(dir, natsUrl);
          memory.push({ t: Math.round((Date.now() - loadStart) / 100) / 10, ...m });
        }, o.memoryEveryMs)
      : undefined;
    const what = o.closedClients ? `${o.closedClients} closed-loop clients` : `${load.rate} q/s`;
    log(`${o.name}: ${what} for ${load.durationS} s${scenario ? `, fault at ${load.faultAtS} s` : ''}`);
    await new Promise((r) => setTimeout(r, (scenario ? load.faultAtS : load.durationS) * 1000));

    const running = stack;
    /** When the fault struck: set as the injection starts, or later by a fault that first waits for its moment. */
    let faultAt = 0;
    const target: FaultTarget = {
      model: config.defaultModel,
      nats: () => nats!.nc,
      stackPid: (name) => running.info.processes.find((p) => p.name === name)?.pid,
      async killClient() {
        // Killed with queries in flight (started, not answered), so that the new client has some to take over.
        const inFlight = () => parseLoadLog(fs.readFileSync(logFile, 'utf8')).open.filter((q) => q.startedAt !== null);
        for (const until = Date.now() + 10_000; inFlight().length === 0 && Date.now() < until;) {
          await new Promise((r) => setTimeout(r, 5));
        }
        const open = inFlight().length;
        const pid = client!.pid!;
        faultAt = Date.now();
        client!.kill('SIGKILL');
        await exitOf(client!);
        client = spawnClient(dir, config, [...clientArgs, '--resume']);
        return `kill -9 the client (pid ${pid}) with ${open} queries in flight; a new client (pid ${client.pid}) re-submits its open queries`;
      },
      async restartServer(which, outageMs) {
        if (which === 'nats') {
          const old = nats!;
          old.process.child.kill('SIGKILL');
          await old.process.exited;
          await old.nc.close().catch(() => undefined);
          await new Promise((r) => setTimeout(r, outageMs));
          nats = await startNats();
          return `kill -9 nats-server (pid ${old.process.pid}), started again after ${outageMs} ms (pid ${nats.process.pid})`;
        }
        const old = temporal!;
        old.process.child.kill('SIGKILL');
        await old.process.exited;
        await new Promise((r) => setTimeout(r, outageMs));
        temporal = await startTemporal(old.port, old.uiPort);
        return `kill -9 the Temporal server (pid ${old.process.pid}), started again after ${outageMs} ms (pid ${temporal.process.pid})`;
      },
    };
    faultAt = Date.now();
    const injected = scenario ? await scenario.inject(target) : 'none';
    if (scenario) log(`${o.name}: ${injected} at ${((faultAt - loadStart) / 1000).toFixed(1)} s`);

    // Every query ends by its deadline; the client waits for each, plus the time its retries may add.
    const ceilingMs = load.durationS * 1000 + config.queries.deadlineMs + 30_000;
    const ceiling = new Promise<'ceiling'>((r) => setTimeout(() => r('ceiling'), ceilingMs).unref());
    const ended = await Promise.race([exitOf(client).then(() => 'exited' as const), ceiling]);
    if (ended === 'ceiling') {
      log(`${o.name}: the client did not finish within ${ceilingMs} ms: stopping it`);
      client.kill('SIGKILL');
    }
    if (sampler) clearInterval(sampler);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const now = Date.now();
    const lives = watcher.stop();
    watcher = undefined;

    const workflows = await listWorkflows(temporal.address, config.temporal.namespace);
    const { queries } = parseLoadLog(fs.readFileSync(logFile, 'utf8'));
    const picker = createSamplePicker(config.defaultModel, config.modelsDir, 7);
    const pipeline = await createDirectPipeline(config.defaultModel, config.modelsDir);
    const direct = new Map<string, DirectAnswer>();
    try {
      for (const x of queries) {
        if (!x.end?.ok) continue;
        const d = await pipeline.run(picker.pick(x.n).image, load.threshold);
        direct.set(x.id, { label: d.label, exitStage: d.exitStage });
      }
    } finally {
      await pipeline.close();
    }
    // Events and facts held in the workers' outboxes through an outage arrive within their retry backoff: read
    // until the books are complete, or give up after SETTLE_CEILING_MS and report what is missing.
    const faasInvocations = invocationsLogged(path.join(dir, 'data', 'logs'));
    const account = async () => {
      const nc: NatsConnection = nats!.nc;
      const [billing, stageEvents] = [await readBillingEvents(nc), await readStageEvents(nc)];
      const tally = tallyScenario({
        queries,
        workflowIdOf: (id) => inferenceWorkflowId(config.defaultModel, id),
        workflows,
        events: stageEvents.events,
        direct,
        faultAt,
      });
      const ledger = checkLedger({
        config,
        billing: billing.events.filter((e) => e.at <= now), // the books as of `now`, as the lives are
        stages: stageEvents.events,
        lives,
        faasInvocations,
        now,
      });
      return { tally, ledger };
    };
    let { tally, ledger } = await account();
    for (const settleUntil = Date.now() + SETTLE_CEILING_MS; Date.now() < settleUntil;) {
      if (tally.missingEvents === 0 && ledger.within) break;
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      ({ tally, ledger } = await account());
    }
    const restarts = Object.fromEntries(
      stack.info.processes.filter((p) => p.restarts).map((p) => [p.name, p.restarts!]),
    );
    pass =
      tally.lost === 0 &&
      tally.hung === 0 &&
      tally.answeredTwice === 0 &&
      tally.wrongAnswers === 0 &&
      tally.failedUnnamed === 0 &&
      tally.duplicateEvents === 0 &&
      tally.missingEvents === 0 &&
      ledger.within;
    const completedInLoad = queries.filter((x) => x.end?.ok && x.end.at <= loadStart + load.durationS * 1000).length;
    return {
      name: o.name,
      fault: scenario?.fault ?? 'none',
      injected,
      completedPerS: Math.round((completedInLoad / load.durationS) * 100) / 100,
      ...(o.memoryEveryMs ? { memory, windows: latencyWindows(queries, loadStart, o.memoryEveryMs) } : {}),
      load,
      tally,
      ledger,
      restarts,
      wallS: Math.round((Date.now() - t0) / 100) / 10,
      pass,
      ...(pass ? {} : { keptDir: dir }),
    };
  } finally {
    watcher?.stop();
    if (client && client.exitCode === null && client.signalCode === null) client.kill('SIGKILL');
    await stack?.stop().catch(() => undefined);
    await nats?.nc.close().catch(() => undefined);
    await Promise.all([nats, temporal].filter((s) => s).map((s) => stopPid(s!.process.pid)));
    if (pass) fs.rmSync(dir, { recursive: true, force: true });
  }
}
