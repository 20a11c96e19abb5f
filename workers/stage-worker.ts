/**
 * A stage-pool worker process: polls `<model>.stage-<k>.<backend>` and runs that stage's ONNX model.
 * ONNX sessions, the NATS connection and the Temporal connection are created once per process.
 */
import { type NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { SerflowConfig } from '../common/config';
import { WHOLE_MODEL_STAGE, stageTaskQueue, wholeModelQueue, type Backend } from '../common/naming';
import { createActivationStore } from '../infra/activation-store';
import { createInferencePool } from '../models/runtime/inference-pool';
import { stageRunnerOptions } from '../models/runtime/stage-runner';
import { createStageActivities, createStageRunActivities, type ServedStage } from '../activities/stage-activities';
import { createStageEventPublisher } from '../activities/stage-events';
import { connectNats, ensureNatsResources } from '../infra/nats';
import { connectWorkerConnection, workerTemporalTarget } from '../infra/temporal';
import { loadManifest, stageInputDims } from '../models/manifest';
import { createBillingPublisher, type BillingPublisher } from '../billing/publisher';
import { startWorkerStatus, workerId, type WorkerCounters } from '../infra/worker-status';
import { createDrainSlots } from './drain-slots';
import { processTelemetry, workerTracingOptions } from '../infra/telemetry';

export interface StageWorkerOptions {
  config: SerflowConfig;
  temporalAddress: string;
  natsUrl: string;
  model: string;
  stage: number;
  backend?: Backend;
  /** Set when this process is a VM of the local VM provider: its id (also the worker identity) and boot. */
  vm?: {
    id: string;
    instanceType: string;
    /** Wall epoch ms before which it must not poll (the boot delay). */ bootUntil: number;
  };
}

/** Time given to in-flight stage activities to finish after a shutdown signal (drain) before they are cancelled. */
export const STAGE_WORKER_SHUTDOWN_GRACE_MS = 10_000;

/**
 * Longest a draining stage worker waits for its open polls to end on their own (drain-slots.ts) before it shuts
 * down anyway, cancelling what is still open: the server's long-poll expiry (`matching.longPollExpirationInterval`,
 * 60 s by default, 10 s on the embedded dev server) plus 10 s of margin.
 */
export const STAGE_WORKER_POLL_DRAIN_MAX_MS = 70_000;

/** The SDK's own cap on pollers per task queue (`min(10, slots)`), kept now that the slots come from a tuner. */
const MAX_ACTIVITY_POLLERS = 10;

/**
 * Signals that drain a stage worker: SIGTERM from its VM provider (scale-in), SIGINT from a terminal, and the rest of
 * the Runtime's default `shutdownSignals`, which this worker takes over.
 */
const DRAIN_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR2'];

/** Resolves with the first drain signal the process gets from now on. */
function drainRequested(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => resolve(signal);
    // Kept for the process's life: a repeated signal must not fall back to Node's default (exit at once).
    for (const s of DRAIN_SIGNALS) process.on(s, on);
  });
}

/**
 * A VM's own billing facts beside its provider's: `vm.alive` now and every `vmLiveness.intervalMs` while the process
 * lives (from its start: a booting VM is billed too), and `vm.stopped` as it shuts down, so a VM whose provider died
 * still ends its bill (billing/ledger.ts). Facts wait in the outbox through a NATS blip.
 */
function startVmLife(
  billing: BillingPublisher,
  vm: NonNullable<StageWorkerOptions['vm']>,
  model: string,
  stage: number,
  config: SerflowConfig,
): { stop(reason: string): Promise<void> } {
  const intervalMs = config.vmLiveness.intervalMs;
  const fact = { model, stage, vmId: vm.id, instanceType: vm.instanceType };
  const alive = () =>
    void billing
      .publish({ type: 'vm.alive', at: Date.now(), ...fact, intervalMs })
      .catch((err: Error) => console.error(`billing: vm.alive not kept: ${err.message}`));
  alive();
  const timer = setInterval(alive, intervalMs);
  timer.unref();
  return {
    async stop(reason) {
      clearInterval(timer);
      await billing
        .publish({ type: 'vm.stopped', at: Date.now(), ...fact, reason })
        .catch((err: Error) => console.error(`billing: vm.stopped not kept: ${err.message}`));
    },
  };
}

