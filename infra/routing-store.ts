/**
 * Routing plans in the NATS KV bucket `serflow-routing` (key: model name). Writers: `serflow route set`, the
 * autoscaler. Readers: the client, which sends the plan with each query it starts, and the workflow worker's model
 * lookup (for queries that come without one); both keep a watched in-memory copy so a query does not pay a KV
 * round trip.
 */
import type { KV, KvEntry, NatsConnection } from 'nats';
import { ROUTING_BUCKET } from '../common/naming';
import { checkStoredPlan, isRejectedPlan, type RoutingPlan, type StoredPlan } from '../common/routing';

export interface RoutingStore {
  /**
   * The plan in force for `model`: the latest stored plan; when the latest value was rejected, the last good plan
   * this store saw, else the rejection (readers then run every stage serverless); null when none was published.
   */
  get(model: string): Promise<StoredPlan | null>;
  /** Publish a plan; it is checked first (`checkStoredPlan`), so a writer cannot store what readers would reject. */
  put(plan: RoutingPlan): Promise<void>;
  /** Remove the model's plan (queries then run every stage on VMs until a plan is published). */
  clear(model: string): Promise<void>;
  /** Stored values rejected since this store opened (each also reported once on the console). */
  readonly rejected: number;
  close(): void;
}

/** JetStream stream behind a KV bucket (nats.js names it `KV_<bucket>`). */
const ROUTING_STREAM = `KV_${ROUTING_BUCKET}`;

/** What an entry holds: null for a deletion, else the plan if it passes `checkStoredPlan`, else the rejection. */
function storedOf(entry: KvEntry): StoredPlan | null {
  if (entry.operation !== 'PUT') return null;
  let raw: unknown;
  try {
    raw = entry.json<unknown>();
  } catch (err) {
    const why = `plan for ${entry.key}: not JSON (${entry.value.length} bytes: ${(err as Error).message})`;
    return { model: entry.key, rejected: why };
  }
  try {
    return checkStoredPlan(raw, entry.key);
  } catch (err) {
    return { model: entry.key, rejected: (err as Error).message };
  }
}

export async function createRoutingStore(nc: NatsConnection, options: { watch?: boolean } = {}): Promise<RoutingStore> {
  const kv: KV = await nc.jetstream().views.kv(ROUTING_BUCKET);
  const cache = new Map<string, StoredPlan | null>();
  let watching = options.watch === true;
  let rejected = 0;
  let stop = () => undefined as void;
  /** Bring `read` into force for `key`: a rejected value leaves the last good plan in force. */
  const settle = (key: string, read: StoredPlan | null): StoredPlan | null => {
    if (!isRejectedPlan(read)) return read;
    rejected++;
    const previous = cache.get(key);
    const kept = previous && !isRejectedPlan(previous) ? previous : null;
    console.warn(
      `routing plan of ${key} rejected (${read.rejected}); in force: ` +
        (kept ? `the last good plan (${kept.source})` : 'every stage serverless'),
    );
    return kept ?? read;
  };
  if (watching) {
    const watcher = await kv.watch();
    stop = () => watcher.stop();
    void (async () => {
      for await (const e of watcher) cache.set(e.key, settle(e.key, storedOf(e)));
    })().catch((err: unknown) => {
      // A failed watch must not take its process down (the client runs in users' processes): reads then go to the
      // bucket, and the cache is dropped rather than left stale.
      console.warn(`routing plan watch ended: ${(err as Error).message}`);
      watching = false;
      cache.clear();
    });
  }
  return {
    async get(model) {
      if (watching && cache.has(model)) return cache.get(model) ?? null;
      const entry = await kv.get(model);
      const plan = settle(model, entry ? storedOf(entry) : null);
      if (watching) cache.set(model, plan);
      return plan;
    },
    async put(plan) {
      checkStoredPlan(plan, plan.model);
      await kv.put(plan.model, JSON.stringify(plan));
      if (watching) cache.set(plan.model, plan);
    },
    async clear(model) {
      await kv.delete(model);
      if (watching) cache.set(model, null);
    },
    get rejected() {
      return rejected;
    },
    close: () => stop(),
  };
}

/**
 * A watched reader of the routing bucket for a process that must not create it (the client: the bucket's limits
 * are set where the stack's NATS resources are made, infra/nats.ts). Null while the bucket does not exist, which
 * means no plan was ever published.
 */
export async function openRoutingReader(nc: NatsConnection): Promise<RoutingStore | null> {
  try {
    await (await nc.jetstreamManager()).streams.info(ROUTING_STREAM);
  } catch (err) {
    if (/stream not found/i.test((err as Error).message)) return null;
    throw err;
  }
  return createRoutingStore(nc, { watch: true });
}
