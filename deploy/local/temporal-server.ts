/** The Temporal dev server (`temporal server start-dev`) as a child process of the embedded stack or a harness. */
import { connectClientConnection, searchAttributeArgs } from '../../infra/temporal';
import { freePort, spawnManaged, stopPid, tailLog, type ManagedProcess } from './processes';
import { resolveTool, TOOLS } from './tools';

export interface TemporalDevServerOptions {
  /** Frontend port; 0 = pick a free one (and pick again if it turns out taken). */
  port: number;
  /** Web UI port; 0 = pick a free one. */
  uiPort: number;
  /** SQLite file: the server's state survives a restart on the same file. */
  dbFile: string;
  namespace: string;
  /** `--dynamic-config-value` settings. */
  dynamicConfig: Record<string, string | number | boolean>;
  logDir: string;
  /** Survive the parent's exit (for `serflow up --detach`). */
  detached?: boolean;
  /** How long the server gets to answer its first call. */
  readyTimeoutMs: number;
  /** Called with one line per step. */
  log?: (line: string) => void;
}

export interface StartedTemporalDevServer {
  /** host:port of the frontend. */
  address: string;
  uiUrl: string;
  /** Ports it was given: a restart on the same ports and db file is the same server to its clients. */
  port: number;
  uiPort: number;
  process: ManagedProcess;
}

/** Starts of the dev server when the ports it was given turn out taken. */
export const TEMPORAL_START_ATTEMPTS = 3;

/**
 * Start the dev server on 127.0.0.1 and wait until it answers. A port `freePort` found free may be taken before the
 * server binds it (another process's connection got it): the server then exits at once, and with ports of our own
 * choosing it is started again on new ones. Any other failure stops the process and names its log.
 */
export async function startTemporalDevServer(o: TemporalDevServerOptions): Promise<StartedTemporalDevServer> {
  const bin = resolveTool(TOOLS.temporal);
  for (let attempt = 1; ; attempt++) {
    const port = o.port || (await freePort());
    const uiPort = o.uiPort || (await freePort());
    o.log?.(`starting temporal server start-dev on 127.0.0.1:${port} (UI :${uiPort}, db ${o.dbFile})`);
    const p = spawnManaged({
      name: 'temporal',
      command: bin,
      args: [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--db-filename',
        o.dbFile,
        '--namespace',
        o.namespace,
        '--log-level',
        'warn',
        // The speed recipe of the SDK's own CI: WAL journal, no fsync on every commit.
        '--sqlite-pragma',
        'journal_mode=WAL',
        '--sqlite-pragma',
        'synchronous=OFF',
        ...Object.entries(o.dynamicConfig).flatMap(([key, value]) => [
          '--dynamic-config-value',
          `${key}=${JSON.stringify(value)}`,
        ]),
        ...searchAttributeArgs(),
      ],
      logDir: o.logDir,
      detached: o.detached,
    });
    const address = `127.0.0.1:${port}`;
    // Plaintext: the dev server has no TLS (the TEMPORAL_* TLS settings are for a configured server).
    // Aborted when the server exits first: no connect attempt keeps retrying a dead port in the background.
    const abandon = new AbortController();
    const ready = connectClientConnection({ address, embedded: true }, o.readyTimeoutMs, abandon.signal);
    ready.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    const outcome = await Promise.race([
      ready.then((conn) => ({ conn }) as const),
      p.exited.then((code) => ({ exitedWith: code }) as const),
    ]).catch((err: Error) => ({ error: err }) as const);
    abandon.abort('the server process exited');
    if ('conn' in outcome) {
      await outcome.conn.close();
      return { address, uiUrl: `http://127.0.0.1:${uiPort}`, port, uiPort, process: p };
    }
    await stopPid(p.pid);
    const tail = tailLog(p.logFile);
    const ownPorts = !o.port || !o.uiPort;
    if (
      'exitedWith' in outcome &&
      ownPorts &&
      /address already in use/.test(tail) &&
      attempt < TEMPORAL_START_ATTEMPTS
    ) {
      o.log?.(`temporal could not bind its ports (attempt ${attempt}): starting it on new ones`);
      continue;
    }
    const why =
      'error' in outcome ? outcome.error.message : `Temporal at ${address}: exited with ${outcome.exitedWith}`;
    throw new Error(`${why}\n--- ${p.logFile} ---\n${tail}`);
  }
}
