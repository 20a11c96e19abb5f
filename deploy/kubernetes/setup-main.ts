/**
 * One-off setup of a cluster deployment, run as the workflow worker's init container (manifests.ts): registers
 * SERFLOW's search attributes on the existing Temporal namespace and creates (or updates the limits of) the
 * JetStream streams and buckets. Both are idempotent, so it runs at every start of a workflow-worker pod; a failure
 * exits non-zero and Kubernetes retries the init container with backoff, so the worker starts only once both exist.
 *   node lib/deploy/kubernetes/setup-main.js   (addresses from the SERFLOW config: temporal.address, nats.url)
 */
import { loadConfig } from '../../common/config';
import { connectNats, ensureNatsResources } from '../../infra/nats';
import { connectClientConnection, ensureSearchAttributes } from '../../infra/temporal';

/** How long each server may take to answer before the attempt fails (and the init container is retried). */
export const SETUP_CONNECT_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const { address } = config.temporal;
  const { url } = config.nats;
  if (!address || !url) {
    throw new Error(
      'setup needs temporal.address and nats.url in the SERFLOW config (the ConfigMap) or the environment',
    );
  }
  const conn = await connectClientConnection({ address, embedded: false }, SETUP_CONNECT_TIMEOUT_MS);
  try {
    await ensureSearchAttributes(conn, config.temporal.namespace);
  } finally {
    await conn.close();
  }
  const nc = await connectNats(url, 'serflow-setup', SETUP_CONNECT_TIMEOUT_MS);
  try {
    await ensureNatsResources(nc, config);
  } finally {
    await nc.close();
  }
  console.log(
    `serflow setup: search attributes on ${address} (${config.temporal.namespace}) and streams on ${url} ready`,
  );
}

main().catch((err: unknown) => {
  console.error(`serflow setup: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
