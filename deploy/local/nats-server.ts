/** A nats-server with JetStream started as a child process of the embedded stack (or of the profiler). */
import type { NatsConnection } from 'nats';
import { connectNats } from '../../infra/nats';
import { retryUntil } from '../../infra/retry';
import { spawnManaged, stopPid, type ManagedProcess } from './processes';
import { resolveTool, TOOLS } from './tools';

export interface NatsServerOptions {
  port: number;
  /** JetStream store directory. */
  storeDir: string;
  logDir: string;
  /** Survive the parent's exit (for `serflow up --detach`). */
  detached?: boolean;
  /** Connection name of the returned client (shown by the server's monitoring). */
  clientName: string;
  /** How long the server gets to accept a connection. */
  readyTimeoutMs: number;
}

export interface StartedNatsServer {
  url: string;
  process: ManagedProcess;
  /** A client connected once the server accepted it. */
  nc: NatsConnection;
}

/**
 * Start `nats-server -js` on 127.0.0.1 and connect to it, retrying until it is up. If it never accepts a
 * connection, the process is stopped and the error names its log file.
 */
export async function startNatsServer(o: NatsServerOptions): Promise<StartedNatsServer> {
  const proc = spawnManaged({
    name: 'nats-server',
    command: resolveTool(TOOLS.natsServer),
    args: ['-js', '-a', '127.0.0.1', '-p', String(o.port), '-sd', o.storeDir],
    logDir: o.logDir,
    detached: o.detached,
  });
  const url = `nats://127.0.0.1:${o.port}`;
  try {
    const nc = await retryUntil(`nats-server (log: ${proc.logFile})`, o.readyTimeoutMs, () =>
      connectNats(url, o.clientName, 1_000),
    );
    return { url, process: proc, nc };
  } catch (err) {
    await stopPid(proc.pid);
    throw err;
  }
}
