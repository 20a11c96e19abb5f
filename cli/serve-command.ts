/**
 * `serflow serve`: the Open Inference Protocol v2 (KServe v2 REST) over HTTP, in front of the running stack.
 *
 *   GET  /v2                         server metadata
 *   GET  /v2/health/live             200 while the process serves
 *   GET  /v2/health/ready            200 when Temporal and NATS answer and a workflow worker polls, else 503
 *   GET  /v2/models/{name}           model metadata from its manifest (404: no such model)
 *   GET  /v2/models/{name}/ready     the server is ready and the model is known
 *   POST /v2/models/{name}/infer     one query, one workflow, through the SDK (client/oip.ts maps both ways)
 *
 * node:http, not a framework: five fixed routes, and the request is checked with zod like every other input of the
 * system (client/oip.ts, field-named messages from common/zod-issues.ts); what a framework would add here (body
 * limit, in-flight bound, graceful close) is a few lines each. Bounds (config `serve`): a body over `maxBodyBytes` is
 * refused with 413 before it is parsed; past `maxInFlight` inference requests the next gets 503 with Retry-After at
 * once. A request whose HTTP client goes away leaves its query running: asking again with the same `id` joins it.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { metrics } from '../infra/metrics';
import { startProcessTelemetry } from '../infra/telemetry';
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { NatsConnection } from 'nats';
import { SerflowClient } from '../client';
import {
  errorResponse,
  inferResponse,
  modelMetadata,
  OipHttpError,
  oipRoute,
  parseInferRequest,
  serverMetadata,
} from '../client/oip';
import type { SerflowConfig } from '../common/config';
import { INFERENCE_TASK_QUEUE } from '../common/naming';
import { connectNats } from '../infra/nats';
import { listWorkers } from '../infra/worker-status';
import { listModels } from '../models/manifest';
import { positiveInt } from './options';
import { packageVersion } from './package-version';
import { stackNatsUrl } from './stack-connection';

/** Each readiness probe (Temporal, NATS, the worker records) answers within this long or the server is not ready. */
export const READY_PROBE_TIMEOUT_MS = 2_000;

export interface OipServerOptions {
  /** The SDK client every inference request goes through (not closed by the server). */
  client: SerflowClient;
  /** For the readiness check: the worker records in NATS (not closed by the server). */
  nc: NatsConnection;
  config: SerflowConfig;
  /** @default config.serve.host / port / maxBodyBytes / maxInFlight */
  host?: string;
  port?: number;
  maxBodyBytes?: number;
  maxInFlight?: number;
  /** One line per notable event (bound address, shutdown). @default nothing */
  log?: (line: string) => void;
}

export interface OipServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  /** Inference requests being served now. */
  inFlight(): number;
  /** Stop accepting, let every in-flight request finish and answer, then close the listener. */
  close(): Promise<void>;
}

function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Why the server is not ready, or undefined when it is: Temporal answers, NATS answers, and at least one workflow
 * worker polls the inference task queue (its liveness record in NATS is fresh and says `running`).
 */
export async function notReadyReason(client: SerflowClient, nc: NatsConnection): Promise<string | undefined> {
  try {
    await withTimeout(
      'Temporal',
      client.temporal.withDeadline(Date.now() + READY_PROBE_TIMEOUT_MS, () =>
        client.temporal.workflowService.getSystemInfo({}),
      ),
      READY_PROBE_TIMEOUT_MS,
    );
  } catch (err) {
    return `Temporal is not reachable (${(err as Error).message})`;
  }
  if (nc.isClosed()) return 'NATS is not reachable (connection closed)';
  try {
    await withTimeout('NATS', nc.rtt(), READY_PROBE_TIMEOUT_MS);
    const workers = await withTimeout('the worker records', listWorkers(nc), READY_PROBE_TIMEOUT_MS);
    const polling = workers.filter(
      (w) => w.role === 'workflow' && w.taskQueue === INFERENCE_TASK_QUEUE && w.state === 'running',
    );
    if (polling.length === 0) return `no workflow worker polls ${INFERENCE_TASK_QUEUE}`;
  } catch (err) {
    return `NATS is not reachable (${(err as Error).message})`;
  }
  return undefined;
}

