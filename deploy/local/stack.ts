/**
 * The embedded default stack: a Temporal dev server (SQLite file under the data dir, Web UI on), a
 * `nats-server -js`, the inference-workflow worker and one worker process per stage pool of each model.
 * With `temporal.address` / `nats.url` configured (TEMPORAL_ADDRESS / NATS_URL), those servers are used instead
 * and only the workers are started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NatsConnection } from 'nats';
import { initialVmsPerStage, type SerflowConfig } from '../../common/config';
import {
  CLOUD_AGENT_QUEUE,
  INFERENCE_TASK_QUEUE,
  WHOLE_MODEL_STAGE,
  stageTaskQueue,
  wholeModelQueue,
} from '../../common/naming';
import { connectNats, ensureNatsResources } from '../../infra/nats';
import { splitNatsUrl } from '../../infra/nats-auth';
import { retryUntil } from '../../infra/retry';
import { connectClientConnection, describeTemporalConnection, ensureSearchAttributes } from '../../infra/temporal';
import { loadTemporalProfile } from '../../common/temporal-profile';
import { loadManifest } from '../../models/manifest';
import { readSupervision, type StackInfo } from '../../infra/stack-state';
import { listWorkers } from '../../infra/worker-status';
import type { PolicyName } from '../../autoscaler/types';
import { callPoolsApi } from '../../infra/pools-api';
import {
  CHILD_MAIN_SCRIPT,
  configureLogRotation,
  freePort,
  REAPER_MAIN_SCRIPT,
  restartBackoff,
  spawnManaged,
  SUPERVISOR_MAIN_SCRIPT,
  stopPid,
  tailLog,
  type ManagedProcess,
} from './processes';
import { startNatsServer } from './nats-server';
import { startTemporalDevServer } from './temporal-server';

export interface StackOptions {
  config: SerflowConfig;
  /** Models whose stage pools get workers. @default [config.defaultModel] */
  models?: string[];
  /** Start worker processes (false: servers only). @default true */
  workers?: boolean;
  /** Autoscaler policy to run for every model, or 'off' (static routing, pools as started). @default 'off' */
  autoscaler?: PolicyName | 'off';
  /** Children survive this process (for `serflow up --detach`). @default false */
  detached?: boolean;
  /** Where SQLite, the JetStream store and logs go. @default `<homeDir>/data` */
  dataDir?: string;
  /** Called with one line per step, for progress output. */
  onProgress?: (line: string) => void;
  /** How long to wait for each component to become ready. @default 60000 */
  readyTimeoutMs?: number;
  /** Called with the updated info when a crashed worker process was restarted (new pid, restart count). */
  onRestart?: (info: StackInfo) => void;
}

export interface RunningStack {
  info: StackInfo;
  processes: ManagedProcess[];
  /** Ask the cloud agent for `vms` VMs on a stage pool (0: the whole-model pool) and wait until they poll. */
  scaleStage(model: string, stage: number, vms: number): Promise<void>;
  /** Stop workers (they drain in-flight work), then the servers this stack started. */
  stop(): Promise<void>;
}

/** Default wait for a component to become ready; Temporal's first start (SQLite schema setup) takes a few seconds. */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** The restart backoff of crashed worker processes (its one home is processes.ts `restartBackoff`). */
export { RESTART_BASE_DELAY_MS, RESTART_MAX_DELAY_MS, RESTART_RESET_AFTER_MS } from './processes';

