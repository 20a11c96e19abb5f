/**
 * The inference-workflow worker process: runs `inferenceWorkflow` (pre-bundled at build time, so start-up
 * does not run webpack) and its model-lookup local activity.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import type { SerflowConfig } from '../common/config';
import { INFERENCE_TASK_QUEUE } from '../common/naming';
import { PROJECT_ROOT } from '../common/paths';
import { createModelActivities } from '../activities/model-activities';
import { connectNats, ensureNatsResources } from '../infra/nats';
import { createRoutingStore } from '../infra/routing-store';
import { connectWorkerConnection, workerTemporalTarget } from '../infra/temporal';
import { loadManifest } from '../models/manifest';
import { startWorkerStatus, workerId, type WorkerCounters } from '../infra/worker-status';
import { metrics } from '../infra/metrics';
import { processTelemetry, workerTracingOptions } from '../infra/telemetry';
import type { InjectedSinks } from '@temporalio/worker';
import type { QueryMetricsSinks } from '../common/query-metrics-sink';

/** The workflow sandbox's query reports (workflows/interceptors.ts) into this process's metrics. */
export function queryMetricsSinks(): InjectedSinks<QueryMetricsSinks> {
  return {
    serflowMetrics: {
      queryCompleted: {
        fn: (_info, c) => {
          const m = metrics();
          m.queriesCompleted.inc({ model: c.model, outcome: c.outcome });
          m.queryActions.observe({ model: c.model }, c.actions);
        },
      },
    },
  };
}

/**
 * Pre-built workflow bundle (`npm run build` writes it). `SERFLOW_WORKFLOW_BUNDLE` names another one: tests of a
 * build in another folder (the replay test against a bundle built from that folder's code).
 */
export const WORKFLOW_BUNDLE_PATH =
  process.env.SERFLOW_WORKFLOW_BUNDLE || path.join(PROJECT_ROOT, 'lib', 'workflow-bundle.js');

/** Workflow tasks this process runs at once; each is short (a few ms of deterministic code). */
export const WORKFLOW_TASK_CONCURRENCY = 40;

/** Time given to in-flight workflow tasks after a shutdown signal. */
export const WORKFLOW_WORKER_SHUTDOWN_GRACE_MS = 5_000;

export interface WorkflowWorkerOptions {
  config: SerflowConfig;
  temporalAddress: string;
  natsUrl: string;
}

export async function runWorkflowWorker(options: WorkflowWorkerOptions): Promise<void> {
  const { config } = options;
  if (!fs.existsSync(WORKFLOW_BUNDLE_PATH)) {
    throw new Error(`workflow bundle ${WORKFLOW_BUNDLE_PATH} is missing: run \`npm run build\` first`);
  }
  const id = workerId('workflow', INFERENCE_TASK_QUEUE);
  const nc = await connectNats(options.natsUrl, id);
  const connection = await connectWorkerConnection(workerTemporalTarget(options.temporalAddress, config));
  try {
    await ensureNatsResources(nc, config);
    const manifests = new Map<string, ReturnType<typeof loadManifest>>();
    const routing = await createRoutingStore(nc, { watch: true });
    const activities = createModelActivities({
      config,
      routingPlan: (model) => routing.get(model),
      manifest(name) {
        let m = manifests.get(name);
        if (!m) {
          m = loadManifest(name, config.modelsDir);
          manifests.set(name, m);
        }
        return m;
      },
    });
    const tracing = workerTracingOptions();
    const worker = await Worker.create({
      connection,
      interceptors: tracing.interceptors,
      sinks: { ...tracing.sinks, ...queryMetricsSinks() },
      namespace: config.temporal.namespace,
      taskQueue: INFERENCE_TASK_QUEUE,
      workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
      activities,
      identity: id,
      maxConcurrentWorkflowTaskExecutions: WORKFLOW_TASK_CONCURRENCY,
      shutdownGraceTime: WORKFLOW_WORKER_SHUTDOWN_GRACE_MS,
    });
    const counters: WorkerCounters = { inFlight: 0, completed: 0, failed: 0 };
    const status = await startWorkerStatus(
      nc,
      {
        id,
        role: 'workflow',
        taskQueue: INFERENCE_TASK_QUEUE,
        slots: WORKFLOW_TASK_CONCURRENCY,
        metricsUrl: processTelemetry()?.metricsUrl,
      },
      counters,
      config.workers.heartbeatMs,
      // A restarted nats-server comes back without the (in-memory) status bucket: re-create it.
      () => ensureNatsResources(nc, config),
    );
    try {
      await Promise.all([worker.run(), status.setState('running')]);
    } finally {
      await status.stop();
    }
  } finally {
    await connection.close();
    await nc.drain().catch(() => undefined);
  }
}
