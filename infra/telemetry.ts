/**
 * One call at the start of every long-running process: its logger, its tracer provider, its `/metrics` endpoint and,
 * in a process that runs Temporal workers, the Temporal Runtime with the SDK's Prometheus exporter (Runtime
 * telemetry: poll, task and slot metrics of the Rust core). Everything is torn down by `shutdown()`, which never
 * throws (it runs in exit paths).
 */
import * as net from 'node:net';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import {
  Runtime,
  type InjectedSinks,
  type WorkerInterceptors,
  type LogLevel,
  type LogMetadata,
} from '@temporalio/worker';
import type { SerflowConfig } from '../common/config';
import { createLogger, setProcessLogger, type Logger } from './logger';
import { metrics } from './metrics';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { disabledTracing, startTracing, type Tracing } from './tracing';

export interface ProcessTelemetryOptions {
  config: SerflowConfig;
  /** `workflow`, `stage`, `function`, `agent`, `autoscaler`, `serve`. */
  role: string;
  /** Bounded context for the log records and the metrics target (model, stage, backend). */
  labels?: Record<string, string>;
  /** Install the Temporal Runtime with the SDK's metrics exporter: the process will run Temporal workers. */
  temporalRuntime?: boolean;
  /**
   * The process drains its workers itself on SIGTERM/SIGINT (a stage worker: workers/drain-slots.ts), so the Runtime
   * must not shut them down on those signals, which would cancel their open polls at once.
   */
  ownShutdownSignals?: boolean;
}

export interface ProcessTelemetry {
  logger: Logger;
  tracing: Tracing;
  /** `http://HOST:PORT/metrics`, when metrics are on. */
  metricsUrl?: string;
  shutdown(): Promise<void>;
}

let current: ProcessTelemetry | undefined;

/** A free TCP port on loopback for the SDK's own exporter (the core needs a fixed address; it is never published). */
async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The SDK's log lines (worker state, poll errors) into the process's structured log. */
function runtimeLogger(logger: Logger) {
  const child = logger.child({ source: 'temporal-sdk' });
  const at = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields = meta ?? {};
    if (level === 'ERROR') child.error(fields, message);
    else if (level === 'WARN') child.warn(fields, message);
    else if (level === 'INFO') child.info(fields, message);
    else if (level === 'DEBUG') child.debug(fields, message);
    else child.trace(fields, message);
  };
  return {
    log: at,
    trace: (m: string, meta?: LogMetadata) => at('TRACE', m, meta),
    debug: (m: string, meta?: LogMetadata) => at('DEBUG', m, meta),
    info: (m: string, meta?: LogMetadata) => at('INFO', m, meta),
    warn: (m: string, meta?: LogMetadata) => at('WARN', m, meta),
    error: (m: string, meta?: LogMetadata) => at('ERROR', m, meta),
  };
}

export async function startProcessTelemetry(o: ProcessTelemetryOptions): Promise<ProcessTelemetry> {
  const { config, role } = o;
  const logger = createLogger(config, role).child(o.labels ?? {});
  setProcessLogger(logger);
  const tracing = startTracing(config, role);
  const { enabled } = config.telemetry.metrics;
  let sdkMetricsUrl: string | undefined;
  if (o.temporalRuntime) {
    const sdkPort = enabled ? await freeLoopbackPort() : undefined;
    // Before any connection: the Runtime is created once per process, on first use, and cannot be changed later.
    Runtime.install({
      logger: runtimeLogger(logger),
      ...(o.ownShutdownSignals ? { shutdownSignals: [] } : {}),
      ...(sdkPort !== undefined
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}` } } } }
        : {}),
    });
    if (sdkPort !== undefined) sdkMetricsUrl = `http://127.0.0.1:${sdkPort}/metrics`;
  }
  let server: MetricsServer | undefined;
  if (enabled) {
    server = await startMetricsServer({
      config,
      registry: metrics().registry,
      role,
      labels: o.labels,
      sdkMetricsUrl,
    });
    logger.info({ metricsUrl: server.url }, 'metrics served');
  }
  const telemetry: ProcessTelemetry = {
    logger,
    tracing,
    ...(server ? { metricsUrl: server.url } : {}),
    async shutdown() {
      await server?.close().catch(() => undefined);
      await tracing.shutdown();
    },
  };
  current = telemetry;
  return telemetry;
}

/** The telemetry this process started, if any (the workers' interceptors read its span processor). */
export function processTelemetry(): ProcessTelemetry | undefined {
  return current;
}

/**
 * Worker options that trace: activity interceptors (a `RunActivity` span under the workflow's `StartActivity`, from
 * the Temporal headers) and the `exporter` sink that carries the workflow sandbox's spans (workflows/tracing.ts) out
 * to this process's span processor. Always given, tracing on or off: the bundled workflow interceptors call the sink
 * either way, and a worker without it would warn on every workflow task.
 */
export function workerTracingOptions(
  tracing: Pick<Tracing, 'spanProcessor' | 'resource'> = current?.tracing ?? disabledTracing(),
): { interceptors: WorkerInterceptors; sinks: InjectedSinks<OpenTelemetrySinks> } {
  const activity: NonNullable<WorkerInterceptors['activity']> = [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
  ];
  return {
    interceptors: { activity },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
