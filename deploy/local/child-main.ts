/**
 * The entry point of every worker, agent and function process the embedded stack spawns (`CHILD_MAIN_SCRIPT`), by
 * role (the servers' watchdog, reaper-main.ts, and a detached worker's supervisor, supervisor-main.ts, are their own
 * small entries: they must not load ONNX Runtime and the workers):
 *   node lib/deploy/local/child-main.js workflow --temporal HOST:PORT --nats URL
 *   node lib/deploy/local/child-main.js stage --model M --stage K --temporal HOST:PORT --nats URL [--vm-id ID --boot-until MS]
 *   node lib/deploy/local/child-main.js cloud-agent --models M1,M2 --temporal HOST:PORT --nats URL
 *   node lib/deploy/local/child-main.js autoscaler --model M --nats URL [--policy P]
 *   node lib/deploy/local/child-main.js function --model M --stage K [--last-stage L] --instance-id ID --nats URL
 *     (with --last-stage: a fused function holding stages K..L, run in one invocation)
 * Every role takes `--parent-pid PID` and shuts down gracefully once that process is gone. Addresses default to
 * TEMPORAL_ADDRESS / NATS_URL; other settings come from the SERFLOW config (file + env; the serverless platform
 * passes its own to a function instance in SERFLOW_CONFIG_JSON). Credentials never come as flags: NATS's and
 * Temporal's (TLS files, API key: TEMPORAL_*, TEMPORAL_PROFILE) are inherited in the environment. A `--temporal`
 * address with no configured one (`temporal.address` unset) is the stack's embedded dev server, reached without TLS.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type SerflowConfig } from '../../common/config';
import { parsePolicy } from '../../autoscaler/types';
import { WHOLE_MODEL_STAGE } from '../../common/naming';
import { configureLogRotation, exitWithParent, rotateOwnLogFromEnv } from './processes';
import { startProcessTelemetry, type ProcessTelemetry } from '../../infra/telemetry';
import { log } from '../../infra/logger';

/** The roles that run Temporal workers, and so get the SDK's metrics through Runtime telemetry. */
const TEMPORAL_ROLES = new Set(['workflow', 'stage', 'cloud-agent']);

/** Labels of a child's log records and metrics target: bounded (model and stage, never an instance id). */
function telemetryLabels(values: ChildArgs): Record<string, string> {
  const labels: Record<string, string> = {};
  if (values.model) labels.model = values.model;
  if (values.stage) labels.stage = values.stage;
  return labels;
}

let telemetry: ProcessTelemetry | undefined;

/** Flush spans and close the metrics endpoint, then exit: the stage and function roles end with process.exit. */
async function exitAfterTelemetry(code: number): Promise<never> {
  await telemetry?.shutdown();
  process.exit(code);
}

const ROLES = ['workflow', 'stage', 'cloud-agent', 'autoscaler', 'function'] as const;

type ChildArgs = ReturnType<typeof parseChildArgs>['values'];

function parseChildArgs() {
  return parseArgs({
    allowPositionals: true,
    options: {
      temporal: { type: 'string' },
      nats: { type: 'string' },
      model: { type: 'string' },
      stage: { type: 'string' },
      'last-stage': { type: 'string' },
      'vm-id': { type: 'string' },
      'instance-type': { type: 'string' },
      'instance-id': { type: 'string' },
      'boot-until': { type: 'string' },
      models: { type: 'string' },
      'log-dir': { type: 'string' },
      'initial-vms': { type: 'string' },
      'parent-pid': { type: 'string' },
      policy: { type: 'string' },
    },
  });
}

function addresses(values: ChildArgs, config: SerflowConfig): { temporalAddress: string; natsUrl: string } {
  const temporalAddress = values.temporal ?? config.temporal.address;
  const natsUrl = values.nats ?? config.nats.url;
  if (!temporalAddress || !natsUrl) {
    throw new Error('worker needs --temporal and --nats (or TEMPORAL_ADDRESS and NATS_URL)');
  }
  return { temporalAddress, natsUrl };
}