function workerScript(): string {
  if (!fs.existsSync(CHILD_MAIN_SCRIPT))
    throw new Error(`${CHILD_MAIN_SCRIPT} is missing: run \`npm run build\` first`);
  return CHILD_MAIN_SCRIPT;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const { config } = options;
  const log = options.onProgress ?? (() => undefined);
  const timeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const dataDir = options.dataDir ?? path.join(config.homeDir, 'data');
  const logDir = path.join(dataDir, 'logs');
  // Every child's log rotates by size (config `logs`): here while this process runs, in a detached child by itself.
  configureLogRotation(config.logs);
  const models = options.models ?? [config.defaultModel];
  const manifests = models.map((m) => loadManifest(m, config.modelsDir));
  fs.mkdirSync(dataDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const roles = new Map<ManagedProcess, 'temporal' | 'nats' | 'worker'>();
  /** Pids of the worker processes, for the servers' watchdog (reaper-main.ts). */
  const workerPidsFile = path.join(dataDir, 'worker-pids.json');
  const writeWorkerPids = () =>
    fs.writeFileSync(
      workerPidsFile,
      JSON.stringify(processes.filter((p) => roles.get(p) === 'worker').map((p) => p.pid)),
    );
  const track = (p: ManagedProcess, role: 'temporal' | 'nats' | 'worker') => {
    processes.push(p);
    roles.set(p, role);
    // Only an attached stack has the watchdog that reads it.
    if (role === 'worker' && !options.detached) writeWorkerPids();
    return p;
  };
  let nc: NatsConnection | undefined;
  let stopping = false;
  const restarts = new Map<string, number>();
  let info: StackInfo | undefined;
  const describeProcesses = () =>
    processes.map((p) => ({
      name: p.name,
      pid: p.pid,
      logFile: p.logFile,
      role: roles.get(p)!,
      ...(restarts.has(p.name) ? { restarts: restarts.get(p.name)! } : {}),
    }));

  /**
   * Keep a worker process running: when it exits while the stack is up, start it again after a backoff and put the
   * new process in its place (stop() then stops that one). Only attached stacks: a detached stack has no parent
   * left, so each of its workers runs under its own supervisor process (supervisor-main.ts), same rule.
   */
  const supervise = (first: ManagedProcess, respawn: () => ManagedProcess) => {
    const nextDelay = restartBackoff();
    const watch = (p: ManagedProcess) => {
      const startedAt = Date.now();
      void p.exited.then((code) => {
        if (stopping) return;
        const delay = nextDelay(Date.now() - startedAt);
        log(`${p.name} (pid ${p.pid}) exited with ${code}: restarting it in ${delay} ms (see ${p.logFile})`);
        setTimeout(() => {
          if (stopping) return;
          let next: ManagedProcess;
          try {
            next = respawn();
          } catch (err) {
            log(`${p.name} could not be restarted: ${(err as Error).message}`);
            watch(p);
            return;
          }
          processes[processes.indexOf(p)] = next;
          roles.set(next, roles.get(p)!);
          writeWorkerPids(); // supervise() runs in attached stacks only
          restarts.set(p.name, (restarts.get(p.name) ?? 0) + 1);
          if (info) {
            info.processes = describeProcesses();
            options.onRestart?.(info);
          }
          watch(next);
        }, delay).unref();
      });
    };
    watch(first);
  };

  const stop = async () => {
    stopping = true;
    await nc?.close().catch(() => undefined);
    const workers = processes.filter((p) => roles.get(p) === 'worker');
    await Promise.all(workers.map((p) => stopPid(p.pid)));
    await Promise.all(processes.filter((p) => roles.get(p) !== 'worker').map((p) => stopPid(p.pid)));
  };

  try {
    // Credentials in a configured URL stay out of command lines, logs and the state file: children get them in
    // their environment (infra/nats-auth.ts).
    const configuredNats = config.nats.url ? splitNatsUrl(config.nats.url) : undefined;
    let natsUrl = configuredNats?.url;
    if (!natsUrl) {
      const port = config.nats.port || (await freePort());
      const storeDir = path.join(dataDir, 'jetstream');
      log(`starting nats-server -js on 127.0.0.1:${port} (store ${storeDir})`);
      const server = await startNatsServer({
        port,
        storeDir,
        logDir,
        detached: options.detached,
        clientName: 'serflow-stack',
        readyTimeoutMs: timeoutMs,
      });
      track(server.process, 'nats');
      natsUrl = server.url;
      nc = server.nc;
    } else {
      log(`using NATS at ${natsUrl}`);
      nc = await connectNats(config.nats.url!, 'serflow-stack');
    }
    await ensureNatsResources(nc, config);

    // Temporal's TLS settings and API key (TEMPORAL_* variables, TEMPORAL_PROFILE) stay in the environment, which
    // the children inherit: none of them goes on a command line, in a log line or in the state file.
    let temporalAddress = config.temporal.address;
    let temporalUiUrl: string | null = null;
    if (!temporalAddress) {
      const profile = loadTemporalProfile(); // a bad TEMPORAL_* setting fails here, naming it
      if (profile.apiKey !== undefined || (profile.tls && profile.tls.disabled !== true)) {
        log('TEMPORAL_* TLS settings / API key given without a Temporal address: the embedded dev server has no TLS');
      }
      const server = await startTemporalDevServer({
        port: config.temporal.port,
        uiPort: config.temporal.uiPort,
        dbFile: path.join(dataDir, 'temporal.sqlite'),
        namespace: config.temporal.namespace,
        dynamicConfig: config.temporal.devServerDynamicConfig,
        logDir,
        detached: options.detached,
        readyTimeoutMs: timeoutMs,
        log,
      });
      track(server.process, 'temporal');
      temporalAddress = server.address;
      temporalUiUrl = server.uiUrl;
    } else {
      const target = { address: temporalAddress, embedded: false };
      log(`using Temporal at ${describeTemporalConnection(target)} (namespace ${config.temporal.namespace})`);
      const conn = await connectClientConnection(target, timeoutMs);
      try {
        await ensureSearchAttributes(conn, config.temporal.namespace);
      } finally {
        await conn.close();
      }
    }

    // Servers follow this process's death like the workers do (detached stacks outlive it by design): a watchdog
    // stops them once the workers listed in `workerPidsFile` (kept current below) have drained.
    const servers = processes.filter((p) => roles.get(p) !== 'worker');
    if (!options.detached && servers.length) {
      spawnManaged({
        name: 'server-reaper',
        command: process.execPath,
        args: [REAPER_MAIN_SCRIPT, String(process.pid), workerPidsFile, ...servers.map((p) => String(p.pid))],
        logDir,
      });
    }

    const address = temporalAddress;
    const url = natsUrl;
    const spawnWorkerProcess = (name: string, args: string[]) =>
      spawnManaged({
        name,
        command: process.execPath,
        // Attached children follow this process's death (and are restarted by supervise()); detached ones
        // (`up --detach`) outlive it by design, each under a supervisor that restarts it and follows it.
        args: options.detached
          ? [
              SUPERVISOR_MAIN_SCRIPT,
              '--data-dir',
              dataDir,
              '--name',
              name,
              '--',
              workerScript(),
              ...args,
              '--temporal',
              address,
              '--nats',
              url,
            ]
          : [workerScript(), ...args, '--temporal', address, '--nats', url, '--parent-pid', String(process.pid)],
        logDir,
        detached: options.detached,
        env: {
          // The configuration without the URL's credentials, which go in the variables infra/nats-auth.ts reads.
          SERFLOW_CONFIG_JSON: JSON.stringify({ ...config, nats: { ...config.nats, url: configuredNats?.url } }),
          ...configuredNats?.env,
        },
      });
    const spawnWorker = (name: string, args: string[]) => {
      const p = track(spawnWorkerProcess(name, args), 'worker');
      if (!options.detached) supervise(p, () => spawnWorkerProcess(name, args));
      return p;
    };
    /** Wait until each task queue has at least the given number of running workers. */
    const waitForQueues = (want: Map<string, number>) =>
      retryUntil('worker processes', timeoutMs, async () => {
        const running = (await listWorkers(nc!)).filter((w) => w.state === 'running');
        const missing = [...want].filter(([q, n]) => running.filter((w) => w.taskQueue === q).length < n);
        if (missing.length) throw new Error(`waiting for ${missing.map(([q, n]) => `${n} on ${q}`).join(', ')}`);
      });
    const scaleStage = async (model: string, stage: number, vms: number) => {
      await callPoolsApi(nc!, { op: 'scale', model, stage, vms });
      const queue = stage === WHOLE_MODEL_STAGE ? wholeModelQueue(model, 'vm') : stageTaskQueue(model, stage);
      await waitForQueues(new Map([[queue, vms]]));
    };

    if (options.workers ?? true) {
      const started = [
        spawnWorker(`worker-${INFERENCE_TASK_QUEUE}`, ['workflow']),
        spawnWorker('cloud-agent', [
          'cloud-agent',
          '--models',
          models.join(','),
          '--log-dir',
          logDir,
          '--initial-vms',
          String(initialVmsPerStage(config, (options.autoscaler ?? 'off') !== 'off')),
        ]),
      ];
      const want = new Map<string, number>([
        [INFERENCE_TASK_QUEUE, 1],
        [CLOUD_AGENT_QUEUE, 1],
      ]);
      const policy = options.autoscaler ?? 'off';
      const initialVms = initialVmsPerStage(config, policy !== 'off');
      if (policy !== 'off') {
        for (const m of models) {
          started.push(spawnWorker(`autoscaler-${m}`, ['autoscaler', '--model', m, '--policy', policy]));
          want.set(`serflow.autoscaler.${m}`, 1);
        }
      }
      for (const m of manifests) {
        for (let k = 1; k <= m.stages.length; k++) want.set(stageTaskQueue(m.name, k), initialVms);
      }
      const vmCount = manifests.reduce((n, m) => n + m.stages.length * initialVms, 0);
      log(`starting the workflow worker and the cloud agent, which launches ${vmCount} VMs (stage workers)`);
      await waitForQueues(want).catch((err: Error) => {
        // A detached worker that crashed is being restarted by its supervisor, which stays up.
        const dead = started.filter(
          (p) => p.child.exitCode !== null || readSupervision(dataDir, p.name)?.lastExit !== undefined,
        );
        const detail = dead.map((p) => `--- ${p.logFile} ---\n${tailLog(p.logFile)}`).join('\n');
        throw new Error(`${err.message}${detail ? `\n${detail}` : ''}`, { cause: err });
      });
    }

    info = {
      temporalAddress,
      temporalUiUrl,
      namespace: config.temporal.namespace,
      natsUrl,
      embeddedTemporal: !config.temporal.address,
      embeddedNats: !config.nats.url,
      dataDir,
      models,
      processes: describeProcesses(),
      startedAt: new Date().toISOString(),
    };
    log('stack ready');
    return { info, processes, scaleStage, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Stop `stack` on Ctrl-C / SIGTERM (workers drain, servers stop), then exit with 130. For a command that owns a
 * stack while it runs; returns the function that removes the handlers once the command has stopped it itself.
 */
export function stopStackOnSignal(stack: RunningStack, log: (line: string) => void): () => void {
  const onSignal = () => {
    log('interrupted: stopping the stack');
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
