/**
 * The one typed, validated configuration of SERFLOW.
 *
 * Sources, later ones winning: built-in defaults (the `DEFAULT_*` constants, each explained below) → Temporal's own
 * client profile (`TEMPORAL_CONFIG_FILE` / `TEMPORAL_PROFILE`, TOML, see temporal-profile.ts: its address and
 * namespace; its TLS settings and API key are read where connections are made, never copied here) → a JSON file
 * (`SERFLOW_CONFIG` or `./serflow.config.json` when present; or inline JSON in `SERFLOW_CONFIG_JSON`, which is how
 * the embedded stack hands its configuration to the worker processes it starts) → environment variables
 * (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `NATS_URL`, `SERFLOW_HOME`) → explicit overrides (CLI flags).
 * `loadConfig` validates everything with field-named errors (`workers.stageConcurrency: expected a positive integer`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors';
import { PLAN_SPEC_FORMS, parsePlanSpec } from './routing';
import { DEFAULT_HOME_DIR, MODELS_DIR } from './paths';
import { formatIssues } from './zod-issues';
import { loadTemporalProfile } from './temporal-profile';
import { awsConfigSchema, CLOUDS, kubernetesConfigSchema } from './cloud-config';
import { telemetryConfigSchema } from './telemetry-config';

/** Model served when a command or query names none: the committed 4-stage MNIST early-exit CNN. */
export const DEFAULT_MODEL = 'mnist-ee';

/** Temporal namespace used unless configured; the dev server always creates it. */
export const DEFAULT_NAMESPACE = 'default';

/**
 * Activations larger than this (bytes, as encoded inline in a payload) go through the claim-check store.
 * 16 KiB keeps the default model's image (3.1 KB raw, 4.2 KB base64) and small activations inline, while a
 * workflow of 4 stages stays far below Temporal's 2 MB payload / 50 MB history limits even with wide variants.
 */
export const DEFAULT_INLINE_ACTIVATION_MAX_BYTES = 16 * 1024;

/** Claim-checked activations expire after this long; a query far older than this cannot be resumed anyway. */
export const DEFAULT_ACTIVATION_TTL_MS = 60 * 60 * 1000;

/** Stage events are kept this long in JetStream: long enough for an autoscaler restart to replay its window. */
export const DEFAULT_EVENTS_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Concurrent stage activities one stage-worker process accepts. Inference itself runs on
 * `inferenceThreads` worker threads; extra slots overlap claim-check I/O and event publishing with compute.
 */
export const DEFAULT_STAGE_CONCURRENCY = 4;

/**
 * Inference threads per stage worker. One keeps (stages x threads) within the machine's cores on a 2-core
 * box; the event loop stays free for pollers and heartbeats because `session.run()` blocks only its thread.
 */
export const DEFAULT_INFERENCE_THREADS = 1;

/** ONNX Runtime intra-op threads per session; 1 avoids oversubscribing cores across stage workers. */
export const DEFAULT_INTRA_OP_THREADS = 1;

/**
 * Start-to-close timeout of one stage attempt. A stage takes milliseconds; a worker that dies mid-attempt
 * is detected after this long and the attempt is retried on another worker of the pool.
 */
export const DEFAULT_STAGE_TIMEOUT_MS = 10_000;

/**
 * Heartbeat timeout of a stage attempt. A task handed to a worker that died or was drained at that moment is
 * retried after this long instead of after the start-to-close timeout; running attempts heartbeat every 1/4 of it.
 */
export const DEFAULT_STAGE_HEARTBEAT_TIMEOUT_MS = 2_000;

/** Retries of a stage after retryable failures (worker lost, NATS hiccup); bad input is never retried. */
export const DEFAULT_STAGE_MAX_ATTEMPTS = 10;

/**
 * How long a stage (or fused run) may wait in its task queue for a worker when the plan gives it no overflow to
 * functions, and a function may wait for an instance. A queue nobody polls (a pool scaled to 0, a stack without
 * its gateway) then fails the query with StageUnavailableError instead of holding it forever; a minute is far
 * above any VM boot of the embedded stack and any queueing the SLOs allow.
 */
export const DEFAULT_STAGE_QUEUE_TIMEOUT_MS = 60_000;

/**
 * Every query ends within this long (its workflow's execution timeout), whatever happens to its stages or to the
 * workflow worker; the client then reports QueryDeadlineExceeded. Ten stage queue timeouts: a query may queue at
 * several stages and retry a lost worker's attempts before it is given up.
 */
