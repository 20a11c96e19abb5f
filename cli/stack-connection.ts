/** How CLI commands reach the running stack's NATS: NATS_URL / config, else the `serflow up --detach` state file. */
import type { NatsConnection } from 'nats';
import type { SerflowConfig } from '../common/config';
import { readStateFile } from '../infra/stack-state';
import { connectNats } from '../infra/nats';
import { NoStackError } from '../client';

export function stackNatsUrl(config: SerflowConfig): string {
  const url = config.nats.url ?? readStateFile(config.homeDir)?.natsUrl;
  if (!url) throw new NoStackError('no NATS address: start the stack with `serflow up --detach`, or set NATS_URL');
  return url;
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
