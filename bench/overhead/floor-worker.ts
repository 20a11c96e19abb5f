/**
 * The floor's worker process, started by the overhead benchmark beside the stack it measures:
 *   node lib/bench/overhead/floor-worker.js --temporal HOST:PORT [--namespace NS] [--parent-pid PID]
 * One Temporal worker for the floor workflow and one for its no-op activity, with the SDK's default options
 * (the engine's floor, not a tuned SERFLOW worker). Prints `ready` once both poll; stops on SIGTERM.
 */
import { parseArgs } from 'node:util';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../../common/config';
import { temporalConnectionOptions, workerTemporalTarget } from '../../infra/temporal';
import { exitWithParent } from '../../deploy/local/processes';
import { floorActivities } from './floor-activities';
import { FLOOR_ACTIVITY_QUEUE, FLOOR_WORKFLOW_QUEUE } from './floor-workflow';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      temporal: { type: 'string' },
      namespace: { type: 'string', default: 'default' },
      'parent-pid': { type: 'string' },
    },
  });
  if (!values.temporal) throw new Error('floor worker needs --temporal HOST:PORT');
  if (values['parent-pid']) exitWithParent(Number(values['parent-pid']));
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./floor-workflow'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  // TLS / API key from the TEMPORAL_* settings when the stack uses a configured server, as SERFLOW's workers do.
  const target = workerTemporalTarget(values.temporal, loadConfig());
  const connection = await NativeConnection.connect(temporalConnectionOptions(target));
  const namespace = values.namespace;
  const workers = await Promise.all([
    Worker.create({ connection, namespace, taskQueue: FLOOR_WORKFLOW_QUEUE, workflowBundle }),
    Worker.create({ connection, namespace, taskQueue: FLOOR_ACTIVITY_QUEUE, activities: floorActivities }),
  ]);
  const runs = workers.map((w) => w.run());
  console.log('ready');
  await Promise.all(runs);
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(`floor worker: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
