/**
 * NATS JetStream resources of SERFLOW: the stage-event stream, the claim-check object store and the
 * worker-liveness KV bucket. `ensureNatsResources` is idempotent; every process that needs them calls it
 * at start so no process depends on another having run first.
 */
import {
  connect,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import {
  BILLING_DEDUP_WINDOW_MS,
  BILLING_EVENTS_STREAM,
  BILLING_EVENTS_SUBJECT_PREFIX,
} from '../common/billing-events';
import type { SerflowConfig } from '../common/config';
import { STAGE_EVENTS_DEDUP_WINDOW_MS } from '../common/events';
import { natsAuthFromEnv, splitNatsUrl } from './nats-auth';
import { StackUnreachableError } from './stack-state';
import {
  ACTIVATIONS_BUCKET,
  AUTOSCALER_BUCKET,
  CONTROL_STREAM,
  CONTROL_SUBJECT_PREFIX,
  ROUTING_BUCKET,
  STAGE_EVENTS_STREAM,
  STAGE_EVENTS_SUBJECT_PREFIX,
  WORKERS_BUCKET,
} from '../common/naming';

/**
 * Connect to NATS with a readable connection name; fails after `timeoutMs` if the server is not there.
 * Credentials and TLS come from the environment (infra/nats-auth.ts); credentials in the URL are taken from it.
 */
export async function connectNats(
  url: string,
  name: string,
  timeoutMs = 5_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NatsConnection> {
  const { url: servers, env: fromUrl } = splitNatsUrl(url);
  const auth = natsAuthFromEnv({ ...env, ...fromUrl });
  try {
    return await connect({
      servers,
      name,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...auth,
    });
  } catch (err) {
    throw new StackUnreachableError(`cannot connect to NATS at ${servers}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The limits SERFLOW manages on one JetStream stream (a KV bucket and an object store are streams too). */
export interface StreamLimits {
  /** Age limit, ns (0 = none). */
  max_age: number;
  /** Size limit, bytes. */
  max_bytes: number;
  /** Messages kept per subject (a KV bucket's history); -1 = no limit. */
  max_msgs_per_subject?: number;
  /** Which messages a full stream gives up: the oldest (`old`), or the new one is refused (`new`). */
  discard: DiscardPolicy;
  /** Duplicate window, ns (streams whose publishers set message ids). */
  duplicate_window?: number;
}

/** Stream name of a KV bucket and of an object store (nats.js's naming). */
export const kvStreamName = (bucket: string): string => `KV_${bucket}`;
export const objectStoreStreamName = (bucket: string): string => `OBJ_${bucket}`;

/**
 * The limits of every stream and bucket SERFLOW uses, by stream name, from the configuration's `retention` section
 * (common/config.ts explains each default). Pure: tests check it without a server.
 */
export function streamLimits(config: SerflowConfig): Record<string, StreamLimits> {
  const r = config.retention;
  return {
    // Events carry a Nats-Msg-Id per (workflow run, stage): a retried stage attempt that already published, or an
    // event the worker's outbox re-sends through a NATS outage, is dropped as a duplicate within the window (which
    // covers the outbox's whole retry horizon, activities/stage-events.ts), so each executed stage yields one event.
    [STAGE_EVENTS_STREAM]: {
      max_age: nanos(config.events.maxAgeMs),
      max_bytes: r.stageEventsMaxBytes,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(STAGE_EVENTS_DEDUP_WINDOW_MS),
    },
    // A fact re-published by the outbox (its first ack lost) is dropped within this window, which covers the
    // outbox's whole retry horizon (billing/publisher.ts). Facts leave only by age or, oldest first, by size.
    [BILLING_EVENTS_STREAM]: {
      max_age: nanos(r.billingMaxAgeMs),
      max_bytes: r.billingMaxBytes,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(BILLING_DEDUP_WINDOW_MS),
    },
    [CONTROL_STREAM]: { max_age: nanos(r.controlMaxAgeMs), max_bytes: r.controlMaxBytes, discard: DiscardPolicy.Old },
    // KV buckets refuse writes when full (discard new), so a runaway writer cannot push another key's value out.
    [kvStreamName(AUTOSCALER_BUCKET)]: {
      max_age: 0,
      max_bytes: r.kvBucketMaxBytes,
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.New,
    },
    [kvStreamName(ROUTING_BUCKET)]: {
      max_age: 0,
      max_bytes: r.kvBucketMaxBytes,
      max_msgs_per_subject: 5,
      discard: DiscardPolicy.New,
    },
    [kvStreamName(WORKERS_BUCKET)]: {
      max_age: nanos(3 * config.workers.heartbeatMs),
      max_bytes: r.kvBucketMaxBytes,
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.New,
    },
    // An object store refuses new objects when full (discard new): dropping old chunks would corrupt an object a
    // query still needs. Objects are deleted when their query ends (client/serflow-client.ts), else expire.
    [objectStoreStreamName(ACTIVATIONS_BUCKET)]: {
      max_age: nanos(config.activations.ttlMs),
      max_bytes: r.activationsMaxBytes,
      discard: DiscardPolicy.New,
    },
  };
}

/** The managed fields of `limits` that differ in `current` (a stream created by an older version, say). */
export function limitsToUpdate(current: Partial<StreamConfig>, limits: StreamLimits): Partial<StreamLimits> {
  const out: Partial<StreamLimits> = {};
  for (const [k, v] of Object.entries(limits) as [keyof StreamLimits, number | DiscardPolicy][]) {
    if (v !== undefined && current[k] !== v) Object.assign(out, { [k]: v });
  }
  // The server refuses a duplicate window longer than the age limit: one it chose itself (2 min) shrinks with it.
  const window = limits.duplicate_window ?? current.duplicate_window ?? 0;
  if (limits.max_age > 0 && window > limits.max_age) out.duplicate_window = limits.max_age;
  return out;
}

/** JetStream could not reserve a stream's max_bytes: name the setting to lower. */
function explainLimitError(err: unknown, stream: string): never {
  const message = (err as Error).message;
  if (/insufficient (storage )?resources|resources exceeded|no suitable peers/i.test(message)) {
    throw new Error(
      `NATS JetStream has no room for stream ${stream}'s size limit (${message}): lower its retention.* setting ` +
        `(common/config.ts) or give nats-server more store (max_file_store)`,
      { cause: err },
    );
  }
  throw err;
}

/**
 * Bring an existing stream to `limits` (only when a managed field differs; other settings are kept). `current` is
 * its configuration when the caller has just fetched it; else it is fetched here.
 */
async function applyLimits(
  jsm: JetStreamManager,
  stream: string,
  limits: StreamLimits,
  current?: StreamConfig,
): Promise<void> {
  const update = limitsToUpdate(current ?? (await jsm.streams.info(stream)).config, limits);
  if (Object.keys(update).length === 0) return;
  await jsm.streams.update(stream, update).catch((err: unknown) => explainLimitError(err, stream));
}

/** Create `config` with `limits`, or bring the existing stream to them (one info call either way). */
async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig>, limits: StreamLimits) {
  const name = config.name as string;
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(name)).config;
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add({ ...config, ...limits }).catch((e: unknown) => explainLimitError(e, name));
    return;
  }
  await applyLimits(jsm, name, limits, current);
}

