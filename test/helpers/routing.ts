/** Publish a routing plan from a test and wait until the client that starts the next queries has it. */
import type { NatsConnection } from 'nats';
import type { SerflowClient } from '../../client';
import { validateRoutingPlan, type RoutingPlan } from '../../common/routing';
import { createRoutingStore } from '../../infra/routing-store';
import { concreteInputDims } from '../../models/manifest';
import { waitUntil } from './wait-until';

/**
 * Most wall ms for the client's watched copy of the routing bucket to show a new plan. A local nats-server
 * delivers the watch within milliseconds; this is only a ceiling for a stuck watch, not a wait.
 */
export const PLAN_SEEN_CEILING_MS = 30_000;

/**
 * Validate `plan` against `stages`, put it in the routing bucket, and wait until `client` sends it: a query carries
 * the plan its client resolved when starting it (ModelDescriptor.routing), so once `buildQuery` returns this plan,
 * every query the client starts follows it.
 */
export async function publishPlan(
  nc: NatsConnection,
  plan: RoutingPlan,
  stages: number,
  client: SerflowClient,
): Promise<void> {
  const valid = validateRoutingPlan(plan, stages);
  const store = await createRoutingStore(nc);
  try {
    await store.put(valid);
  } finally {
    store.close();
  }
  const first = client.manifest(plan.model).stages[0];
  if (!first) throw new Error(`model ${plan.model} has no stages`);
  const input = new Float32Array(concreteInputDims(first).reduce((a, b) => a * b, 1));
  await waitUntil(`the client sends plan ${plan.source} (${plan.updatedAt})`, PLAN_SEEN_CEILING_MS, async () => {
    const { descriptor } = await client.buildQuery(input, { model: plan.model });
    const sent = descriptor?.routing;
    return sent?.source === valid.source && sent.updatedAt === valid.updatedAt ? true : undefined;
  });
}
