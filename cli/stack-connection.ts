/** How CLI commands reach the running stack's NATS: NATS_URL / config, else the `serflow up --detach` state file. */
import type { NatsConnection } from 'nats';
import type { SerflowConfig } from '../common/config';
import { connectNats } from '../infra/nats';
import { discoverStack, requireNatsUrl } from '../infra/stack-state';

export function stackNatsUrl(config: SerflowConfig): string {
  return requireNatsUrl(discoverStack(config));
}

/** Run `fn` with a NATS connection to the stack, closing it afterwards. */
export async function withStackNats<T>(
  config: SerflowConfig,
  name: string,
  fn: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connectNats(stackNatsUrl(config), name, 3_000);
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}
