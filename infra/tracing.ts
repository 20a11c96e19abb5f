/**
 * OpenTelemetry tracing of one process: a tracer provider whose spans go to an OTLP/HTTP endpoint
 * (`telemetry.traces.otlpEndpoint`) and/or to JSON lines under `<homeDir>/data/traces/` (`telemetry.traces.file`).
 *
 * Temporal's interceptors (@temporalio/interceptors-opentelemetry) make the spans: the client's `StartWorkflow`,
 * the workflow's `RunWorkflow` and `StartActivity` (made in the sandbox and handed out through the `exporter` sink,
 * which the worker feeds to `spanProcessor` below), each activity's `RunActivity`. They carry the context in
 * Temporal headers, so one query is one trace across processes.
 *
 * The interceptors start spans with `startActiveSpan` inside `context.with(parent, ...)`: without a context manager
 * the API's default ignores `with`, and a span would lose its parent (and the client would inject no header). So a
 * process that traces installs the AsyncLocalStorage context manager below, the same mechanism as
 * @opentelemetry/context-async-hooks's AsyncLocalStorageContextManager, reduced to what the API needs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { context, propagation, ROOT_CONTEXT, trace, type Context, type ContextManager } from '@opentelemetry/api';
import {
  ExportResultCode,
  hrTimeToMilliseconds,
  W3CTraceContextPropagator,
  type ExportResult,
} from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  NoopSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { SerflowConfig } from '../common/config';

/**
 * Spans wait at most this long before they are written: short, so a finished query's trace is in the file (or the
 * collector) a second later, as `serflow trace` and the tests expect; batching still makes it one write per second.
 */
export const SPAN_EXPORT_DELAY_MS = 1_000;

/** One span as a line of a traces file: what a waterfall needs, in plain JSON. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** `service.name` of the process: `serflow-client`, `serflow-workflow`, `serflow-stage`, ... */
  service: string;
  startMs: number;
  endMs: number;
  /** 0 unset, 1 ok, 2 error (OpenTelemetry's SpanStatusCode). */
  status: number;
  attributes: Record<string, unknown>;
}

export function tracesDir(config: Pick<SerflowConfig, 'homeDir'>): string {
  return path.join(config.homeDir, 'data', 'traces');
}

export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
    name: span.name,
    service: String(span.resource.attributes['service.name'] ?? 'unknown'),
    startMs: hrTimeToMilliseconds(span.startTime),
    endMs: hrTimeToMilliseconds(span.endTime),
    status: span.status.code,
    attributes: { ...span.attributes },
  };
}

/** Appends spans as JSON lines to one file of this process (`<dir>/<role>-<pid>.jsonl`). */
export class FileSpanExporter implements SpanExporter {
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const text = spans.map((s) => JSON.stringify(toSpanRecord(s)) + '\n').join('');
    // One append per batch: whole lines, so a reader never sees half a span of a finished batch.
    fs.appendFile(this.file, text, (err) =>
      done(err ? { code: ExportResultCode.FAILED, error: err } : { code: ExportResultCode.SUCCESS }),
    );
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Read every span of the traces files in `dir` (each process's file), skipping lines that are not whole JSON. */
export function readSpanRecords(dir: string): SpanRecord[] {
  if (!fs.existsSync(dir)) return [];
  const out: SpanRecord[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as SpanRecord);
      } catch {
        // a line being written as we read: the next read has it whole
      }
    }
  }
  return out;
}

/** The AsyncLocalStorage context manager (see the file comment). */
class AsyncLocalContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run<ReturnType<F>>(ctx, () => fn.call(thisArg, ...args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the bound function runs in another `this`
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

export interface Tracing {
  /** Whether spans go anywhere; false: the interceptors make non-recording spans that cost next to nothing. */
  enabled: boolean;
  resource: Resource;
  /** Where the workflow sandbox's spans go (the worker's `exporter` sink): the provider's processors, or a no-op. */
  spanProcessor: SpanProcessor;
  /** Flush what waits and stop; never throws (a shutdown hook). */
  shutdown(): Promise<void>;
}

/** Tracing that goes nowhere: what a process without `telemetry.traces` settings gets. */
export function disabledTracing(role = 'disabled'): Tracing {
  return {
    enabled: false,
    resource: new Resource({ 'service.name': `serflow-${role}` }),
    spanProcessor: new NoopSpanProcessor(),
    shutdown: () => Promise.resolve(),
  };
}

/**
 * Start tracing for this process as `serflow-<role>`, registered as the global tracer provider (with the W3C
 * propagator and the context manager), when `telemetry.traces` names an exporter; a disabled `Tracing` otherwise.
 */
export function startTracing(config: SerflowConfig, role: string): Tracing {
  const resource = new Resource({ 'service.name': `serflow-${role}` });
  const { otlpEndpoint, file } = config.telemetry.traces;
  const processors: SpanProcessor[] = [];
  if (otlpEndpoint) {
    processors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpEndpoint }), {
        scheduledDelayMillis: SPAN_EXPORT_DELAY_MS,
      }),
    );
  }
  if (file) {
    const exporter = new FileSpanExporter(path.join(tracesDir(config), `${role}-${process.pid}.jsonl`));
    processors.push(new BatchSpanProcessor(exporter, { scheduledDelayMillis: SPAN_EXPORT_DELAY_MS }));
  }
  if (processors.length === 0) return disabledTracing(role);
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  context.setGlobalContextManager(new AsyncLocalContextManager());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    resource,
    spanProcessor: provider.getActiveSpanProcessor(),
    async shutdown() {
      await provider.shutdown().catch(() => undefined);
    },
  };
}

/**
 * The active trace context as NATS headers (W3C `traceparent`), for a request that crosses into another process over
 * NATS (the serverless platform invoking a function instance); undefined when there is nothing to carry, so an
 * untraced request is sent as before.
 */
export function traceHeaders(): MsgHdrs | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (Object.keys(carrier).length === 0) return undefined;
  const h = natsHeaders();
  for (const [k, v] of Object.entries(carrier)) h.set(k, v);
  return h;
}

/** The trace context a request's NATS headers carry (see `traceHeaders`), or the active one. */
export function contextFromHeaders(h: MsgHdrs | undefined): Context {
  if (!h) return context.active();
  const carrier: Record<string, string> = {};
  for (const k of h.keys()) carrier[k.toLowerCase()] = h.get(k);
  return propagation.extract(context.active(), carrier);
}