/** The request body, at most `max` bytes (413 past it, checked on Content-Length first and while reading). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const tooLarge = (got: string) =>
    new OipHttpError(413, `body: ${got}, above the limit of ${max} bytes (serve.maxBodyBytes)`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      bytes += chunk.length;
      if (bytes > max) {
        done = true;
        req.pause();
        reject(tooLarge(`more than ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
      done = true;
    });
    req.on('error', (err) => {
      if (!done) reject(err);
      done = true;
    });
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new OipHttpError(400, `InvalidInputError: body: not valid JSON (${(err as Error).message})`);
  }
}

/** Start the OIP v2 HTTP server; resolves once it listens. */
export async function startOipServer(options: OipServerOptions): Promise<OipServer> {
  const { client, nc, config } = options;
  const host = options.host ?? config.serve.host;
  const maxBodyBytes = options.maxBodyBytes ?? config.serve.maxBodyBytes;
  const maxInFlight = options.maxInFlight ?? config.serve.maxInFlight;
  const log = options.log ?? (() => undefined);
  const version = packageVersion();

  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...(closing ? { connection: 'close' } : {}),
      ...headers,
    });
    res.end(text);
  };

  const infer = async (req: http.IncomingMessage, res: http.ServerResponse, model: string) => {
    if (closing) throw new OipHttpError(503, 'the server is shutting down', { 'retry-after': '1' });
    if (inFlight >= maxInFlight) {
      throw new OipHttpError(
        503,
        `the server is busy: ${inFlight} inference requests in flight (serve.maxInFlight ${maxInFlight}); retry later`,
        { 'retry-after': '1' },
      );
    }
    inFlight++;
    try {
      const body = parseJson(await readBody(req, maxBodyBytes));
      const query = parseInferRequest(body, client.manifest(model)); // read once per model by the client
      const queryId = query.queryId ?? randomUUID();
      // The request's span: the root of the query's trace, above the client's StartWorkflow (infra/tracing.ts).
      const result = await trace
        .getTracer('serflow-serve')
        .startActiveSpan(`POST /v2/models/${model}/infer`, { attributes: { model, queryId } }, async (span) => {
          try {
            return await client.infer(query.input, { ...query.options, model, queryId });
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
            throw err;
          } finally {
            span.end();
          }
        });
      send(res, 200, inferResponse(result, query.outputs));
    } finally {
      inFlight--;
      if (closing && inFlight === 0) drained?.();
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const route = oipRoute(req.method ?? 'GET', req.url ?? '/');
    switch (route.kind) {
      case 'serverMetadata':
        return send(res, 200, serverMetadata(version));
      case 'live':
        return send(res, 200, { live: true });
      case 'ready':
      case 'modelReady': {
        if (route.kind === 'modelReady') client.manifest(route.model); // UnknownModelError: 404
        const reason = closing ? 'the server is shutting down' : await notReadyReason(client, nc);
        const what = route.kind === 'modelReady' ? { name: route.model } : {};
        if (reason) return send(res, 503, { ...what, ready: false, error: `not ready: ${reason}` });
        return send(res, 200, { ...what, ready: true });
      }
      case 'modelMetadata':
        return send(res, 200, modelMetadata(client.manifest(route.model)));
      case 'infer':
        return infer(req, res, route.model);
    }
  };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    // The route's kind, never its path: a label with a bounded set of values (a model name is configured).
    let route = 'unknown';
    try {
      route = oipRoute(req.method ?? 'GET', req.url ?? '/').kind;
    } catch {
      // a bad route or method: answered by handle() below
    }
    res.once('finish', () => {
      const m = metrics();
      m.httpRequests.inc({ route, code: String(res.statusCode) });
      m.httpDuration.observe({ route }, (performance.now() - started) / 1000);
    });
    handle(req, res).catch((err: unknown) => {
      const { status, body, headers } = errorResponse(err);
      // A body left unread (413, 503 busy) is read and dropped by node after the reply (closing the socket on
      // unread data would reset it, and the client could lose the reply); the server's requestTimeout bounds it.
      send(res, status, body, headers);
      if (status === 500) log(`${req.method} ${req.url}: ${body.error}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.serve.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log(`Open Inference Protocol v2 on ${url}`);

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    inFlight: () => inFlight,
    close() {
      closed ??= (async () => {
        closing = true;
        const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) {
          log(`stopping: waiting for ${inFlight} inference requests in flight`);
          await new Promise<void>((resolve) => {
            drained = resolve;
          });
        }
        // Their replies said `connection: close`; anything still open is idle now.
        server.closeIdleConnections();
        await listenerClosed;
      })();
      return closed;
    },
  };
}

function tcpPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`expected a port 0..65535 (0: any free port), got ${JSON.stringify(value)}`);
  return n;
}

interface ServeFlags {
  host?: string;
  port?: number;
  maxBodyBytes?: number;
  maxInFlight?: number;
}

/**
 * Serve until SIGINT or SIGTERM, then stop accepting, let the in-flight requests finish and answer, and close the
 * client. A second signal exits at once (130).
 */
async function serveCommand(config: SerflowConfig, flags: ServeFlags): Promise<void> {
  // Its own /metrics endpoint (telemetry.metrics), traces and JSON log records, as every long-running process.
  const telemetry = await startProcessTelemetry({ config, role: 'serve' });
  const log = (line: string) => telemetry.logger.info(line);
  const serve = { ...config.serve, ...flags };
  const client = await SerflowClient.connect({ config });
  let nc: NatsConnection | undefined;
  try {
    nc = await connectNats(stackNatsUrl(config), 'serflow-serve', 5_000);
    const server = await startOipServer({ client, nc, config, ...serve, log });
    console.log(
      `serflow serve: Open Inference Protocol v2 on ${server.url} (models: ${listModels(config.modelsDir).join(', ')})`,
    );
    await new Promise<void>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
        const force = () => process.exit(130);
        process.once('SIGINT', force);
        process.once('SIGTERM', force);
        log(`${signal}: stopping (a second signal exits at once)`);
        void server.close().then(resolve);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    log('stopped');
  } finally {
    await client.close().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await telemetry.shutdown();
  }
}

export function registerServeCommand(program: Command, config: () => SerflowConfig): void {
  program
    .command('serve')
    .description(
      'serve the Open Inference Protocol v2 (KServe v2 REST) over HTTP for the running stack; each request is one ' +
        'query; Ctrl-C stops accepting and finishes the requests in flight',
    )
    .option('--host <address>', 'address to listen on (default: serve.host of the configuration, 127.0.0.1)')
    .addOption(
      new Option('--port <n>', 'port (default: serve.port of the configuration, 8080; 0: any free port)').argParser(
        tcpPort,
      ),
    )
    .addOption(
      new Option('--max-body-bytes <n>', 'largest request body (default: serve.maxBodyBytes)').argParser(positiveInt),
    )
    .addOption(
      new Option('--max-in-flight <n>', 'inference requests served at once (default: serve.maxInFlight)').argParser(
        positiveInt,
      ),
    )
    .action(async (o: ServeFlags) => serveCommand(config(), o));
}
