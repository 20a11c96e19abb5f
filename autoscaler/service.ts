/**
 * The live autoscaler process: intake (durable consumer of the stage events) -> policy (pure) -> actuation
 * (pool API, routing plan) -> decision record, once per tick, for one model.
 *
 * Time: the policy sees `now` in cloud time (wall time since start x `timeScale`, so U, scale-down delays and
 * boot delays keep their cloud meaning), while rates are real: `windowMs` is wall time, so "queries per second"
 * are the queries this machine actually receives per second.
 * Restart safety: policies start in a state that does not scale below the current pools for one scale-down
 * delay, and unacknowledged events of the window a crashed controller was counting are redelivered.
 */
import type { SerflowConfig } from '../common/config';
import { connectNats, ensureNatsResources } from '../infra/nats';
import { createRoutingStore } from '../infra/routing-store';
import { isRejectedPlan, planFromSpec } from '../common/routing';
import { retryUntil } from '../infra/retry';
import { loadManifest } from '../models/manifest';
import { startWorkerStatus, workerId } from '../infra/worker-status';
import { createPoolsApiActuator } from './actuator';
import { resolveOrchestration } from '../billing/orchestration-pricing';
import { serverlessFusedRuns } from './policies/serflow-fusion';
import { compileAutoscalerConfig, type CompiledAutoscalerConfig } from './config';
import { createController } from './controller';
import { createNatsDecisionRecorder } from './decision-recorder';
import { meteredRecorder } from './decision-metrics';
import { metrics } from '../infra/metrics';
import { log as processLog } from '../infra/logger';
import { processTelemetry } from '../infra/telemetry';
import { createStageEventIntake } from './intake';
import { createPolicy } from './policies';
import { loadProfile, toStageProfiles } from './profile';
import type { PolicyName } from './types';

/** How long a starting autoscaler waits for the cloud agent's pool API to answer. */
export const AGENT_WAIT_MS = 60_000;

export interface AutoscalerOptions {
  config: SerflowConfig;
  natsUrl: string;
  model: string;
  /** Overrides `autoscaler.policy` of the config. */
  policy?: PolicyName;
  log?: (line: string) => void;
  /** Resolves when the autoscaler should stop. @default SIGINT/SIGTERM */
  until?: Promise<void>;
}

/** Compile the autoscaler config of `model` from the SERFLOW config and the model's committed profile. */
export function compileForModel(config: SerflowConfig, model: string, policy?: PolicyName): CompiledAutoscalerConfig {
  const profile = loadProfile(model, config.modelsDir);
  const stages = toStageProfiles(profile, {
    vmThreads: config.workers.inferenceThreads,
    faasMemoryMb: (stage) => config.faas.stageMemoryMb[String(stage)] ?? config.faas.memoryMb,
  });
  const { usdPerAction } = resolveOrchestration(config.orchestration, config.prices);
  return compileAutoscalerConfig(
    { ...config.autoscaler, ...(policy ? { policy } : {}) },
    { ...config, usdPerAction },
    stages,
  );
}

export async function runAutoscaler(o: AutoscalerOptions): Promise<void> {
  const { config, model } = o;
  // The process's logger carries the model (child-main binds it).
  const log = o.log ?? ((line: string) => processLog().info(line));
  const compiled = compileForModel(config, model, o.policy);
  const stages = loadManifest(model, config.modelsDir).stages.length;
  const policy = createPolicy(compiled.policy);
  const queue = `serflow.autoscaler.${model}`;
  const id = workerId('autoscaler', queue);
  const nc = await connectNats(o.natsUrl, id);
  try {
    await ensureNatsResources(nc, config);
    const intake = await createStageEventIntake(nc, model, stages);
    const routing = await createRoutingStore(nc);
    const actuator = createPoolsApiActuator(nc);
    // A fresh stack under an autoscaler starts without VMs: until the policy has seen load, queries run
    // serverless (a plan must exist, or the workflow would wait for VMs that nobody launches).
    // The cloud agent may still be starting (the stack starts both at once): wait for its pool API.
    const pools = await retryUntil('cloud agent pool API', AGENT_WAIT_MS, () => actuator.pools(model, stages));
    const anyVm = pools.some((p) => p.vmsReady + p.vmsBooting > 0);
    const stored = await routing.get(model);
    if (!anyVm && (stored === null || isRejectedPlan(stored))) {
      const plan = planFromSpec('all-faas', model, stages, Date.now());
      const fused = serverlessFusedRuns(compiled);
      await routing.put({ ...plan, ...(fused.length ? { fused } : {}), source: `autoscaler:${policy.name}:initial` });
      log(`no VMs and no plan: ${model} starts serverless until the policy has seen load`);
    }
    const controller = createController({
      model,
      stages,
      policy,
      config: compiled,
      intake,
      routing,
      actuator,
      recorder: meteredRecorder(createNatsDecisionRecorder(nc), metrics(), compiled),
      log,
    });
    const status = await startWorkerStatus(
      nc,
      { id, role: 'autoscaler', taskQueue: queue, slots: 0, metricsUrl: processTelemetry()?.metricsUrl },
      { inFlight: 0, completed: 0, failed: 0 },
      config.workers.heartbeatMs,
      // A restarted nats-server comes back without the (in-memory) status bucket: re-create it.
      () => ensureNatsResources(nc, config),
    );
    await status.setState('running');
    log(
      `policy ${policy.name} on ${model}: tick ${compiled.tickMs} ms cloud (${compiled.tickMs / config.timeScale} ms wall)`,
    );
    const wallStart = Date.now();
    const cloudNow = () => wallStart + (Date.now() - wallStart) * config.timeScale;
    const stop =
      o.until ??
      new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    let stopped = false;
    void stop.then(() => (stopped = true));
    const tickWallMs = compiled.tickMs / config.timeScale;
    while (!stopped) {
      const next = Date.now() + tickWallMs;
      try {
        await controller.tick(cloudNow(), Date.now());
      } catch (err) {
        // A failed tick (pool API busy, NATS hiccup) is reported and retried next tick; its window is kept.
        log(`tick failed: ${(err as Error).message}`);
      }
      await Promise.race([stop, new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())))]);
    }
    await status.stop();
    await intake.close();
  } finally {
    await nc.drain().catch(() => undefined);
  }
}
