/**
 * Routing plans in the NATS KV bucket `serflow-routing` (key: model name). Writers: `serflow route set`, the
 * autoscaler. Readers: the client, which sends the plan with each query it starts, and the workflow worker's model
 * lookup (for queries that come without one); both keep a watched in-memory copy so a query does not pay a KV
 * round trip.
 */
import type { KV, KvEntry, NatsConnection } from 'nats';
import { ROUTING_BUCKET } from '../common/naming';
import type { RoutingPlan } from '../common/routing';

export interface RoutingStore {
  /** The latest plan of `model`, or null when none was published. */
  get(model: string): Promise<RoutingPlan | null>;
  put(plan: RoutingPlan): Promise<void>;
  /** Remove the model's plan (queries then run every stage on VMs until a plan is published). */
  clear(model: string): Promise<void>;
  close(): void;
}

/** JetStream stream behind a KV bucket (nats.js names it `KV_<bucket>`). */
const ROUTING_STREAM = `KV_${ROUTING_BUCKET}`;

/**
 * The plan an entry holds: null for a deletion, and for bytes that are not JSON (written by hand), which are
 * reported and then read as "no plan", like a plan that does not fit its model (models/descriptor.ts `usablePlan`).
 */
function planOf(entry: KvEntry): RoutingPlan | null {
  if (entry.operation !== 'PUT') return null;
  try {
    return entry.json<RoutingPlan>();
  } catch (err) {
    console.warn(`routing plan of ${entry.key} ignored (not JSON): ${(err as Error).message}`);
    return null;
  }
}

export async function createRoutingStore(nc: NatsConnection, options: { watch?: boolean } = {}): Promise<RoutingStore> {
  const kv: KV = await nc.jetstream().views.kv(ROUTING_BUCKET);
  const cache = new Map<string, RoutingPlan | null>();
  let watching = options.watch === true;
  let stop = () => undefined as void;
  if (watching) {
    const watcher = await kv.watch();
    stop = () => watcher.stop();
    void (async () => {
      for await (const e of watcher) cache.set(e.key, planOf(e));
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
      const plan = entry ? planOf(entry) : null;
      if (watching) cache.set(model, plan);
      return plan;
    },
    async put(plan) {
      await kv.put(plan.model, JSON.stringify(plan));
      if (watching) cache.set(plan.model, plan);
    },
    async clear(model) {
      await kv.delete(model);
      if (watching) cache.set(model, null);
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
