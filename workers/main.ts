/**
 * Worker process entry point.
 *   node lib/workers/main.js workflow --temporal HOST:PORT --nats URL
 *   node lib/workers/main.js stage --model M --stage K --temporal HOST:PORT --nats URL [--vm-id ID --boot-until MS]
 *   node lib/workers/main.js cloud-agent --models M1,M2 --temporal HOST:PORT --nats URL
 * Addresses default to TEMPORAL_ADDRESS / NATS_URL; other settings come from the SERFLOW config (file + env).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config';
import { runAutoscaler } from '../autoscaler/main';
import { parsePolicy } from '../autoscaler/types';
import { runCloudAgent } from '../deploy/local/cloud-agent';
import { runStageWorker, WHOLE_MODEL_STAGE } from './stage-worker';
import { runWorkflowWorker } from './workflow-worker';

/** How often a child checks that the process that started it is still there. */
const PARENT_CHECK_MS = 1_000;

/**
 * Shut down gracefully (as on SIGTERM) once the parent process is gone, so a crashed `serflow up` or cloud
 * agent does not leave orphaned workers polling queues and holding models.
 */
function exitWithParent(parentPid: number): void {
  if (!Number.isInteger(parentPid) || parentPid <= 1)
    throw new Error(`--parent-pid must be a process id, got ${parentPid}`);
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      clearInterval(timer);
      console.error(`parent process ${parentPid} is gone: shutting down`);
      process.kill(process.pid, 'SIGTERM');
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      temporal: { type: 'string' },
      nats: { type: 'string' },
      model: { type: 'string' },
      stage: { type: 'string' },
      'vm-id': { type: 'string' },
      'instance-type': { type: 'string' },
      'boot-until': { type: 'string' },
      models: { type: 'string' },
      'log-dir': { type: 'string' },
      'initial-vms': { type: 'string' },
      'parent-pid': { type: 'string' },
      policy: { type: 'string' },
    },
  });
  const role = positionals[0];
  if (values['parent-pid']) exitWithParent(Number(values['parent-pid']));
  const config = loadConfig();
  const temporalAddress = values.temporal ?? config.temporal.address;
  const natsUrl = values.nats ?? config.nats.url;
  if (!temporalAddress || !natsUrl) {
    throw new Error('worker needs --temporal and --nats (or TEMPORAL_ADDRESS and NATS_URL)');
  }
  if (role === 'workflow') {
    await runWorkflowWorker({ config, temporalAddress, natsUrl });
  } else if (role === 'stage') {
    const stage = values.stage === 'all' ? WHOLE_MODEL_STAGE : Number(values.stage);
    if (!values.model || !Number.isInteger(stage) || stage < 0) {
      throw new Error(`stage worker needs --model NAME and --stage K (1..K, or all / 0), got --stage ${values.stage}`);
    }
    const vmId = values['vm-id'];
    const vm = vmId
      ? {
          id: vmId,
          instanceType: values['instance-type'] ?? config.vm.instanceType,
          bootUntil: Number(values['boot-until'] ?? 0),
        }
      : undefined;
    await runStageWorker({ config, temporalAddress, natsUrl, model: values.model, stage, vm });
  } else if (role === 'autoscaler') {
    if (!values.model) throw new Error('autoscaler needs --model NAME');
    await runAutoscaler({ config, natsUrl, model: values.model, policy: parsePolicy(values.policy) });
  } else if (role === 'cloud-agent') {
    const models = (values.models ?? config.defaultModel).split(',').filter(Boolean);
    const initialVms = values['initial-vms'] === undefined ? undefined : Number(values['initial-vms']);
    if (initialVms !== undefined && !(Number.isInteger(initialVms) && initialVms >= 0)) {
      throw new Error(`--initial-vms must be a whole number >= 0, got ${values['initial-vms']}`);
    }
    await runCloudAgent({ config, temporalAddress, natsUrl, models, logDir: values['log-dir'], initialVms });
  } else {
    throw new Error(
      `unknown worker role ${JSON.stringify(role)}: expected "workflow", "stage", "cloud-agent" or "autoscaler"`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(`serflow worker: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