export const DEFAULT_QUERY_DEADLINE_MS = 600_000;

/** How often a worker refreshes its liveness/load record; the record expires after 3 missed refreshes. */
export const DEFAULT_WORKER_HEARTBEAT_MS = 2_000;

/**
 * Dynamic config the embedded Temporal dev server starts with (`--dynamic-config-value KEY=VALUE`).
 * - `history.transferProcessorMaxPollRPS`: the history service reads its transfer queue at most 20 times/s by
 *   default, which delays every workflow and activity task by ~38 ms on an idle dev server; 10000 cuts that to
 *   ~3 ms (bench/README.md).
 * - `system.forceSearchAttributesCacheRefreshOnRead` stays as the CLI sets it: an A/B run with the cache on
 *   (bench/results/dev-server-ab/) saved server CPU (0.89x, 0.96x) but not throughput, and two of three full test
 *   runs with it missed the autoscaler test's 5 s scale-out window; not kept until that is understood.
 * - `matching.longPollExpirationInterval` 10 s (60 s by default): a draining VM stops polling by letting its open polls
 *   end on their own rather than cancelling them (workers/drain-slots.ts), so an idle VM's drain lasts up to one
 *   long poll; 10 s keeps scale-in quick here, for a few empty polls per second more on the server.
 * - `frontend.enableCancelWorkerPollsOnShutdown` (off by default in server 1.32): ShutdownWorker makes the server
 *   answer the worker's open polls empty and forget it as a poller, and the server advertises it (namespace
 *   capability `workerPollCompleteOnShutdown`), so sdk-core waits for its open polls instead of dropping them and
 *   runs what they bring. Without it a poll dropped as the server hands it a task orphans the task until the stage
 *   heartbeat timeout (attempt 2); with it, the server's own cancel meeting a match still did that (4 of 12 drains
 *   under load on server 1.32), which is why a drain first waits for its polls to end (drain-slots.ts).
 */
export const DEFAULT_DEV_SERVER_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'history.transferProcessorMaxPollRPS': 10_000,
  'matching.longPollExpirationInterval': '10s',
  'frontend.enableCancelWorkerPollsOnShutdown': true,
};

/**
 * Cloud time per wall-clock time. 10 makes boot delays, cold starts and keep-alives pass 10x faster on this
 * machine for local experiments, while bills and reports stay in cloud time (a VM that lived 12 s of wall time
 * is billed 120 s). Measured compute (inference) is never scaled.
 */
export const DEFAULT_TIME_SCALE = 1;

/**
 * VM cold start in cloud ms: launch request to the worker polling its queue (EC2 boot ~25 s plus runtime,
 * worker connect and model load; method.md uses 100 s).
 */
export const DEFAULT_VM_BOOT_DELAY_MS = 100_000;

/**
 * How often a VM's worker publishes its liveness fact (`vm.alive`), wall ms: one small fact per VM per minute, so a
 * pool of 100 VMs adds under 2 facts a second to the billing stream. A VM whose agent died (no `vm.terminated`)
 * is then billed to its last liveness plus this, not to now forever.
 */
export const DEFAULT_VM_LIVENESS_INTERVAL_MS = 60_000;

/**
 * A VM with no end fact whose last liveness is older than this (wall ms) is taken as gone: billed to that liveness
 * plus one interval and flagged `unended` (billing/ledger.ts). Three missed intervals: an outbox holding facts
 * through a NATS blip, or a loaded machine delaying a timer, does not cut a live VM's bill.
 */
export const DEFAULT_VM_LIVENESS_STALE_MS = 3 * DEFAULT_VM_LIVENESS_INTERVAL_MS;

/** VM instance type and its catalog price: c6i.large (2 vCPU, 4 GiB), on-demand us-east-1. */
export const DEFAULT_VM_INSTANCE_TYPE = 'c6i.large';
export const DEFAULT_VM_PRICE_PER_HOUR_USD = 0.085;
/** EC2 Linux bills per second with a 60 s minimum per launch. */
export const DEFAULT_VM_MIN_BILLED_SECONDS = 60;

