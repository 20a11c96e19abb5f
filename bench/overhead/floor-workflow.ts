/**
 * The engine's floor (workflow code, bundled by floor-worker.ts): a workflow that runs one no-op activity on its
 * own task queue and returns. Whatever a SERFLOW query costs above this is SERFLOW's own orchestration.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { FloorActivities } from './floor-activities';

/** Task queue of the floor's workflow tasks. */
export const FLOOR_WORKFLOW_QUEUE = 'serflow-floor.workflow';
/** Task queue of the floor's one activity, apart from the workflow's as a stage's is. */
export const FLOOR_ACTIVITY_QUEUE = 'serflow-floor.activity';

const { noop } = proxyActivities<FloorActivities>({
  taskQueue: FLOOR_ACTIVITY_QUEUE,
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

export async function floorWorkflow(): Promise<void> {
  await noop();
}
