/**
 * The local cloud agent: one process that plays the cloud's control plane for the embedded stack. It owns
 * the VM pools (stage-worker processes with boot delays and per-second billing), the serverless platform
 * (function instances with cold starts, keep-alive and a concurrency limit) with its Temporal gateway worker,
 * and answers the pool API (`serflow pools ...` and the autoscaler's actuator) on NATS.
 * SIGTERM/SIGINT: stop answering, drain every VM, stop every function instance, exit.
 */
import * as path from 'node:path';
import type { Msg } from 'nats';
import { createBillingPublisher } from '../../billing/publisher';
import type { SerflowConfig } from '../../common/config';
import { initialVmsPerStage } from '../../common/config';
import { CLOUD_AGENT_QUEUE, POOLS_API_SUBJECT } from '../../common/naming';
import { connectNats, ensureNatsResources } from '../../infra/nats';
import { loadManifest } from '../../models/manifest';
import { planFromSpec, validateRoutingPlan } from '../../common/routing';
import { createRoutingStore } from '../../infra/routing-store';
import { startWorkerStatus, workerId } from '../../infra/worker-status';
import { encodePoolsReply, parsePoolsRequest, type PoolsReply, type PoolsRequest } from '../../infra/pools-api';
import type { ServerlessPlatform, VmPoolProvider } from '../../infra/providers';
import { createFaasGatewayWorkers } from '../../workers/faas-gateway-worker';
import { connectWorkerConnection, workerTemporalTarget } from '../../infra/temporal';
import { createCloudProviders } from '../cloud-providers';
import { metrics, recordPools } from '../../infra/metrics';
import { processTelemetry } from '../../infra/telemetry';
import { log } from '../../infra/logger';

/** How often the pool gauges are refreshed from the providers: about a Prometheus scrape interval's resolution. */
export const POOL_METRICS_INTERVAL_MS = 1_000;

export interface CloudAgentOptions {
  config: SerflowConfig;
  temporalAddress: string;
  natsUrl: string;
  models: string[];
  /** Where VM and function-instance logs go. @default `<homeDir>/data/logs` */
  logDir?: string;
  /** VMs each stage pool starts with (pre-provisioned). @default initialVmsPerStage(config, false) */
  initialVms?: number;
}

async function handle(
  request: PoolsRequest,
  vms: VmPoolProvider,
  platform: ServerlessPlatform,
  models: { model: string; stages: number }[],
): Promise<PoolsReply> {
  const known = (model: string, stage: number) => {
    const m = models.find((x) => x.model === model);
    if (!m)
      throw new Error(`model ${model} has no pools here (pools exist for ${models.map((x) => x.model).join(', ')})`);
    if (stage > m.stages) throw new Error(`${model} has stages 1..${m.stages}; there is no stage ${stage}`);
  };
  switch (request.op) {
    case 'list':
      break;
    case 'scale':
      known(request.model, request.stage);
      await vms.scaleTo(request.model, request.stage, request.vms);
      break;
    case 'drain': {
      if (request.vmId) {
        await vms.drain(request.vmId);
      } else if (request.model && request.stage !== undefined) {
        known(request.model, request.stage);
        await vms.scaleTo(request.model, request.stage, 0);
      } else {
        throw new Error('drain needs a VM id, or a model and a stage');
      }
      break;
    }
  }
  return { ok: true, vms: vms.list(), functions: platform.list(), models };
}

/** A request's JSON, or the error to reply with when its bytes are not JSON at all. */
function requestJson(msg: Msg): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: msg.json() };
  } catch (err) {
    return { ok: false, error: `bad pools request: not JSON (${msg.data.length} bytes: ${(err as Error).message})` };
  }
}

export async function runCloudAgent(o: CloudAgentOptions): Promise<void> {
  const { config } = o;
  const id = workerId('agent', CLOUD_AGENT_QUEUE);
  const models = o.models.map((m) => ({ model: m, stages: loadManifest(m, config.modelsDir).stages.length }));
  const nc = await connectNats(o.natsUrl, id);
  await ensureNatsResources(nc, config);
  const billing = createBillingPublisher(nc, config.timeScale);
  const logDir = o.logDir ?? path.join(config.homeDir, 'data', 'logs');
  const { vms, platform } = await createCloudProviders({
    config,
    temporalAddress: o.temporalAddress,
    natsUrl: o.natsUrl,
    nc,
    billing,
    logDir,
  });
  const connection = await connectWorkerConnection(workerTemporalTarget(o.temporalAddress, config));
  const gateway = await createFaasGatewayWorkers({ config, connection, platform, models: o.models, identity: id });
  const gatewayRun = gateway.run();

  const api = nc.subscribe(POOLS_API_SUBJECT, {
    callback: (err, msg: Msg) => {
      if (err) return;
      void (async () => {
        let reply: PoolsReply;
        try {
          const body = requestJson(msg);
          const parsed = body.ok ? parsePoolsRequest(body.value, config.pools) : body;
          reply = parsed.ok ? await handle(parsed.request, vms, platform, models) : parsed;
        } catch (e) {
          reply = { ok: false, error: (e as Error).message };
        }
        // Bounded: a reply above the server's max_payload would be refused and the caller left waiting.
        msg.respond(encodePoolsReply(reply, Math.min(config.pools.replyMaxBytes, nc.info?.max_payload ?? Infinity)));
      })();
    },
  });

  if (config.routing.plan) {
    const store = await createRoutingStore(nc);
    for (const m of models) {
      const plan = planFromSpec(config.routing.plan, m.model, m.stages, Date.now(), config.routing.overflowAfterMs);
      await store.put(validateRoutingPlan(plan, m.stages));
    }
  }
  for (const m of models) {
    for (let stage = 1; stage <= m.stages; stage++) {
      await vms.launch(m.model, stage, o.initialVms ?? initialVmsPerStage(config, false), { preProvisioned: true });
    }
  }
  const vmPrice = (instanceType: string) => config.prices.vmPerHourUsd[instanceType] ?? 0;
  const poolMetrics = setInterval(
    () => recordPools(metrics(), o.models, vms.list(), platform.list(), vmPrice),
    POOL_METRICS_INTERVAL_MS,
  );
  poolMetrics.unref();
  const counters = { inFlight: 0, completed: 0, failed: 0 };
  const status = await startWorkerStatus(
    nc,
    { id, role: 'agent', taskQueue: CLOUD_AGENT_QUEUE, slots: 0, metricsUrl: processTelemetry()?.metricsUrl },
    counters,
    config.workers.heartbeatMs,
  );
  await status.setState('running');
  // Temporal's Runtime shuts the gateway workers down on SIGINT/SIGTERM (draining in-flight invocations);
  // the pools follow.
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await Promise.race([signalled, gatewayRun]);
  await status.setState('draining').catch(() => undefined);
  clearInterval(poolMetrics);
  api.unsubscribe();
  gateway.shutdown();
  await gatewayRun.catch((err: Error) => log().error({ err }, 'faas gateway failed'));
  await Promise.all([vms.close(), platform.close()]);
  // The VMs' and functions' last facts (terminations, invocations) go out before the connection does.
  await billing.close();
  await status.stop();
  await connection.close();
  await nc.drain().catch(() => undefined);
}