/** AWS Lambda x86 prices (us-east-1): per GB-second of billed duration and per request. */
export const DEFAULT_FAAS_PRICE_PER_GB_SECOND_USD = 1.66667e-5;
export const DEFAULT_FAAS_PRICE_PER_REQUEST_USD = 2e-7;
/** Lambda rounds billed duration up to this granularity (1 ms since 2020-12). */
export const DEFAULT_FAAS_BILLING_GRANULARITY_MS = 1;
/** Memory of a stage function unless the stage says otherwise; 512 MB holds Node + ORT + a small stage model. */
export const DEFAULT_FAAS_MEMORY_MB = 512;
/**
 * Extra platform init of a new function instance, cloud ms, on top of the real process start and model load:
 * sandbox creation and code download, which a local process does not pay (Lambda ML cold starts are 1-10 s).
 */
export const DEFAULT_FAAS_COLD_START_EXTRA_MS = 1_000;
/** An idle function instance is reclaimed after this long (cloud ms); Lambda keeps idle instances ~10 min. */
export const DEFAULT_FAAS_KEEP_ALIVE_MS = 600_000;
/** Concurrent function instances across all stage functions (the account limit); beyond it calls are throttled. */
export const DEFAULT_FAAS_ACCOUNT_CONCURRENCY = 8;

/**
 * Temporal Cloud's list price for Actions, USD per million (temporal.io/pricing): what orchestration costs when
 * it is bought as a service. Set `orchestration.usdPerMillionActions` to a negotiated rate.
 */
export const DEFAULT_TEMPORAL_CLOUD_USD_PER_MILLION_ACTIONS = 25;

/** vCPUs of the default instance type (c6i.large): a self-hosted server's CPU-second costs price / 3600 / 2. */
export const DEFAULT_VM_VCPUS = 2;

/*
 * Bounded growth: every JetStream stream and bucket has a size limit, and most an age limit.
 * JetStream reserves each stream's max_bytes against the server's store (nats-server's default max_file_store is
 * 75 % of the free disk at start), so the sum below (~2.6 GiB file, 16 MiB memory) is kept small enough for a
 * developer machine; a stream that cannot be created for lack of room names the `retention.*` field to lower.
 */
const MiB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Stage events kept at most (bytes; the oldest go first). An event is ~0.5 KB, so 512 MiB is about a million
 * events: hours of the local stack at full load, far more than the autoscaler replays (its window is minutes) and
 * the 24 h `events.maxAgeMs` usually ends them first.
 */
export const DEFAULT_STAGE_EVENTS_MAX_BYTES = 512 * MiB;

/** Autoscaler decision records (the control stream) are kept this long: a day of runs for `bench` and review. */
export const DEFAULT_CONTROL_MAX_AGE_MS = DAY_MS;
/** ...and at most this many bytes (the oldest go first): a record is 1-3 KB, one per model per tick (1 s). */
export const DEFAULT_CONTROL_MAX_BYTES = 64 * MiB;

/**
 * Billing facts are the ledger's only source (`serflow cost`), so they are kept long and dropped only oldest-first:
 * 90 days covers a monthly bill, the month before it and time to question it.
 */
export const DEFAULT_BILLING_MAX_AGE_MS = 90 * DAY_MS;
/**
 * ...and at most this many bytes (the oldest go first). A fact is ~0.35 KB stored, so 1 GiB is ~3 million facts:
 * a VM pool makes a handful per VM, functions one per invocation (weeks at a few invocations/s). It must stay far
 * above what the outbox can hold in flight (its retry horizon is minutes), so no fact is dropped before it is read.
 */
export const DEFAULT_BILLING_MAX_BYTES = 1024 * MiB;

/**
 * Each KV bucket (autoscaler decisions, routing plans, worker records) at most this many bytes. Their keys are one
 * per model or per worker with a short history (1-5), so real use is kilobytes; the bound only stops a runaway
 * writer. A full bucket refuses writes (KV buckets discard new), it never drops another key's value.
 */
export const DEFAULT_KV_BUCKET_MAX_BYTES = 16 * MiB;

/**
 * The claim-check object store at most this many bytes. Objects are deleted when their query's client has the
 * result, and expire after `activations.ttlMs` otherwise, so this holds the in-flight activations only: 1 GiB is
 * a thousand 1 MB activations. A full store refuses new objects (object stores discard new) and the stage retries,
 * it never drops the chunks of an object a query still needs.
 */
export const DEFAULT_ACTIVATIONS_MAX_BYTES = 1024 * MiB;