function natsUrlOf(values: ChildArgs, config: SerflowConfig): string {
  const natsUrl = values.nats ?? config.nats.url;
  if (!natsUrl) throw new Error('this role needs --nats URL (or NATS_URL)');
  return natsUrl;
}

async function runFunction(values: ChildArgs, config: SerflowConfig): Promise<void> {
  const stage = Number(values.stage);
  const lastStage = values['last-stage'] === undefined ? undefined : Number(values['last-stage']);
  const instanceId = values['instance-id'];
  if (!values.model || !Number.isInteger(stage) || stage < 1 || !instanceId) {
    throw new Error(
      `function instance needs --model NAME --stage K (a positive integer) --instance-id ID --nats URL, got ${JSON.stringify(values)}`,
    );
  }
  if (lastStage !== undefined && !(Number.isInteger(lastStage) && lastStage >= stage)) {
    throw new Error(
      `function instance: --last-stage must be a stage from --stage ${stage} on, got ${values['last-stage']}`,
    );
  }
  const natsUrl = natsUrlOf(values, config);
  // Each role loads only its own code (below, here): a VM or function instance starts without the cloud agent's
  // cloud SDKs or the autoscaler, which every start would otherwise pay for.
  const { runFunctionInstance } = await import('../../workers/function-instance');
  await runFunctionInstance({ config, natsUrl, model: values.model, stage, lastStage, instanceId });
}

async function main(): Promise<void> {
  const { positionals, values } = parseChildArgs();
  const role = positionals[0];
  if (values['parent-pid']) exitWithParent(Number(values['parent-pid']));
  const config = loadConfig();
  // The logs of the VMs and function instances a cloud agent starts rotate by size; a detached child rotates its own.
  configureLogRotation(config.logs);
  rotateOwnLogFromEnv();
  if (role && (ROLES as readonly string[]).includes(role)) {
    telemetry = await startProcessTelemetry({
      config,
      role: role === 'cloud-agent' ? 'agent' : role,
      labels: telemetryLabels(values),
      temporalRuntime: TEMPORAL_ROLES.has(role),
      ownShutdownSignals: role === 'stage',
    });
    telemetry.logger.info({ args: process.argv.slice(3) }, 'starting');
  }
  if (role === 'workflow') {
    const { runWorkflowWorker } = await import('../../workers/workflow-worker');
    await runWorkflowWorker({ config, ...addresses(values, config) });
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
    const { runStageWorker } = await import('../../workers/stage-worker');
    await runStageWorker({ config, ...addresses(values, config), model: values.model, stage, vm });
    // As for a function instance: ONNX Runtime's thread pool may keep the process alive, and the VM has ended its bill.
    await exitAfterTelemetry(0);
  } else if (role === 'autoscaler') {
    if (!values.model) throw new Error('autoscaler needs --model NAME');
    const { runAutoscaler } = await import('../../autoscaler/service');
    await runAutoscaler({
      config,
      natsUrl: natsUrlOf(values, config),
      model: values.model,
      policy: parsePolicy(values.policy),
    });
  } else if (role === 'cloud-agent') {
    const models = (values.models ?? config.defaultModel).split(',').filter(Boolean);
    const initialVms = values['initial-vms'] === undefined ? undefined : Number(values['initial-vms']);
    if (initialVms !== undefined && !(Number.isInteger(initialVms) && initialVms >= 0)) {
      throw new Error(`--initial-vms must be a whole number >= 0, got ${values['initial-vms']}`);
    }
    const { runCloudAgent } = await import('./cloud-agent');
    await runCloudAgent({ config, ...addresses(values, config), models, logDir: values['log-dir'], initialVms });
  } else if (role === 'function') {
    await runFunction(values, config);
    // ONNX Runtime's thread pool can keep the process alive after the session is released: leave explicitly.
    await exitAfterTelemetry(0);
  } else {
    throw new Error(`unknown child role ${JSON.stringify(role)}: expected one of ${ROLES.join(', ')}`);
  }
  await telemetry?.shutdown();
}

main().catch(async (err: unknown) => {
  log().fatal({ err }, `serflow ${process.argv[2] ?? 'child'} failed: ${(err as Error)?.message ?? String(err)}`);
  await exitAfterTelemetry(1);
});
