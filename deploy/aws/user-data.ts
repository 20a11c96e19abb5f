/**
 * The user-data of a pool's launch template: a shell script cloud-init runs once as root at an instance's first boot.
 * It writes the pool's configuration, optionally installs serflow from npm, and starts two systemd units:
 *
 * - `serflow-stage-worker.service`: the stage worker of the pool (deploy/local/child-main.js `stage`, the same entry
 *   the embedded stack spawns) against the configured Temporal and NATS, with the instance id as its VM id, so the
 *   worker's own billing facts (`vm.ready`, `vm.alive`, `vm.stopped`) join the provider's (`vm.launched`, ...). Its
 *   stop is SIGTERM: Temporal's graceful shutdown drains in-flight stages before the process exits.
 * - `serflow-drain-watch.service`: polls the instance's Auto Scaling target lifecycle state (IMDSv2); when the group
 *   is terminating the instance (held in Terminating:Wait by the provider's lifecycle hook) it stops the worker,
 *   which drains and reports `vm.stopped`, on which the provider completes the lifecycle action.
 *
 * Every input is validated: whatever ends up in the script or a unit file is restricted to characters that need no
 * quoting in either (a model or address with a space, a quote, `$` or `%` is refused by name). No credential is ever
 * written: user-data is readable by anyone allowed ec2:DescribeInstanceAttribute. Temporal's and NATS's credentials
 * (API key, TLS files, NATS creds) come from `/etc/serflow/credentials.env`, provided by the image or a secrets fetch.
 */
import type { _InstanceType, CreateLaunchTemplateCommandInput } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { compileConfig, type SerflowConfig } from '../../common/config';
import { WHOLE_MODEL_STAGE } from '../../common/naming';
import { formatZodIssues } from '../../common/zod-issues';
import { launchTemplateNameOf } from './asg-names';

/** Where the boot script installs serflow from npm (`npm install --prefix`). */
export const DEFAULT_INSTANCE_INSTALL_PREFIX = '/opt/serflow';

/** The installed package's directory on the instance (holds `lib/deploy/local/child-main.js`). */
export const DEFAULT_INSTANCE_SERFLOW_DIR = `${DEFAULT_INSTANCE_INSTALL_PREFIX}/node_modules/serflow`;

/** Node.js on the instance (the image's package, e.g. Amazon Linux 2023 `nodejs20`). */
export const DEFAULT_INSTANCE_NODE_PATH = '/usr/bin/node';

/** How often the drain watcher reads the target lifecycle state: a drain starts at most this late. */
export const DRAIN_WATCH_INTERVAL_S = 5;

/** EC2's limit on user-data, before base64. */
export const USER_DATA_MAX_BYTES = 16 * 1024;

export const STAGE_WORKER_UNIT = 'serflow-stage-worker.service';
export const DRAIN_WATCH_UNIT = 'serflow-drain-watch.service';

/** Thrown when the user-data cannot be rendered from its inputs; the message names the input. */
export class UserDataError extends Error {
  override readonly name = 'UserDataError';
}

const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, 'expected an absolute path of letters, digits, . _ / - (no spaces or quotes)');

/** One NATS server URL: a scheme the client speaks, a host, no user or password (those are credentials). */
function checkNatsUrls(value: string, ctx: z.RefinementCtx): void {
  for (const one of value.split(',')) {
    let url: URL;
    try {
      url = new URL(one);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(one)} is not a URL` });
      continue;
    }
    if (!['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol)) {
      ctx.addIssue({ code: 'custom', message: `${one}: expected a nats://, tls://, ws:// or wss:// URL` });
    }
    if (url.username || url.password) {
      ctx.addIssue({
        code: 'custom',
        message: `${url.host}: no user or password in the URL (user-data is readable; use credentials.env)`,
      });
    }
  }
}

const optionsSchema = z.object({
  model: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected a model name of letters, digits, . _ - (1-128)'),
  /** 1..K, or 0 (WHOLE_MODEL_STAGE) for the whole-model pool. */
  stage: z.number().int().nonnegative(),
  /** host:port of the Temporal frontend the workers poll. */
  temporalAddress: z.string().regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, 'expected host:port'),
  /** NATS server URL(s), comma-separated. */
  natsUrl: z
    .string()
    .regex(/^[A-Za-z0-9._~:/@,[\]-]+$/, 'expected URL(s) of letters, digits and . _ ~ : / @ , [ ] -')
    .superRefine(checkNatsUrls),
  serflowDir: absolutePath.default(DEFAULT_INSTANCE_SERFLOW_DIR),
  /** An npm package spec installed into DEFAULT_INSTANCE_INSTALL_PREFIX at boot; unset = the image has serflow. */
  npmPackage: z
    .string()
    .regex(/^[A-Za-z0-9@._/:+~=^-]+$/, 'expected an npm package spec (e.g. serflow@0.1.0), no spaces or quotes')
    .optional(),
  nodePath: absolutePath.default(DEFAULT_INSTANCE_NODE_PATH),
});