/**
 * VMs one pool may be scaled to through the pool API (`serflow pools scale`, the autoscaler's actuator). The local
 * stack runs a process per VM (~150 MB each), so 64 is already more than a developer machine holds; it stops a
 * typo (`--vms 1000`) from forking a thousand processes. Must be at least the autoscaler's `maxVms` (8 by default).
 */
export const DEFAULT_POOL_MAX_VMS = 64;

/**
 * A pools API reply is kept under this many bytes (and under the server's max_payload, 1 MiB by default): past it,
 * the oldest terminated VMs are left out of the list and the reply says how many.
 */
export const DEFAULT_POOLS_REPLY_MAX_BYTES = 512 * 1024;

/**
 * Log files of the embedded stack's processes (`<dataDir>/logs/<name>.log`) rotate at this size: `name.log` is
 * current, `name.log.1` the previous, ... So a stack left running for weeks keeps its logs bounded.
 */
export const DEFAULT_LOG_MAX_BYTES = 10 * MiB;
/** Rotated files kept per process besides the current one: 3 x 10 MiB of history is days of a busy worker. */
export const DEFAULT_LOG_FILES_KEPT = 3;

/**
 * Upper bounds of `serflow infer` / `serflow demo` flags. `--samples`: the workload keeps every outcome (~2 KB)
 * in memory, so 100 000 (~200 MB, a half hour of the local stack) is the most one run may ask for.
 */
export const MAX_INFER_SAMPLES = 100_000;
/** `--concurrency`: each query in flight holds a result long-poll on the one Temporal connection; 1 000 is plenty. */
export const MAX_INFER_CONCURRENCY = 1_000;
/** `--rate` (queries/s): a hundred times what the local stack serves; more only piles up queued workflows. */
export const MAX_INFER_RATE_QPS = 10_000;

/**
 * `serflow serve` (the Open Inference Protocol endpoint) listens on loopback unless told otherwise: it has no
 * authentication, so exposing it is a deliberate `serve.host: "0.0.0.0"` behind whatever guards the network.
 */
export const DEFAULT_SERVE_HOST = '127.0.0.1';
/** KServe's and most OIP servers' HTTP port, so a client's default URL works. */
export const DEFAULT_SERVE_PORT = 8080;
/**
 * Largest request body, bytes; larger ones get 413 before they are parsed. A 224x224x3 FP32 image written as JSON
 * numbers (150 528 values of up to ~20 characters) is about 3 MB; the default model's image is about 16 KB.
 */
export const DEFAULT_SERVE_MAX_BODY_BYTES = 4 * MiB;
/**
 * Inference requests in flight at once; one more gets 503 at once (with Retry-After) instead of queueing in the
 * server. Each holds a parsed body (at most maxBodyBytes) until its workflow starts and a result long-poll on the
 * client's one Temporal connection until it ends, so 128 bounds the server to about half a GiB of bodies.
 */
export const DEFAULT_SERVE_MAX_IN_FLIGHT = 128;

/** How orchestration is priced: bought from Temporal Cloud per action, or self-hosted, paid in server CPU. */
export const ORCHESTRATION_PRICING = ['temporal-cloud', 'self-hosted'] as const;

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().nonnegative();