/**
 * Create the streams, KV buckets and object store SERFLOW uses, each with its limits (`streamLimits`); those made
 * by an older version (without limits, or with others) are updated to the configured limits.
 */
export async function ensureNatsResources(nc: NatsConnection, config: SerflowConfig): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const limits = streamLimits(config);
  const stream = (name: string, prefix: string): Partial<StreamConfig> => ({
    name,
    subjects: [`${prefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
  });
  await ensureStream(jsm, stream(STAGE_EVENTS_STREAM, STAGE_EVENTS_SUBJECT_PREFIX), limits[STAGE_EVENTS_STREAM]!);
  await ensureStream(jsm, stream(BILLING_EVENTS_STREAM, BILLING_EVENTS_SUBJECT_PREFIX), limits[BILLING_EVENTS_STREAM]!);
  await ensureStream(jsm, stream(CONTROL_STREAM, CONTROL_SUBJECT_PREFIX), limits[CONTROL_STREAM]!);
  const js = nc.jetstream();
  // nats.js creates a missing bucket with these options but never changes an existing one: applyLimits does.
  const kv = async (bucket: string, storage: StorageType) => {
    const l = limits[kvStreamName(bucket)]!;
    await js.views
      .kv(bucket, {
        history: l.max_msgs_per_subject,
        max_bytes: l.max_bytes,
        storage,
        ...(l.max_age > 0 ? { ttl: l.max_age / 1e6 } : {}),
      })
      .catch((e: unknown) => explainLimitError(e, kvStreamName(bucket)));
    await applyLimits(jsm, kvStreamName(bucket), l);
  };
  await kv(AUTOSCALER_BUCKET, StorageType.File);
  await kv(ROUTING_BUCKET, StorageType.File);
  await kv(WORKERS_BUCKET, StorageType.Memory);
  const os = limits[objectStoreStreamName(ACTIVATIONS_BUCKET)]!;
  await js.views
    .os(ACTIVATIONS_BUCKET, { ttl: os.max_age, max_bytes: os.max_bytes, storage: StorageType.File })
    .catch((e: unknown) => explainLimitError(e, objectStoreStreamName(ACTIVATIONS_BUCKET)));
  await applyLimits(jsm, objectStoreStreamName(ACTIVATIONS_BUCKET), os);
}
