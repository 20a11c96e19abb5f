/**
 * Section `telemetry`: Prometheus metrics, OpenTelemetry traces and structured logs of every process. Part of the
 * one config (config.ts imports this schema); fields and defaults are named and explained here.
 *
 * The embedded stack hands its config to every process it starts (SERFLOW_CONFIG_JSON), so one setting here reaches
 * the workflow worker, the stage workers, the function instances, the cloud agent and the autoscaler alike.
 */
import { z } from 'zod';

/** Metrics are served unless turned off: a scrape costs nothing when nobody scrapes. */
export const DEFAULT_METRICS_ENABLED = true;

/** Loopback: the metrics of a local stack are for this machine; a container sets `0.0.0.0`. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/**
 * 0 = every process binds a free port and publishes it (a Prometheus `file_sd` targets file in the stack's home,
 * `serflow metrics`): the embedded stack runs many processes on one host, so a fixed port only suits one process
 * per host (a container or a VM of a cloud pool).
 */
export const DEFAULT_METRICS_PORT = 0;

/** JSON lines for long-running processes: one object per line, what a log shipper (Loki, CloudWatch) parses. */
export const DEFAULT_LOG_FORMAT = 'json';

/** `info`: starts, stops, pool changes and decisions; `debug` adds one line per stage execution. */
export const DEFAULT_LOG_LEVEL = 'info';

export const LOG_FORMATS = ['json', 'text'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

const port = z.number().int().min(0).max(65_535);

export const telemetryConfigSchema = z
  .object({
    metrics: z
      .object({
        /** Serve `/metrics` (prom-client, plus the Temporal SDK's own metrics in processes that run a worker). */
        enabled: z.boolean().default(DEFAULT_METRICS_ENABLED),
        host: z.string().min(1).default(DEFAULT_METRICS_HOST),
        /** 0 = a free port per process (DEFAULT_METRICS_PORT). */
        port: port.default(DEFAULT_METRICS_PORT),
      })
      .strict()
      .prefault({}),
    traces: z
      .object({
        /**
         * OTLP/HTTP traces endpoint (e.g. `http://127.0.0.1:4318/v1/traces` of an OpenTelemetry collector or
         * Jaeger). Unset: no OTLP export.
         */
        otlpEndpoint: z
          .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. http://127.0.0.1:4318/v1/traces' })
          .optional(),
        /**
         * Also write every span as a JSON line under `<homeDir>/data/traces/` (one file per process), where
         * `serflow trace` reads a query's trace back and draws it. Off by default: it is for the embedded stack and
         * demos, not for long runs (the files are not rotated).
         */
        file: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    logs: z
      .object({
        /** `json` (DEFAULT_LOG_FORMAT) or `text` (one readable line per record, for a terminal). */
        format: z.enum(LOG_FORMATS).default(DEFAULT_LOG_FORMAT),
        level: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type TelemetryConfig = z.output<typeof telemetryConfigSchema>;