// Strict objects: a misspelt or unknown key is an error, not silently a default (`stages.timeoutMS` would leave the
// stage timeout at 10 s without a word).
export const configSchema = z.strictObject({
  /** Project-local state: data of the embedded stack, downloaded tools, the `up --detach` state file. */
  homeDir: z.string().default(DEFAULT_HOME_DIR),
  modelsDir: z.string().default(MODELS_DIR),
  defaultModel: z.string().min(1).default(DEFAULT_MODEL),
  temporal: z
    .object({
      /** host:port of an existing Temporal frontend; unset = start the embedded dev server. */
      address: z.string().min(1).optional(),
      namespace: z.string().min(1).default(DEFAULT_NAMESPACE),
      /** Embedded dev server ports; 0 = pick a free one. */
      port: port.default(0),
      uiPort: port.default(0),
      /** Extra dynamic config of the embedded dev server, merged over DEFAULT_DEV_SERVER_DYNAMIC_CONFIG. */
      devServerDynamicConfig: z
        .record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]))
        .default({})
        .transform((extra) => ({ ...DEFAULT_DEV_SERVER_DYNAMIC_CONFIG, ...extra })),
    })
    .strict()
    .prefault({}),
  nats: z
    .object({
      /** URL of an existing NATS server with JetStream; unset = start the embedded nats-server. */
      url: z.string().min(1).optional(),
      port: port.default(0),
    })
    .strict()
    .prefault({}),
  activations: z
    .object({
      inlineMaxBytes: z.number().int().nonnegative().default(DEFAULT_INLINE_ACTIVATION_MAX_BYTES),
      ttlMs: z.number().int().positive().default(DEFAULT_ACTIVATION_TTL_MS),
    })
    .strict()
    .prefault({}),
  events: z
    .object({ maxAgeMs: z.number().int().positive().default(DEFAULT_EVENTS_MAX_AGE_MS) })
    .strict()
    .prefault({}),
  /** Size and age limits of the JetStream streams and buckets (infra/nats.ts applies them at every start). */
  retention: z
    .object({
      stageEventsMaxBytes: z.number().int().positive().default(DEFAULT_STAGE_EVENTS_MAX_BYTES),
      controlMaxAgeMs: z.number().int().positive().default(DEFAULT_CONTROL_MAX_AGE_MS),
      controlMaxBytes: z.number().int().positive().default(DEFAULT_CONTROL_MAX_BYTES),
      billingMaxAgeMs: z.number().int().positive().default(DEFAULT_BILLING_MAX_AGE_MS),
      billingMaxBytes: z.number().int().positive().default(DEFAULT_BILLING_MAX_BYTES),
      kvBucketMaxBytes: z.number().int().positive().default(DEFAULT_KV_BUCKET_MAX_BYTES),
      activationsMaxBytes: z.number().int().positive().default(DEFAULT_ACTIVATIONS_MAX_BYTES),
    })
    .strict()
    .prefault({}),
  pools: z
    .object({
      /** The pool API refuses to scale a pool above this (DEFAULT_POOL_MAX_VMS). */
      maxVmsPerPool: z.number().int().positive().default(DEFAULT_POOL_MAX_VMS),
      replyMaxBytes: z.number().int().min(4096).default(DEFAULT_POOLS_REPLY_MAX_BYTES),
    })
    .strict()
    .prefault({}),
  /** Rotation of the embedded stack's process logs. */
  logs: z
    .object({
      maxBytes: z.number().int().min(4096).default(DEFAULT_LOG_MAX_BYTES),
      filesKept: z.number().int().min(1).max(100).default(DEFAULT_LOG_FILES_KEPT),
    })
    .strict()
    .prefault({}),
  workers: z
    .object({
      stageConcurrency: z.number().int().positive().default(DEFAULT_STAGE_CONCURRENCY),
      inferenceThreads: z.number().int().positive().default(DEFAULT_INFERENCE_THREADS),
      intraOpThreads: z.number().int().positive().default(DEFAULT_INTRA_OP_THREADS),
      heartbeatMs: z.number().int().positive().default(DEFAULT_WORKER_HEARTBEAT_MS),
    })
    .strict()
    .prefault({}),
  /** Cloud time per wall time for delays (boot, cold start, keep-alive); bills stay in cloud time. */
  timeScale: z.number().positive().default(DEFAULT_TIME_SCALE),
  vm: z
    .object({
      instanceType: z.string().min(1).default(DEFAULT_VM_INSTANCE_TYPE),
      bootDelayMs: positiveMs.default(DEFAULT_VM_BOOT_DELAY_MS),
      /**
       * VMs per stage pool that the stack starts, ready at once (pre-provisioned, billed from start).
       * @default 1 without an autoscaler; 0 with one (queries start serverless and the policy adds VMs as the
       * observed load pays for them: `initialVmsPerStage()`)
       */
      initialPerStage: z.number().int().nonnegative().optional(),
    })
    .strict()
    .prefault({}),
  /** A VM's own liveness facts and how the ledger reads their absence (billing/ledger.ts). */
  vmLiveness: z
    .object({
      /** A VM's `vm.alive` fact every this many wall ms (DEFAULT_VM_LIVENESS_INTERVAL_MS). */
      intervalMs: z.number().int().positive().default(DEFAULT_VM_LIVENESS_INTERVAL_MS),
      /** Liveness older than this ends an unended VM's bill, flagged (DEFAULT_VM_LIVENESS_STALE_MS). */
      staleMs: z.number().int().positive().default(DEFAULT_VM_LIVENESS_STALE_MS),
    })
    .strict()
    .refine((v) => v.staleMs > v.intervalMs, {
      message: 'must be above vmLiveness.intervalMs (a live VM would be cut between two of its liveness facts)',
      path: ['staleMs'],
    })
    .prefault({}),
  faas: z
    .object({
      memoryMb: z.number().int().min(128).max(10_240).default(DEFAULT_FAAS_MEMORY_MB),
      /** Per-stage memory sizes, e.g. `{ "3": 1024 }`; stages not listed use `memoryMb`. */
      stageMemoryMb: z.record(z.string().regex(/^[1-9][0-9]*$/), z.number().int().min(128).max(10_240)).default({}),
      coldStartExtraMs: positiveMs.default(DEFAULT_FAAS_COLD_START_EXTRA_MS),
      keepAliveMs: positiveMs.default(DEFAULT_FAAS_KEEP_ALIVE_MS),
      accountConcurrency: z.number().int().positive().default(DEFAULT_FAAS_ACCOUNT_CONCURRENCY),
    })
    .strict()
    .prefault({}),
  prices: z
    .object({
      /** Price per hour of each VM instance type, USD. */
      vmPerHourUsd: z
        .record(z.string().min(1), z.number().nonnegative())
        .default({})
        .transform((extra): Record<string, number> => ({
          [DEFAULT_VM_INSTANCE_TYPE]: DEFAULT_VM_PRICE_PER_HOUR_USD,
          ...extra,
        })),
      vmMinBilledSeconds: z.number().nonnegative().default(DEFAULT_VM_MIN_BILLED_SECONDS),
      faasPerGbSecondUsd: z.number().nonnegative().default(DEFAULT_FAAS_PRICE_PER_GB_SECOND_USD),
      faasPerRequestUsd: z.number().nonnegative().default(DEFAULT_FAAS_PRICE_PER_REQUEST_USD),
      faasBillingGranularityMs: z.number().positive().default(DEFAULT_FAAS_BILLING_GRANULARITY_MS),
    })
    .strict()
    .prefault({}),
  /**
   * What a Temporal action costs (billing/actions.ts says which operations are actions):
   * - `temporal-cloud`: `usdPerMillionActions` per million;
   * - `self-hosted`: the CPU an action costs the Temporal server and the workflow worker (`cpuMsPerAction`; unset:
   *   the overhead benchmark's measurement in bench/results/overhead.json), at the price of a vCPU-second of
   *   `instanceType` (its hourly price / 3600 / `vcpus`).
   */
  orchestration: z
    .object({
      pricing: z.enum(ORCHESTRATION_PRICING).default('temporal-cloud'),
      usdPerMillionActions: z.number().nonnegative().default(DEFAULT_TEMPORAL_CLOUD_USD_PER_MILLION_ACTIONS),
      cpuMsPerAction: z.number().positive().optional(),
      instanceType: z.string().min(1).default(DEFAULT_VM_INSTANCE_TYPE),
      vcpus: z.number().int().positive().default(DEFAULT_VM_VCPUS),
    })
    .strict()
    .prefault({}),
  /** A static routing plan the stack publishes for every model when it starts (`serflow route set` syntax). */
  routing: z
    .object({
      /** e.g. `all-vm`, `all-faas`, `vm-prefix:2`, `shares:1,1,0.5,0`; unset = publish nothing (all on VMs). */
      plan: z
        .string()
        .min(1)
        .superRefine((spec, ctx) => {
          try {
            parsePlanSpec(spec);
          } catch (err) {
            ctx.addIssue({
              code: 'custom',
              message: `expected a plan spec: ${PLAN_SPEC_FORMS} (${(err as Error).message})`,
            });
          }
        })
        .optional(),
      overflowAfterMs: z.number().positive().optional(),
    })
    .strict()
    .prefault({}),
  /**
   * The control plane (policy, tick, EWMA weights, SLO, ...): validated by `compileAutoscalerConfig` in
   * `autoscaler/config.ts`, which documents every field and its default (kept there, with the policies).
   */
  autoscaler: z.record(z.string(), z.unknown()).default({}),
  stages: z
    .object({
      timeoutMs: z.number().int().positive().default(DEFAULT_STAGE_TIMEOUT_MS),
      maxAttempts: z.number().int().positive().default(DEFAULT_STAGE_MAX_ATTEMPTS),
      heartbeatTimeoutMs: z.number().int().positive().default(DEFAULT_STAGE_HEARTBEAT_TIMEOUT_MS),
      queueTimeoutMs: z.number().int().positive().default(DEFAULT_STAGE_QUEUE_TIMEOUT_MS),
    })
    .strict()
    .prefault({}),
  queries: z
    .object({
      /** Every query ends within this long (DEFAULT_QUERY_DEADLINE_MS); a client call may ask for less. */
      deadlineMs: z.number().int().positive().default(DEFAULT_QUERY_DEADLINE_MS),
    })
    .strict()
    .prefault({}),
  /** The Open Inference Protocol v2 HTTP endpoint (`serflow serve`, cli/serve-command.ts). */
  serve: z
    .object({
      host: z.string().min(1).default(DEFAULT_SERVE_HOST),
      /** 0 = pick a free one (the server prints the port it bound). */
      port: port.default(DEFAULT_SERVE_PORT),
      maxBodyBytes: z.number().int().min(1024).default(DEFAULT_SERVE_MAX_BODY_BYTES),
      maxInFlight: z.number().int().positive().default(DEFAULT_SERVE_MAX_IN_FLIGHT),
    })
    .strict()
    .prefault({}),
  /** Where stage pools and functions run: `local` (the embedded stack), `aws` or `kubernetes` (cloud-config.ts). */
  cloud: z.enum(CLOUDS).default('local'),
  aws: awsConfigSchema,
  kubernetes: kubernetesConfigSchema,
  telemetry: telemetryConfigSchema,
});

