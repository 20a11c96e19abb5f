/** The check both NATS security tests make of a connection: TLS was required, and JetStream works over it. */
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { compileConfig } from '../../common/config';
import { ensureNatsResources } from '../../infra/nats';

/**
 * Over `nc`: the server required TLS, SERFLOW's streams and buckets are made (config with `homeDir`), and the KV
 * bucket `bucket` stores a value and gives it back. Leaves `nc` open.
 */
export async function assertJetStreamOverTls(nc: NatsConnection, homeDir: string, bucket: string): Promise<void> {
  assert.equal(nc.info?.tls_required, true, 'the server requires TLS');
  await ensureNatsResources(nc, compileConfig({ homeDir }));
  const kv = await nc.jetstream().views.kv(bucket);
  await kv.put('k', 'v');
  assert.equal((await kv.get('k'))?.string(), 'v');
}
