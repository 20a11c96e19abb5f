/**
 * Liveness and load record each worker process keeps in the `serflow-workers` KV bucket, refreshed every
 * `heartbeatMs` and expiring when the process stops refreshing it. `serflow status` and the stack's readiness
 * check read these records; the event-loop delay figures show whether inference keeps the pollers responsive.
 */
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { KV, NatsConnection } from 'nats';
import { WORKERS_BUCKET, type Backend } from '../common/naming';
import { log } from './logger';

/** Lifecycle of a worker process: polling (`running`), or finishing in-flight work before exit (`draining`). */
export type WorkerState = 'starting' | 'running' | 'draining';

export interface WorkerRecord {
  v: 1;
  id: string;
  role: 'workflow' | 'stage' | 'agent' | 'autoscaler';
  model?: string;
  stage?: number;
  backend?: Backend;
  taskQueue: string;
  pid: number;
  host: string;
  state: WorkerState;
  startedAt: number;
  updatedAt: number;
  slots: number;
  inFlight: number;
  completed: number;
  failed: number;
  /** The process's Prometheus endpoint (infra/metrics-server.ts), when it serves one. */
  metricsUrl?: string;
  /** Event-loop delay of the process's main thread since the previous record, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** Counters the activity wrapper updates. */
export interface WorkerCounters {
  inFlight: number;
  completed: number;
  failed: number;
}

export function workerId(role: string, taskQueue: string): string {
  return `${os.hostname()}.${process.pid}.${role}.${taskQueue}`.replace(/[^A-Za-z0-9_=.-]/g, '_');
}

/**
 * Keeps this process's record fresh until `stop()`, which deletes it. A failed refresh (NATS away) is logged once and
 * tried again at the next heartbeat, after `repair` (which re-creates the bucket: it is in memory, so a restarted
 * nats-server comes back without it); it never stops the process.
 */
export async function startWorkerStatus(
  nc: NatsConnection,
  base: Omit<
    WorkerRecord,
    | 'v'
    | 'state'
    | 'updatedAt'
    | 'inFlight'
    | 'completed'
    | 'failed'
    | 'eventLoopDelayMs'
    | 'pid'
    | 'host'
    | 'startedAt'
  >,
  counters: WorkerCounters,
  heartbeatMs: number,
  repair?: () => Promise<unknown>,
): Promise<{ setState(state: WorkerState): Promise<void>; stop(): Promise<void> }> {
  const kv: KV = await nc.jetstream().views.kv(WORKERS_BUCKET);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const startedAt = Date.now();
  let state: WorkerState = 'starting';
  const put = async () => {
    const record: WorkerRecord = {
      v: 1,
      ...base,
      pid: process.pid,
      host: os.hostname(),
      state,
      startedAt,
      updatedAt: Date.now(),
      ...counters,
      eventLoopDelayMs: {
        p50: delay.percentile(50) / 1e6,
        p99: delay.percentile(99) / 1e6,
        max: delay.max / 1e6,
      },
    };
    delay.reset();
    await kv.put(base.id, JSON.stringify(record));
  };
  await put();
  let failing = false;
  const beat = async () => {
    try {
      if (failing && repair) await repair();
      await put();
      if (failing) log().info({ worker: base.id }, 'worker status refreshed again');
      failing = false;
    } catch (err) {
      if (!failing) log().warn({ worker: base.id, err }, 'worker status not refreshed; retrying');
      failing = true;
    }
  };
  const timer = setInterval(() => void beat(), heartbeatMs);
  return {
    async setState(next) {
      state = next;
      await put();
    },
    async stop() {
      clearInterval(timer);
      delay.disable();
      await kv.delete(base.id).catch(() => undefined);
    },
  };
}

/** All live worker records. */
export async function listWorkers(nc: NatsConnection): Promise<WorkerRecord[]> {
  const kv = await nc.jetstream().views.kv(WORKERS_BUCKET);
  // Collect the keys first: awaiting a get inside the keys() iteration ends that iteration early (nats.js 2.x).
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  const out: WorkerRecord[] = [];
  for (const key of keys) {
    const e = await kv.get(key);
    if (e && e.operation === 'PUT') out.push(e.json<WorkerRecord>());
  }
  return out.sort((a, b) => a.taskQueue.localeCompare(b.taskQueue) || a.pid - b.pid);
}
