/** `serflow up`, `down`, `status`: run, stop and inspect the embedded stack. */
import { Connection } from '@temporalio/client';
import type { SerflowConfig } from '../common/config';
import { compileForModel } from '../autoscaler/service';
import { parsePolicy, type PolicyName } from '../autoscaler/types';
import { connectNats } from '../infra/nats';
import { temporalConnectionOptions } from '../infra/temporal';
import { isAlive, stopPid } from '../deploy/local/processes';
import { startStack, type RunningStack } from '../deploy/local/stack';
import {
  discoverStack,
  readStateFile,
  removeStateFile,
  stateFilePath,
  withSupervision,
  writeStateFile,
  type StackInfo,
} from '../infra/stack-state';
import { listWorkers, type WorkerRecord } from '../infra/worker-status';

const log = (line: string) => console.error(`[serflow] ${line}`);

/** Refuse to start a second stack over a recorded one that is still alive. */
function assertNoLiveStack(config: SerflowConfig): void {
  const state = readStateFile(config.homeDir);
  if (!state) return;
  const alive = state.processes.filter((p) => isAlive(p.pid));
  if (alive.length > 0) {
    throw new Error(
      `a stack is already running (pids ${alive.map((p) => p.pid).join(', ')}, recorded in ${stateFilePath(config.homeDir)}); ` +
        'stop it with `serflow down` first',
    );
  }
  removeStateFile(config.homeDir);
}

export function describeStack(info: StackInfo): string {
  return [
    `Temporal:    ${info.temporalAddress} (namespace ${info.namespace})${info.embeddedTemporal ? ' [embedded]' : ''}`,
    `Temporal UI: ${info.temporalUiUrl ?? '(external cluster: use its UI)'}`,
    `NATS:        ${info.natsUrl}${info.embeddedNats ? ' [embedded]' : ''}`,
    `models:      ${info.models.join(', ')}`,
    `data dir:    ${info.dataDir}`,
  ].join('\n');
}

export async function upCommand(
  config: SerflowConfig,
  opts: { detach?: boolean; models?: string[]; autoscaler?: PolicyName | 'off'; json?: boolean },
): Promise<void> {
  assertNoLiveStack(config);
  const autoscaler = opts.autoscaler ?? parsePolicy(config.autoscaler.policy as string | undefined) ?? 'serflow';
  // Fail here, with the field named, rather than in a background process.
  for (const m of opts.models ?? [config.defaultModel])
    if (autoscaler !== 'off') compileForModel(config, m, autoscaler);
  const stack: RunningStack = await startStack({
    config,
    models: opts.models,
    detached: opts.detach,
    autoscaler,
    onProgress: log,
    // `serflow status` and `down` read the state file: keep its pids and restart counts current.
    onRestart: (info) => writeStateFile(config.homeDir, info),
  });
  // --json: the stack's addresses and processes (the state file's content) as one JSON object on stdout.
  const stateFile = stateFilePath(config.homeDir);
  if (opts.detach) {
    writeStateFile(config.homeDir, stack.info);
    if (opts.json) console.log(JSON.stringify({ ...stack.info, stateFile }));
    else {
      console.log(describeStack(stack.info));
      console.log(`state: ${stateFile}; stop with \`serflow down\``);
    }
    process.exit(0);
  }
  writeStateFile(config.homeDir, stack.info);
  if (opts.json) {
    console.log(JSON.stringify({ ...stack.info, stateFile }));
    log('running; Ctrl-C stops everything');
  } else {
    console.log(describeStack(stack.info));
    console.log('running; Ctrl-C stops everything');
  }
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      log(`${sig}: stopping workers (draining), then servers`);
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await stack.stop();
  removeStateFile(config.homeDir);
  log('stopped');
}

export async function downCommand(config: SerflowConfig, opts: { json?: boolean } = {}): Promise<void> {
  const state = readStateFile(config.homeDir);
  const stateFile = stateFilePath(config.homeDir);
  if (!state) {
    console.log(
      opts.json
        ? JSON.stringify({ stopped: false, processes: [], stateFile })
        : `no stack recorded in ${stateFile}; nothing to stop`,
    );
    return;
  }
  const workers = state.processes.filter((p) => p.role === 'worker');
  const servers = state.processes.filter((p) => p.role !== 'worker');
  log(`stopping ${workers.length} workers, then ${servers.map((s) => s.name).join(' and ') || 'no servers'}`);
  await Promise.all(workers.map((p) => stopPid(p.pid)));
  await Promise.all(servers.map((p) => stopPid(p.pid)));
  removeStateFile(config.homeDir);
  console.log(
    opts.json
      ? JSON.stringify({
          stopped: true,
          processes: state.processes.map((p) => ({ name: p.name, pid: p.pid })),
          stateFile,
        })
      : 'stopped',
  );
}

export interface PoolStatus {
  taskQueue: string;
  role: WorkerRecord['role'];
  model?: string;
  stage?: number;
  backend?: string;
  workers: Pick<
    WorkerRecord,
    'id' | 'pid' | 'state' | 'slots' | 'inFlight' | 'completed' | 'failed' | 'eventLoopDelayMs' | 'metricsUrl'
  >[];
}

export interface StatusReport {
  running: boolean;
  temporalAddress: string | null;
  temporalUiUrl: string | null;
  temporalReachable: boolean;
  namespace: string;
  natsUrl: string | null;
  natsReachable: boolean;
  pools: PoolStatus[];
  processes: (StackInfo['processes'][number] & { alive: boolean })[];
  stateFile: string | null;
  /** Why the stack is not running (no address known, or which server does not answer); null when it runs. */
  problem: string | null;
}