/** Wait until `bootUntil` (wall epoch ms); false if SIGTERM/SIGINT came first. */
async function bootCompleted(bootUntil: number): Promise<boolean> {
  const waitMs = bootUntil - Date.now();
  if (waitMs <= 0) return true;
  let onSignal = () => undefined as void;
  const signalled = new Promise<false>((resolve) => {
    onSignal = () => resolve(false);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  let timer: NodeJS.Timeout | undefined;
  const booted = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), waitMs)));
  try {
    return await Promise.race([booted, signalled]);
  } finally {
    clearTimeout(timer);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * Run a stage worker until the process gets SIGINT/SIGTERM (Temporal's Runtime handles the signals).
 * `stage` 0 (WHOLE_MODEL_STAGE) serves every stage of the model in this one process: one Temporal worker and one
 * inference pool per stage queue, plus one worker on the whole-model queue that runs fused runs of stages in one
 * activity (routing.ts `FusedRun`); one identity (the VM id), billed once.
 */
export async function runStageWorker(options: StageWorkerOptions): Promise<void> {
  const { config, model, stage } = options;
  const backend = options.backend ?? 'vm';
  const manifest = loadManifest(model, config.modelsDir);
  const all = stage === WHOLE_MODEL_STAGE;
  if (!all && !manifest.stages[stage - 1]) {
    throw new Error(`model ${model} has stages 1..${manifest.stages.length}; there is no stage ${stage}`);
  }
  const served = all ? manifest.stages.map((s) => s.index) : [stage];
  const reportQueue = all ? wholeModelQueue(model, backend) : stageTaskQueue(model, stage, backend);
  const id = options.vm?.id ?? workerId('stage', reportQueue);

  const nc = await connectNats(options.natsUrl, id);
  let connection: NativeConnection | undefined;
  // Stage events and billing facts go through outboxes: a NATS blip neither fails a stage nor loses a fact, and
  // what waits is flushed before the connection closes.
  const events = createStageEventPublisher(nc);
  const billing = options.vm && createBillingPublisher(nc, config.timeScale);
  const life = options.vm && billing ? startVmLife(billing, options.vm, model, stage, config) : undefined;
  let failure: unknown;
  const runners = served.map((k) =>
    createInferencePool({
      ...stageRunnerOptions(manifest, manifest.stages[k - 1]!, config.modelsDir, config.workers.intraOpThreads),
      threads: config.workers.inferenceThreads,
    }),
  );
  try {
    await ensureNatsResources(nc, config);
    const store = await createActivationStore(nc);
    const counters: WorkerCounters = { inFlight: 0, completed: 0, failed: 0 };
    /** Counts one activity execution in the worker's status (in flight, completed, failed). */
    const counted =
      <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        counters.inFlight++;
        try {
          const out = await run(...args);
          counters.completed++;
          return out;
        } catch (err) {
          counters.failed++;
          throw err;
        } finally {
          counters.inFlight--;
        }
      };
    const perStage = served.map((k, i) => {
      const spec = manifest.stages[k - 1]!;
      const inputDims = stageInputDims(spec);
      const runner = runners[i]!;
      const servedStage = { model, stage: k, stages: manifest.stages.length, inputDims, backend, runner };
      const { runStage } = createStageActivities({
        served: servedStage satisfies ServedStage,
        store,
        events,
        worker: id,
      });
      return { k, inputDims, runner, servedStage, activities: { runStage: counted(runStage) } };
    });
    const queues: Array<{ taskQueue: string; activities: object }> = perStage.map((p) => ({
      taskQueue: stageTaskQueue(model, p.k, backend),
      activities: p.activities,
    }));
    if (all) {
      const { runStages } = createStageRunActivities({
        servedStage: (k) => perStage.find((p) => p.k === k)?.servedStage,
        store,
        events,
        worker: id,
      });
      queues.push({
        taskQueue: wholeModelQueue(model, backend),
        activities: { runStages: counted(runStages) },
      });
    }
    // Load the sessions before polling, so the first task does not pay the model load.
    await Promise.all(perStage.map((p) => p.runner.warmUp(p.inputDims)));
    // A VM serves nothing before its boot delay has passed (the model is loaded meanwhile, as a real VM would).
    // Terminated while booting (scale-in of a VM that never got ready), it exits without ever polling.
    if (!(await bootCompleted(options.vm?.bootUntil ?? 0))) return;
    // The drain is this process's own (below): Temporal's Runtime must not shut the workers down on the signal, which
    // would cancel their open polls at once. A process with telemetry installed its Runtime so already (child-main's
    // ownShutdownSignals); the Runtime is installed once per process.
    const stopSignal = drainRequested();
    if (!processTelemetry()) Runtime.install({ shutdownSignals: [] });
    connection = await connectWorkerConnection(workerTemporalTarget(options.temporalAddress, config));
    const conn = connection;
    const slotsPerQueue = queues.map(() => createDrainSlots(config.workers.stageConcurrency));
    const workers = await Promise.all(
      queues.map((q, i) =>
        Worker.create({
          connection: conn,
          namespace: config.temporal.namespace,
          taskQueue: q.taskQueue,
          activities: q.activities,
          // A RunActivity span per stage execution, in the query's trace (infra/telemetry.ts).
          interceptors: workerTracingOptions().interceptors,
          identity: id,
          tuner: {
            activityTaskSlotSupplier: slotsPerQueue[i]!.supplier,
            // No workflow, local activity or Nexus task runs here; the SDK wants a supplier for each all the same.
            workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
            localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
            nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
          },
          activityTaskPollerBehavior: {
            type: 'simple-maximum',
            maximum: Math.min(MAX_ACTIVITY_POLLERS, config.workers.stageConcurrency),
          },
          shutdownGraceTime: STAGE_WORKER_SHUTDOWN_GRACE_MS,
        }),
      ),
    );
    /**
     * A drain: stop polling without cancelling a poll (drain-slots.ts), run what the open polls still bring, and shut
     * the workers down once no poll is open and no task runs, so that nothing handed to this VM is lost.
     */
    const drain = async (signal: NodeJS.Signals) => {
      void status.setState('draining').catch(() => undefined);
      for (const slots of slotsPerQueue) slots.close();
      const startedAt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const idle = await Promise.race([
        Promise.all(slotsPerQueue.map((s) => s.idle())).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STAGE_WORKER_POLL_DRAIN_MAX_MS))),
      ]);
      clearTimeout(timer);
      const held = slotsPerQueue.reduce((n, s) => n + s.held(), 0);
      console.error(
        idle
          ? `${signal}: polls ended and work done ${Date.now() - startedAt} ms into the drain; shutting down`
          : `${signal}: ${held} poll(s) or task(s) still open after ${STAGE_WORKER_POLL_DRAIN_MAX_MS} ms; shutting down`,
      );
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    };
    const status = await startWorkerStatus(
      nc,
      {
        id,
        role: 'stage',
        model,
        stage,
        backend,
        taskQueue: reportQueue,
        slots: config.workers.stageConcurrency,
        metricsUrl: processTelemetry()?.metricsUrl,
      },
      counters,
      config.workers.heartbeatMs,
      () => ensureNatsResources(nc, config),
    );
    // Report draining as soon as the SDK starts shutting down (signal received), so `serflow status` shows it.
    const watch = setInterval(() => {
      const state = workers[0]!.getState();
      if (state === 'STOPPING' || state === 'DRAINING' || state === 'DRAINED') {
        clearInterval(watch);
        void status.setState('draining').catch(() => undefined);
      }
    }, 250);
    try {
      const announceReady = async () => {
        // The status record is for `serflow status`: NATS away at this moment must not stop the worker.
        await status.setState('running').catch((err: Error) => console.error(`worker status: ${err.message}`));
        if (options.vm && billing) {
          const { id: vmId, instanceType } = options.vm;
          await billing.publish({ type: 'vm.ready', at: Date.now(), model, stage, vmId, instanceType });
        }
      };
      const running = workers.map((w) => w.run());
      void stopSignal.then(drain).catch((err: Error) => console.error(`drain: ${err.message}`));
      await Promise.all([...running, announceReady()]);
    } finally {
      clearInterval(watch);
      await status.stop();
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // The VM reports its own end (its provider may be gone) as late as it can, so that the bill ends where its life
    // does: once its sessions, its Temporal connection and its stage events are done; the billing outbox then sends
    // it with whatever waits (`vm.ready` held through a blip at boot) and the connection closes.
    await Promise.all(runners.map((r) => r.close()));
    await connection?.close();
    await events.close();
    await life?.stop(failure === undefined ? 'worker shut down' : `worker failed: ${(failure as Error)?.message}`);
    if (billing) await billing.close();
    await nc.close().catch(() => undefined);
  }
}
