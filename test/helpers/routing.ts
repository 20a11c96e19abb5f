/** Publish a routing plan from a test and give the workflow worker's KV watch time to see it. */
import type { NatsConnection } from 'nats';
import { validateRoutingPlan, type RoutingPlan } from '../../common/routing';
import { createRoutingStore } from '../../infra/routing-store';
import { sleep } from './wait-until';

/**
 * Wall ms between `put` and the first query that must use the plan. The workflow worker reads plans from a
 * watched in-memory copy; on a local nats-server the watch delivers within a few ms, 500 ms leaves a margin
 * for a loaded 2-core machine.
 */
export const PLAN_SETTLE_MS = 500;

/** Validate `plan` against `stages`, put it in the routing bucket, and wait PLAN_SETTLE_MS. */
export async function publishPlan(nc: NatsConnection, plan: RoutingPlan, stages: number): Promise<void> {
  const store = await createRoutingStore(nc);
  try {
    await store.put(validateRoutingPlan(plan, stages));
  } finally {
    store.close();
  }
  await sleep(PLAN_SETTLE_MS);
}