/** What keeps a stack from running, from what `collectStatus` found; null when both servers answer. */
export function statusProblem(
  s: Pick<StatusReport, 'temporalAddress' | 'temporalReachable' | 'natsUrl' | 'natsReachable'>,
  stateFile: string,
): string | null {
  if (!s.temporalAddress && !s.natsUrl) {
    return (
      `no stack: no \`serflow up --detach\` stack recorded in ${stateFile} and no TEMPORAL_ADDRESS / NATS_URL set; ` +
      'start it with `serflow up --detach`'
    );
  }
  const down: string[] = [];
  if (!s.temporalAddress) down.push('no Temporal address (set TEMPORAL_ADDRESS)');
  else if (!s.temporalReachable) down.push(`Temporal at ${s.temporalAddress} does not answer`);
  if (!s.natsUrl) down.push('no NATS address (set NATS_URL)');
  else if (!s.natsReachable) down.push(`NATS at ${s.natsUrl} does not answer`);
  return down.length
    ? `stack is not running: ${down.join('; ')} (start it with \`serflow up --detach\`, or check the addresses)`
    : null;
}

export async function collectStatus(config: SerflowConfig): Promise<StatusReport> {
  const state = readStateFile(config.homeDir);
  // The addresses as every other command finds them: the configuration, else the state file.
  const stack = discoverStack(config);
  const temporalAddress = stack.temporalAddress ?? null;
  const natsUrl = stack.natsUrl ?? null;
  let temporalReachable = false;
  if (temporalAddress) {
    // Outside the try: a bad TEMPORAL_* setting is an error naming it, not an "unreachable" server.
    const options = temporalConnectionOptions({ address: temporalAddress, embedded: stack.temporalEmbedded === true });
    try {
      const conn = await Connection.connect({ ...options, connectTimeout: 2_000 });
      await conn.workflowService.getSystemInfo({});
      temporalReachable = true;
      await conn.close();
    } catch {
      temporalReachable = false;
    }
  }
  let natsReachable = false;
  const pools = new Map<string, PoolStatus>();
  if (natsUrl) {
    try {
      const nc = await connectNats(natsUrl, 'serflow-status', 2_000);
      natsReachable = true;
      try {
        for (const w of await listWorkers(nc)) {
          const pool = pools.get(w.taskQueue) ?? {
            taskQueue: w.taskQueue,
            role: w.role,
            model: w.model,
            stage: w.stage,
            backend: w.backend,
            workers: [],
          };
          pool.workers.push({
            id: w.id,
            pid: w.pid,
            state: w.state,
            slots: w.slots,
            inFlight: w.inFlight,
            completed: w.completed,
            failed: w.failed,
            eventLoopDelayMs: w.eventLoopDelayMs,
            // The process's Prometheus endpoint (`serflow metrics` lists every one, function instances too).
            ...(w.metricsUrl ? { metricsUrl: w.metricsUrl } : {}),
          });
          pools.set(w.taskQueue, pool);
        }
      } finally {
        await nc.close();
      }
    } catch {
      natsReachable = false;
    }
  }
  // A detached stack's workers run under supervisors (the recorded pids): their restarts are in supervision files.
  const processes = (state ? withSupervision(state) : []).map((p) => ({ ...p, alive: isAlive(p.pid) }));
  return {
    running: temporalReachable && natsReachable,
    temporalAddress,
    temporalUiUrl: state?.temporalUiUrl ?? null,
    temporalReachable,
    namespace: stack.namespace,
    natsUrl,
    natsReachable,
    pools: [...pools.values()],
    processes,
    stateFile: state ? stateFilePath(config.homeDir) : null,
    problem: statusProblem(
      { temporalAddress, temporalReachable, natsUrl, natsReachable },
      stateFilePath(config.homeDir),
    ),
  };
}

export function formatStatus(s: StatusReport): string {
  const lines = [
    `Temporal:    ${s.temporalAddress ?? '(none)'} ${s.temporalAddress ? (s.temporalReachable ? 'up' : 'UNREACHABLE') : ''}`,
    `Temporal UI: ${s.temporalUiUrl ?? '-'}`,
    `NATS:        ${s.natsUrl ?? '(none)'} ${s.natsUrl ? (s.natsReachable ? 'up' : 'UNREACHABLE') : ''}`,
    'pools:',
  ];
  if (s.pools.length === 0) lines.push('  (no live workers)');
  for (const p of s.pools) {
    const busy = p.workers.reduce((n, w) => n + w.inFlight, 0);
    const done = p.workers.reduce((n, w) => n + w.completed, 0);
    const lag = Math.max(...p.workers.map((w) => w.eventLoopDelayMs.p99));
    lines.push(
      `  ${p.taskQueue.padEnd(28)} ${String(p.workers.length).padStart(2)} worker(s)  in-flight ${busy}  completed ${done}  event-loop p99 ${lag.toFixed(1)} ms  [${p.workers.map((w) => `${w.pid}:${w.state}`).join(' ')}]`,
    );
  }
  if (s.processes.length) lines.push('processes:');
  for (const p of s.processes) {
    const restarts = p.restarts ? `  restarted ${p.restarts}×` : '';
    const worker = p.workerPid ? `  (worker pid ${p.workerPid})` : '';
    lines.push(
      `  ${p.name.padEnd(28)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'alive' : 'GONE'}${restarts}${worker}`,
    );
  }
  if (!s.running) lines.push(s.problem ?? 'stack is not running: start it with `serflow up --detach`');
  return lines.join('\n');
}