export type StageWorkerUserDataOptions = z.input<typeof optionsSchema> & {
  /** The configuration the worker runs with; its machine-local paths and addresses are left out (see below). */
  config: SerflowConfig;
};

/**
 * The configuration written to the instance: the given one without what belongs to the machine that renders it
 * (`homeDir`, `modelsDir`: the instance uses its package's models and its own state directory) or comes from the
 * unit's environment (`temporal.address`, `nats.url`); checked to compile again as it will on the instance.
 */
export function instanceConfig(config: SerflowConfig): Record<string, unknown> {
  const { homeDir: _home, modelsDir: _models, temporal, nats, ...rest } = config;
  const { address: _address, ...temporalRest } = temporal;
  const { url: _url, ...natsRest } = nats;
  const out = { ...rest, temporal: temporalRest, nats: natsRest };
  compileConfig(out, 'instance config');
  return out;
}

/** A here-document's body must never contain its terminator line. */
function heredoc(target: string, terminator: string, body: string): string {
  if (body.split('\n').includes(terminator)) throw new UserDataError(`${target}: content holds the line ${terminator}`);
  return `cat > ${target} <<'${terminator}'\n${body}\n${terminator}`;
}

function parseOptions(o: StageWorkerUserDataOptions) {
  const { config, ...rest } = o;
  const parsed = optionsSchema.safeParse(rest);
  if (!parsed.success) {
    throw new UserDataError(`user-data: ${formatZodIssues(parsed.error.issues, rest).join('; ')}`);
  }
  return { ...parsed.data, config };
}