/** Configuration as written by a user (every field optional). */
export type SerflowConfigInput = z.input<typeof configSchema>;
/** Configuration with every default filled in. */
export type SerflowConfig = z.output<typeof configSchema>;

/** VMs each stage pool starts with: the configured number, else 1 without an autoscaler and 0 with one. */
export function initialVmsPerStage(config: SerflowConfig, autoscaler: boolean): number {
  return config.vm.initialPerStage ?? (autoscaler ? 0 : 1);
}

/** Validate a raw configuration object, filling defaults. Throws ConfigError naming each bad field. */
export function compileConfig(raw: unknown, source = 'config'): SerflowConfig {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(`invalid ${source}: ${formatIssues(parsed.error, raw ?? {})}`);
  return parsed.data;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** The part of the configuration that environment variables set. */
export function configFromEnv(env: NodeJS.ProcessEnv): SerflowConfigInput {
  return {
    homeDir: env.SERFLOW_HOME || undefined,
    temporal: { address: env.TEMPORAL_ADDRESS || undefined, namespace: env.TEMPORAL_NAMESPACE || undefined },
    nats: { url: env.NATS_URL || undefined },
  };
}

/**
 * Load the configuration: defaults, then the config file, then the environment, then `overrides`.
 * A missing default file is fine; a missing file named by `SERFLOW_CONFIG` is an error.
 */
export function loadConfig(overrides: SerflowConfigInput = {}, env: NodeJS.ProcessEnv = process.env): SerflowConfig {
  const named = env.SERFLOW_CONFIG;
  const file = named ? path.resolve(named) : path.resolve('serflow.config.json');
  let fromFile: Record<string, unknown> = {};
  let source = 'config';
  if (env.SERFLOW_CONFIG_JSON) {
    source = 'config (SERFLOW_CONFIG_JSON + environment)';
    fromFile = parseConfigObject(env.SERFLOW_CONFIG_JSON, 'SERFLOW_CONFIG_JSON');
  } else if (fs.existsSync(file)) {
    source = `config (${file} + environment)`;
    fromFile = parseConfigObject(fs.readFileSync(file, 'utf8'), `config file ${file}`);
  } else if (named) {
    throw new ConfigError(`SERFLOW_CONFIG names ${file}, which does not exist`);
  }
  const profile = loadTemporalProfile(env, { fileOnly: true });
  const fromProfile = { temporal: { address: profile.address, namespace: profile.namespace } };
  const merged = [fromFile, configFromEnv(env), overrides].reduce<Record<string, unknown>>(
    (acc, layer) => deepMerge(acc, layer),
    fromProfile,
  );
  return compileConfig(merged, source);
}

/** Parse a JSON configuration layer; it must be an object (a list or a number would silently mean "defaults"). */
function parseConfigObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${where}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${where}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}
