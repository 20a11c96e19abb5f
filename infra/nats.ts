/**
 * NATS JetStream resources of SERFLOW: the stage-event stream, the claim-check object store and the
 * worker-liveness KV bucket. `ensureNatsResources` is idempotent; every process that needs them calls it
 * at start so no process depends on another having run first.
 */
import { connect, nanos, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import {
  BILLING_DEDUP_WINDOW_MS,
  BILLING_EVENTS_STREAM,
  BILLING_EVENTS_SUBJECT_PREFIX,
} from '../common/billing-events';
import type { SerflowConfig } from '../common/config';
import { natsAuthFromEnv, splitNatsUrl } from './nats-auth';
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
    throw new Error(`cannot connect to NATS at ${servers}: ${(err as Error).message}`, { cause: err });
  }
}

/** Create (or update to the configured limits) the stream, object store and KV bucket SERFLOW uses. */
export async function ensureNatsResources(nc: NatsConnection, config: SerflowConfig): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const stream = {
    name: STAGE_EVENTS_STREAM,
    subjects: [`${STAGE_EVENTS_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(config.events.maxAgeMs),
    // Events carry a Nats-Msg-Id per (workflow run, stage): a retried stage attempt that already published
    // is dropped as a duplicate within this window, so each executed stage yields one event.
    duplicate_window: nanos(2 * 60 * 1000),
  };
  try {
    await jsm.streams.info(STAGE_EVENTS_STREAM);
    await jsm.streams.update(STAGE_EVENTS_STREAM, stream);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(stream);
  }
  const billing = {
    name: BILLING_EVENTS_STREAM,
    subjects: [`${BILLING_EVENTS_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // Bills must survive as long as anyone may ask for them: no age limit (a real deployment would archive).
    // A fact re-published by the outbox (its first ack lost) is dropped within this window, which covers the
    // outbox's whole retry horizon (billing/publisher.ts).
    duplicate_window: nanos(BILLING_DEDUP_WINDOW_MS),
  };
  try {
    const info = await jsm.streams.info(BILLING_EVENTS_STREAM);
    if (info.config.duplicate_window !== billing.duplicate_window) {
      await jsm.streams.update(BILLING_EVENTS_STREAM, { ...info.config, duplicate_window: billing.duplicate_window });
    }
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(billing);
  }
  try {
    await jsm.streams.info(CONTROL_STREAM);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add({
      name: CONTROL_STREAM,
      subjects: [`${CONTROL_SUBJECT_PREFIX}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(config.events.maxAgeMs),
    });
  }
  const js = nc.jetstream();
  await js.views.kv(AUTOSCALER_BUCKET, { history: 1, storage: StorageType.File });
  await js.views.kv(ROUTING_BUCKET, { history: 5, storage: StorageType.File });
  await js.views.os(ACTIVATIONS_BUCKET, { ttl: nanos(config.activations.ttlMs), storage: StorageType.File });
  await js.views.kv(WORKERS_BUCKET, { ttl: 3 * config.workers.heartbeatMs, history: 1, storage: StorageType.Memory });
}
