/**
 * Routing plans in the NATS KV bucket `serflow-routing` (key: model name). Writers: `serflow route set`, the
 * autoscaler. Readers: the workflow worker's model lookup, which keeps a watched in-memory copy so a query
 * does not pay a KV round trip.
 */
import type { KV, NatsConnection } from 'nats';
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

export async function createRoutingStore(nc: NatsConnection, options: { watch?: boolean } = {}): Promise<RoutingStore> {
  const kv: KV = await nc.jetstream().views.kv(ROUTING_BUCKET);
  const cache = new Map<string, RoutingPlan | null>();
  let stop = () => undefined as void;
  if (options.watch) {
    const watcher = await kv.watch();
    stop = () => watcher.stop();
    void (async () => {
      for await (const e of watcher) {
        cache.set(e.key, e.operation === 'PUT' ? e.json<RoutingPlan>() : null);
      }
    })();
  }
  return {
    async get(model) {
      if (options.watch && cache.has(model)) return cache.get(model) ?? null;
      const entry = await kv.get(model);
      const plan = entry && entry.operation === 'PUT' ? entry.json<RoutingPlan>() : null;
      if (options.watch) cache.set(model, plan);
      return plan;
    },
    async put(plan) {
      await kv.put(plan.model, JSON.stringify(plan));
      if (options.watch) cache.set(plan.model, plan);
    },
    async clear(model) {
      await kv.delete(model);
      if (options.watch) cache.set(model, null);
    },
    close: () => stop(),
  };
}
