/**
 * Worker process entry point.
 *   node lib/workers/main.js workflow --temporal HOST:PORT --nats URL
 *   node lib/workers/main.js stage --model M --stage K --temporal HOST:PORT --nats URL
 * Addresses default to TEMPORAL_ADDRESS / NATS_URL; other settings come from the SERFLOW config (file + env).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config';
import { runStageWorker } from './stage-worker';
import { runWorkflowWorker } from './workflow-worker';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      temporal: { type: 'string' },
      nats: { type: 'string' },
      model: { type: 'string' },
      stage: { type: 'string' },
    },
  });
  const role = positionals[0];
  const config = loadConfig();
  const temporalAddress = values.temporal ?? config.temporal.address;
  const natsUrl = values.nats ?? config.nats.url;
  if (!temporalAddress || !natsUrl) {
    throw new Error('worker needs --temporal and --nats (or TEMPORAL_ADDRESS and NATS_URL)');
  }
  if (role === 'workflow') {
    await runWorkflowWorker({ config, temporalAddress, natsUrl });
  } else if (role === 'stage') {
    const stage = Number(values.stage);
    if (!values.model || !Number.isInteger(stage) || stage < 1) {
      throw new Error(
        `stage worker needs --model NAME and --stage K (a positive integer), got --stage ${values.stage}`,
      );
    }
    await runStageWorker({ config, temporalAddress, natsUrl, model: values.model, stage });
  } else {
    throw new Error(`unknown worker role ${JSON.stringify(role)}: expected "workflow" or "stage"`);
  }
}

main().catch((err: unknown) => {
  console.error(`serflow worker: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
