/**
 * Routing plans in the NATS KV bucket `serflow-routing` (key: model name). Writers: `serflow route set`, the
 * autoscaler. Readers: the workflow worker's model lookup, which keeps a watched in-memory copy so a query
 * does not pay a KV round trip.
 */
import type { KV, NatsConnection } from 'nats';
import { ROUTING_BUCKET } from '../common/naming';
import { ROUTING_PLAN_VERSION, type RoutingPlan, type StageRoute } from '../common/routing';

/** A plan that does not fit its model: stage numbers, shares or overflow values out of range. */
export class InvalidRoutingPlanError extends Error {
  override readonly name = 'InvalidRoutingPlanError';
}

/** Check a plan against the model's stage count; throws InvalidRoutingPlanError naming the bad field. */
export function validateRoutingPlan(plan: RoutingPlan, stages: number): RoutingPlan {
  // Plans come from a KV bucket anyone can write: the version is checked at run time, whatever the type says.
  const version: unknown = plan.v;
  if (version !== ROUTING_PLAN_VERSION) {
    throw new InvalidRoutingPlanError(`v: expected ${ROUTING_PLAN_VERSION}, got ${JSON.stringify(version)}`);
  }
  const seen = new Set<number>();
  plan.stages.forEach((r: StageRoute, i) => {
    const where = `plan for ${plan.model}: stages[${i}]`;
    if (!Number.isInteger(r.stage) || r.stage < 1 || r.stage > stages) {
      throw new InvalidRoutingPlanError(`${where}.stage: ${r.stage} is not a stage of ${plan.model} (1..${stages})`);
    }
    if (seen.has(r.stage)) throw new InvalidRoutingPlanError(`${where}.stage: stage ${r.stage} appears twice`);
    seen.add(r.stage);
    if (!(r.vmShare >= 0 && r.vmShare <= 1))
      throw new InvalidRoutingPlanError(`${where}.vmShare: ${r.vmShare} is not in [0, 1]`);
    if (r.overflowAfterMs !== undefined && !(r.overflowAfterMs > 0)) {
      throw new InvalidRoutingPlanError(
        `${where}.overflowAfterMs: ${r.overflowAfterMs} must be a positive number of ms`,
      );
    }
  });
  return plan;
}

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
