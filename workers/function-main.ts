/**
 * Entry point of one serverless function instance process, started by the local serverless platform:
 *   node lib/workers/function-main.js --model M --stage K --instance-id ID --nats URL [--parent-pid PID]
 * Other settings come from the SERFLOW config (the platform passes its own in SERFLOW_CONFIG_JSON).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config';
import { runFunctionInstance } from '../deploy/local/function-instance';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      stage: { type: 'string' },
      'instance-id': { type: 'string' },
      nats: { type: 'string' },
      'parent-pid': { type: 'string' },
    },
  });
  const config = loadConfig();
  const natsUrl = values.nats ?? config.nats.url;
  const stage = Number(values.stage);
  const instanceId = values['instance-id'];
  const parentPid = values['parent-pid'] === undefined ? undefined : Number(values['parent-pid']);
  if (!values.model || !Number.isInteger(stage) || stage < 1 || !instanceId || !natsUrl) {
    throw new Error(
      `function instance needs --model NAME --stage K (a positive integer) --instance-id ID --nats URL, got ${JSON.stringify(values)}`,
    );
  }
  if (parentPid !== undefined && !Number.isInteger(parentPid)) {
    throw new Error(`--parent-pid must be a process id, got ${values['parent-pid']}`);
  }
  await runFunctionInstance({ config, natsUrl, model: values.model, stage, instanceId, parentPid });
}

main().then(
  // ONNX Runtime's thread pool can keep the process alive after the session is released: leave explicitly.
  () => process.exit(0),
  (err: unknown) => {
    console.error(`serflow function instance: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
