/**
 * A process's `/metrics` endpoint and how Prometheus finds it.
 *
 * One endpoint per process: SERFLOW's own registry (infra/metrics.ts), followed, in a process that runs a Temporal
 * worker, by the Temporal SDK's metrics, which the SDK's Rust core serves on a loopback port of its own (Runtime
 * telemetry): this server fetches that page and appends it, so a scrape of one target gets both and the SDK port
 * stays private. The two never share a name (`serflow_*`, `process_*`, `nodejs_*` here; `temporal_*` there).
 *
 * Discovery: with a port of 0 every process binds a free one, so each writes a Prometheus `file_sd` targets file,
 * `<homeDir>/data/metrics-targets/<role>-<pid>.json`, and removes it when it stops. Prometheus reads the folder with
 * `file_sd_configs: [{ files: ['<homeDir>/data/metrics-targets/*.json'] }]`; `serflow metrics` lists the same files.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Registry } from 'prom-client';
import type { SerflowConfig } from '../common/config';

/** How long a scrape waits for the SDK's page; a slow core must not hold Prometheus's own scrape timeout (10 s). */
export const SDK_METRICS_TIMEOUT_MS = 2_000;

/** One Prometheus `file_sd` target group, as written to a targets file. */
export interface MetricsTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** A live process's metrics endpoint, read back from its targets file. */
export interface MetricsTarget {
  url: string;
  role: string;
  pid: number;
  labels: Record<string, string>;
  file: string;
}

export interface MetricsServerOptions {
  config: SerflowConfig;
  registry: Registry;
  /** `workflow`, `stage`, `function`, `agent`, `autoscaler`, `serve`: the `role` label of the target. */
  role: string;
  /** More target labels (model, stage, backend): bounded values only. */
  labels?: Record<string, string>;
  /** The Temporal SDK's own Prometheus page (`http://127.0.0.1:PORT/metrics`), appended to every scrape. */
  sdkMetricsUrl?: string;
}

export interface MetricsServer {
  /** `http://HOST:PORT/metrics` */
  url: string;
  close(): Promise<void>;
}

export function metricsTargetsDir(config: Pick<SerflowConfig, 'homeDir'>): string {
  return path.join(config.homeDir, 'data', 'metrics-targets');
}

async function sdkPage(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(SDK_METRICS_TIMEOUT_MS) });
    return res.ok ? await res.text() : `# Temporal SDK metrics: HTTP ${res.status}\n`;
  } catch (err) {
    // The page still serves SERFLOW's series; the comment says why the SDK's are missing.
    return `# Temporal SDK metrics unavailable: ${(err as Error).message}\n`;
  }
}

/** Serve `/metrics` on `telemetry.metrics.host:port` and publish the bound address in a targets file. */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = o.config.telemetry.metrics;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    void (async () => {
      try {
        const own = await o.registry.metrics();
        const sdk = o.sdkMetricsUrl ? await sdkPage(o.sdkMetricsUrl) : '';
        res.writeHead(200, { 'content-type': o.registry.contentType }).end(own + '\n' + sdk);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${(err as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  // The scrape server must not keep a finished process alive.
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${bound}`;
  const dir = metricsTargetsDir(o.config);
  const file = path.join(dir, `${o.role}-${process.pid}.json`);
  const group: MetricsTargetGroup = {
    targets: [hostPort],
    labels: { role: o.role, pid: String(process.pid), ...(o.labels ?? {}) },
  };
  fs.mkdirSync(dir, { recursive: true });
  // Write then rename: Prometheus may read the folder at any moment and must never see half a file.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify([group], null, 2));
  fs.renameSync(`${file}.tmp`, file);
  const removeFile = () => fs.rmSync(file, { force: true });
  process.once('exit', removeFile);
  return {
    url: `http://${hostPort}/metrics`,
    async close() {
      process.off('exit', removeFile);
      removeFile();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The metrics endpoints of the live processes of the stack at `config.homeDir`, sorted by role and pid. Files of
 * processes that died without removing theirs (killed with SIGKILL) are skipped, and deleted when `prune` is set.
 */
export function listMetricsTargets(config: Pick<SerflowConfig, 'homeDir'>, prune = false): MetricsTarget[] {
  const dir = metricsTargetsDir(config);
  if (!fs.existsSync(dir)) return [];
  const out: MetricsTarget[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const file = path.join(dir, name);
    let groups: MetricsTargetGroup[];
    try {
      groups = JSON.parse(fs.readFileSync(file, 'utf8')) as MetricsTargetGroup[];
    } catch {
      continue; // removed or replaced while being read
    }
    for (const g of groups) {
      const pid = Number(g.labels.pid);
      if (!isAlive(pid)) {
        if (prune) fs.rmSync(file, { force: true });
        continue;
      }
      for (const t of g.targets) {
        out.push({ url: `http://${t}/metrics`, role: g.labels.role ?? '?', pid, labels: g.labels, file });
      }
    }
  }
  return out.sort((a, b) => a.role.localeCompare(b.role) || a.pid - b.pid);
}
