/**
 * The serverless gateway's Temporal Workers (activities/faas-gateway.ts holds their activities). A gateway worker
 * holds no model: it only relays, so one process serves every (model, stage) faas queue with one Temporal Worker per
 * queue on a shared NativeConnection (samples' worker-specific-task-queues). Whether a call runs, starts an instance
 * or is throttled is the platform's decision, as on Lambda: the workers accept more activities than the account
 * limit so that excess calls reach the platform and are throttled there.
 */
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { SerflowConfig } from '../common/config';
import { stageTaskQueue, wholeModelQueue } from '../common/naming';
import type { ServerlessPlatform } from '../infra/providers';
import { loadManifest } from '../models/manifest';
import { workerTracingOptions } from '../infra/telemetry';
import { createFaasGatewayActivities } from '../activities/faas-gateway';

/**
 * Activity slots of each gateway worker, as a multiple of the account concurrency. At 1x a single function's queue
 * could never exceed the limit by itself, so a burst would wait in Temporal's queue instead of being throttled as
 * Lambda throttles; 2x lets a burst of twice the limit on one function reach the platform.
 */
export const GATEWAY_SLOTS_PER_ACCOUNT_CONCURRENCY = 2;

/** Time in-flight invocations get to finish after shutdown is requested (one handler is milliseconds; a cold start ~1-10 s). */
export const GATEWAY_SHUTDOWN_GRACE_MS = 15_000;

export interface FaasGatewayWorkersOptions {
  config: SerflowConfig;
  /** A worker connection to Temporal, owned by the caller (not closed here). */
  connection: NativeConnection;
  platform: ServerlessPlatform;
  /** Models whose stages get a faas queue. */
  models: string[];
  /** @default config.temporal.namespace */
  namespace?: string;
  /** Worker identity prefix. @default `faas-gateway@<pid>` */
  identity?: string;
}

export interface FaasGatewayWorkers {
  /** The faas task queues polled, one Worker each: every stage's, then each model's fused-run queue. */
  taskQueues: string[];
  /** Run every worker until shutdown (or one fails, which shuts the others down). */
  run(): Promise<void>;
  /** Ask every worker to shut down (drain in-flight invocations); never throws. */
  shutdown(): void;
}

/**
 * Create one Worker per `(model, stage)` faas task queue, and one per model on its fused-run queue
 * (`wholeModelQueue(model, 'faas')`), on the shared connection. No process-level side effects.
 */
export async function createFaasGatewayWorkers(options: FaasGatewayWorkersOptions): Promise<FaasGatewayWorkers> {
  const { config, connection, platform } = options;
  const namespace = options.namespace ?? config.temporal.namespace;
  const identity = options.identity ?? `faas-gateway@${process.pid}`;
  const activities = createFaasGatewayActivities({
    platform,
    billingGranularityMs: config.prices.faasBillingGranularityMs,
  });
  const taskQueues = [
    ...options.models.flatMap((model) =>
      loadManifest(model, config.modelsDir).stages.map((s) => stageTaskQueue(model, s.index, 'faas')),
    ),
    ...options.models.map((model) => wholeModelQueue(model, 'faas')),
  ];
  const workers = await Promise.all(
    taskQueues.map((taskQueue) =>
      Worker.create({
        connection,
        namespace,
        taskQueue,
        activities,
        // The gateway activity's RunActivity span, in the query's trace (infra/telemetry.ts).
        interceptors: workerTracingOptions().interceptors,
        identity: `${identity}.${taskQueue}`,
        maxConcurrentActivityTaskExecutions: GATEWAY_SLOTS_PER_ACCOUNT_CONCURRENCY * config.faas.accountConcurrency,
        shutdownGraceTime: GATEWAY_SHUTDOWN_GRACE_MS,
      }),
    ),
  );
  const shutdown = () => {
    for (const w of workers) {
      try {
        if (w.getState() === 'RUNNING' || w.getState() === 'INITIALIZED') w.shutdown();
      } catch {
        // already stopping or stopped
      }
    }
  };
  return {
    taskQueues,
    async run() {
      try {
        await Promise.all(
          workers.map(async (w) => {
            try {
              await w.run();
            } catch (err) {
              shutdown();
              throw err;
            }
          }),
        );
      } finally {
        shutdown();
      }
    },
    shutdown,
  };
}