/** The boot script of an instance of pool (model, stage); throws UserDataError naming a bad input. */
export function renderStageWorkerUserData(options: StageWorkerUserDataOptions): string {
  const o = parseOptions(options);
  const stageArg = o.stage === WHOLE_MODEL_STAGE ? 'all' : String(o.stage);
  const configJson = JSON.stringify(instanceConfig(o.config));
  const stopTimeoutS = Math.ceil(o.config.aws.autoScaling.drainTimeoutMs / 1000);
  const entry = `${o.serflowDir}/lib/deploy/local/child-main.js`;

  const workerUnit = [
    '[Unit]',
    `Description=SERFLOW stage worker: model ${o.model}, stage ${stageArg}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `Environment=TEMPORAL_ADDRESS=${o.temporalAddress}`,
    `Environment=NATS_URL=${o.natsUrl}`,
    'Environment=SERFLOW_CONFIG=/etc/serflow/config.json',
    'Environment=SERFLOW_HOME=/var/lib/serflow',
    'EnvironmentFile=/etc/serflow/instance.env',
    // Credentials (TEMPORAL_API_KEY, TLS files, NATS creds): from the image or a secrets fetch, optional.
    'EnvironmentFile=-/etc/serflow/credentials.env',
    'WorkingDirectory=/var/lib/serflow',
    `ExecStart=${o.nodePath} ${entry} stage --model ${o.model} --stage ${stageArg} ` +
      '--vm-id ${SERFLOW_VM_ID} --instance-type ${SERFLOW_INSTANCE_TYPE}',
    // SIGTERM to the worker only: it drains (Temporal's graceful shutdown) and exits; SIGKILL after the drain timeout.
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${stopTimeoutS}`,
    'Restart=on-failure',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n');

  const watchScript = [
    '#!/bin/sh',
    '# Stop (drain) the stage worker once the Auto Scaling group terminates this instance (IMDSv2 target state).',
    'IMDS=http://169.254.169.254/latest',
    'while :; do',
    `  TOKEN=$(curl -sf -X PUT "$IMDS/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' || true)`,
    '  STATE=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/meta-data/autoscaling/target-lifecycle-state" || true)',
    '  if [ "$STATE" = "Terminated" ]; then',
    `    systemctl stop ${STAGE_WORKER_UNIT}`,
    '    exit 0',
    '  fi',
    `  sleep ${DRAIN_WATCH_INTERVAL_S}`,
    'done',
  ].join('\n');

  const watchUnit = [
    '[Unit]',
    'Description=SERFLOW drain watch: drains the stage worker when the Auto Scaling group terminates this instance',
    `After=${STAGE_WORKER_UNIT}`,
    '',
    '[Service]',
    'Type=simple',
    'ExecStart=/usr/local/lib/serflow/drain-watch.sh',
    'Restart=on-failure',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n');

  const install = o.npmPackage
    ? [
        '# serflow from npm; ONNX Runtime CPU binaries ship in its package, so its CUDA download is skipped.',
        `install -d -m 0755 ${DEFAULT_INSTANCE_INSTALL_PREFIX}`,
        `ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix ${DEFAULT_INSTANCE_INSTALL_PREFIX} --omit=dev --no-audit --no-fund ${o.npmPackage}`,
      ]
    : ['# serflow is part of the image.'];

  const script = [
    '#!/bin/bash',
    `# SERFLOW VM pool ${o.model}/${stageArg}: rendered by deploy/aws/user-data.ts; runs once, as root, at first boot.`,
    'set -euo pipefail',
    'install -d -m 0755 /etc/serflow /var/lib/serflow /usr/local/lib/serflow',
    'IMDS=http://169.254.169.254/latest',
    `TOKEN=$(curl -sf -X PUT "$IMDS/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')`,
    'imds() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/meta-data/$1"; }',
    '# The instance id is the VM id: the worker bills under it, the provider drains by it.',
    // Assignments, so that `set -e` stops the boot on a failed metadata read (a substitution in an argument would not).
    'VM_ID=$(imds instance-id)',
    'VM_TYPE=$(imds instance-type)',
    'printf \'SERFLOW_VM_ID=%s\\nSERFLOW_INSTANCE_TYPE=%s\\n\' "$VM_ID" "$VM_TYPE" > /etc/serflow/instance.env',
    ...install,
    `test -f ${entry} || { echo "serflow not found at ${entry}" >&2; exit 1; }`,
    heredoc('/etc/serflow/config.json', 'SERFLOW_CONFIG_EOF', configJson),
    heredoc(`/etc/systemd/system/${STAGE_WORKER_UNIT}`, 'SERFLOW_UNIT_EOF', workerUnit),
    heredoc('/usr/local/lib/serflow/drain-watch.sh', 'SERFLOW_WATCH_EOF', watchScript),
    'chmod 0755 /usr/local/lib/serflow/drain-watch.sh',
    heredoc(`/etc/systemd/system/${DRAIN_WATCH_UNIT}`, 'SERFLOW_UNIT_EOF', watchUnit),
    'systemctl daemon-reload',
    `systemctl enable --now ${STAGE_WORKER_UNIT} ${DRAIN_WATCH_UNIT}`,
    '',
  ].join('\n');
  const bytes = Buffer.byteLength(script, 'utf8');
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new UserDataError(
      `user-data of ${o.model}/${stageArg} is ${bytes} bytes, over EC2's ${USER_DATA_MAX_BYTES} (a smaller config?)`,
    );
  }
  return script;
}

export interface LaunchTemplateOptions extends StageWorkerUserDataOptions {
  /** The AMI: Node.js 20+, curl and systemd (e.g. Amazon Linux 2023 with nodejs20). */
  imageId: string;
  /** @default config.vm.instanceType (the type the ledger prices) */
  instanceType?: string;
}

/**
 * The CreateLaunchTemplate input of pool (model, stage): its name from `aws.autoScaling.launchTemplateNamePattern`,
 * the user-data above, IMDSv2 required (the boot script and the watcher use tokens).
 */
export function launchTemplateInput(o: LaunchTemplateOptions): CreateLaunchTemplateCommandInput & {
  LaunchTemplateName: string;
  LaunchTemplateData: { UserData: string; InstanceType: _InstanceType; MetadataOptions: { HttpTokens: 'required' } };
} {
  if (!/^ami-[0-9a-f]+$/.test(o.imageId))
    throw new UserDataError(`imageId: expected an AMI id (ami-...), got ${JSON.stringify(o.imageId)}`);
  const userData = renderStageWorkerUserData(o);
  return {
    LaunchTemplateName: launchTemplateNameOf(o.config.aws.autoScaling, o.model, o.stage),
    LaunchTemplateData: {
      ImageId: o.imageId,
      // A type EC2 does not know is refused by CreateLaunchTemplate itself, naming it.
      InstanceType: (o.instanceType ?? o.config.vm.instanceType) as _InstanceType,
      UserData: Buffer.from(userData, 'utf8').toString('base64'),
      MetadataOptions: { HttpTokens: 'required' as const, HttpEndpoint: 'enabled' as const },
    },
  };
}
