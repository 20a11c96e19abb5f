/**
 * Integration-test harness: a real Temporal dev server, a real nats-server (free ports, a temp dir) and real
 * worker processes, started through the same `startStack` as `serflow up`, and stopped with everything
 * removed afterwards.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NatsConnection } from 'nats';
import { SerflowClient } from '../../client';
import { compileConfig, type SerflowConfig, type SerflowConfigInput } from '../../common/config';
import { startStack, type RunningStack } from '../../deploy/local/stack';
import { connectNats } from '../../infra/nats';

export interface TestStack {
  config: SerflowConfig;
  stack: RunningStack;
  client: SerflowClient;
  nc: NatsConnection;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Settings that make tests quick: a lost stage attempt is retried after 3 s instead of 10 s, and a VM launched
 * during a test boots in 1 s of cloud time. Everything else is the product's default; tests that exercise boot
 * delays, cold starts or keep-alives set their own.
 */
export const TEST_CONFIG: SerflowConfigInput = { stages: { timeoutMs: 3_000 }, vm: { bootDelayMs: 1_000 } };

export async function startTestStack(
  overrides: SerflowConfigInput = {},
  options: { workers?: boolean } = {},
): Promise<TestStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-test-'));
  // Ignore any TEMPORAL_ADDRESS / NATS_URL of the environment: tests always start their own servers.
  const config = compileConfig({ ...TEST_CONFIG, ...overrides, homeDir: dir });
  const stack = await startStack({ config, dataDir: path.join(dir, 'data'), workers: options.workers });
  try {
    const client = await SerflowClient.connectToStack(stack.info, config);
    const nc = await connectNats(stack.info.natsUrl, 'serflow-test');
    return {
      config,
      stack,
      client,
      nc,
      dir,
      async stop() {
        await client.close().catch(() => undefined);
        await nc.close().catch(() => undefined);
        await stack.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
