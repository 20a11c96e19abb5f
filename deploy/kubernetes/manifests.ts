/**
 * The Kubernetes objects of one model's SERFLOW deployment, rendered from its manifest (how many stages) and the
 * config: a Namespace; a ConfigMap with the SERFLOW config the pods read (cloud `kubernetes`, the address of an
 * EXISTING Temporal, the NATS URL); the workflow worker (whose init container registers the search attributes and
 * creates the JetStream streams, both idempotent); one Deployment per stage pool (a pod = a VM); the cloud agent
 * (pool API, serverless gateway, the Kubernetes VM provider) with a ServiceAccount and a Role that lets it scale the
 * pools' Deployments and drain their pods, nothing more; and the autoscaler, which needs no API rights (it acts
 * through the agent's pool API on NATS). NATS itself comes from its official Helm chart (nats-values.yaml).
 *
 * Pure: `renderManifests` returns plain objects, `manifestFiles` their YAML, one file per concern, numbered in the
 * order `kubectl apply -f DIR` should create them.
 */
import { stringify } from 'yaml';
import type { SerflowConfig } from '../../common/config';
import { initialVmsPerStage } from '../../common/config';
import { WHOLE_MODEL_STAGE } from '../../common/naming';
import { loadManifest } from '../../models/manifest';
import { STAGE_WORKER_SHUTDOWN_GRACE_MS } from '../../workers/stage-worker';
import { WORKFLOW_WORKER_SHUTDOWN_GRACE_MS } from '../../workers/workflow-worker';
import { DEFAULT_VM_DRAIN_GRACE_MS } from '../local/vm-provider';
import {
  APP_LABEL,
  APP_NAME,
  COMPONENT_LABEL,
  deploymentName,
  MODEL_LABEL,
  modelLabelValue,
  namespaceName,
  STAGE_LABEL,
  STAGE_WORKER_COMPONENT,
  stageToken,
} from './names';

/** The image `docker build -f deploy/kubernetes/Dockerfile -t serflow:local .` makes (load it into the cluster). */
export const DEFAULT_IMAGE = 'serflow:local';

/**
 * The frontend of an existing Temporal: the official Temporal Helm chart installed as release `temporal` in
 * namespace `temporal` serves it as the Service `temporal-frontend` on 7233.
 */
export const DEFAULT_TEMPORAL_ADDRESS = 'temporal-frontend.temporal.svc.cluster.local:7233';

/** The official NATS Helm chart installed as release `nats` in the SERFLOW namespace serves clients as `nats:4222`. */
export const DEFAULT_NATS_URL = 'nats://nats:4222';

/** Where the pods find the SERFLOW config (the ConfigMap, mounted) and what the key is called. */
export const CONFIG_MAP_NAME = 'serflow-config';
export const CONFIG_FILE_KEY = 'serflow.config.json';
export const CONFIG_MOUNT_DIR = '/etc/serflow';

/**
 * Writable state of a process (logs of function instances, the data dir): an emptyDir at /tmp, so the image's own
 * files can stay read-only and owned by root.
 */
export const POD_HOME_DIR = '/tmp/serflow';

/** An optional Secret whose keys become environment variables: TEMPORAL_API_KEY, TEMPORAL_TLS_*, NATS creds. */
export const CREDENTIALS_SECRET = 'serflow-credentials';

/** The cloud agent's ServiceAccount and the Role that is everything it may do in the API. */
export const AGENT_SERVICE_ACCOUNT = 'serflow-cloud-agent';
export const AGENT_ROLE = 'serflow-pool-scaler';

/** The user `node:20-slim` runs as (`node`), so pods need not run as root. */
export const POD_USER_ID = 1000;

/**
 * A stage pod's termination grace: the drain a local VM gets (DEFAULT_VM_DRAIN_GRACE_MS, 90 s), i.e. the stage
 * worker's wait for its open polls to end (a task they bring is run, not lost), its own shutdown grace
 * (STAGE_WORKER_SHUTDOWN_GRACE_MS, 10 s, in-flight activities finish) and time to flush its outboxes and exit.
 * Kubernetes sends SIGKILL after it.
 */
export const STAGE_TERMINATION_GRACE_SECONDS = Math.ceil(
  Math.max(DEFAULT_VM_DRAIN_GRACE_MS, STAGE_WORKER_SHUTDOWN_GRACE_MS) / 1000,
);

/** The workflow worker's termination grace: its shutdown grace (5 s) plus 10 s to close its connections. */
export const WORKFLOW_TERMINATION_GRACE_SECONDS = Math.ceil(WORKFLOW_WORKER_SHUTDOWN_GRACE_MS / 1000) + 10;

/**
 * The cloud agent's termination grace: it drains the serverless gateway (in-flight invocations run to the stage
 * timeout) and flushes its billing facts; a minute covers a stage timeout of 10 s several times over.
 */
export const AGENT_TERMINATION_GRACE_SECONDS = 60;

/**
 * Resources of a stage pod: one core per inference thread (ONNX Runtime keeps it busy while a stage runs; the
 * event loop and pollers fit in the rest of a request's rounding), 512 MiB for Node + ORT + a small stage model,
 * limited at twice that so a leak is killed, not the node.
 */
export const STAGE_MEMORY_REQUEST_MI = 512;
/** The workflow worker: workflow tasks are short; V8 isolates and the workflow cache want memory more than CPU. */
export const WORKFLOW_CPU_REQUEST_M = 250;
export const WORKFLOW_MEMORY_REQUEST_MI = 512;
/**
 * The cloud agent: with `kubernetes.functions: in-cluster` it runs the function instances as child processes
 * (~150 MB each, at most `faas.accountConcurrency` at once), so its memory is a base plus a share per instance;
 * with `aws-lambda` (the default) the functions run in Lambda and the base is enough.
 */
export const AGENT_BASE_MEMORY_MI = 512;
export const AGENT_MEMORY_PER_FUNCTION_MI = 192;
/** The autoscaler: a NATS consumer and a policy tick a second. */
export const AUTOSCALER_CPU_REQUEST_M = 100;
export const AUTOSCALER_MEMORY_REQUEST_MI = 256;

export interface ManifestOptions {
  config: SerflowConfig;
  model: string;
  /** Stages of the model (its manifest). */
  stages: number;
  /** @default DEFAULT_IMAGE */
  image?: string;
  /** @default config.kubernetes.namespace */
  namespace?: string;
  /** @default config.temporal.address, else DEFAULT_TEMPORAL_ADDRESS */
  temporalAddress?: string;
  /** @default config.nats.url, else DEFAULT_NATS_URL */
  natsUrl?: string;
}

/** A Kubernetes object as plain data. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string } & Record<string, unknown>;
} & Record<string, unknown>;

/** The objects, grouped into the files they are written to (name → objects), in apply order. */
export type ManifestSet = { file: string; objects: KubeObject[] }[];

const labels = (component: string, extra: Record<string, string> = {}) => ({
  [APP_LABEL]: APP_NAME,
  [COMPONENT_LABEL]: component,
  ...extra,
});

/** The SERFLOW config the pods read: only what differs from the defaults on a cluster (the user may add more). */
export function podConfig(o: Required<Omit<ManifestOptions, 'image' | 'stages'>>): Record<string, unknown> {
  const k8s = o.config.kubernetes;
  return {
    homeDir: POD_HOME_DIR,
    defaultModel: o.model,
    cloud: 'kubernetes',
    temporal: { address: o.temporalAddress, namespace: o.config.temporal.namespace },
    nats: { url: o.natsUrl },
    kubernetes: {
      namespace: o.namespace,
      deploymentName: k8s.deploymentName,
      functions: k8s.functions,
      ...(k8s.instanceType ? { instanceType: k8s.instanceType } : {}),
    },
  };
}

export function renderManifests(options: ManifestOptions): ManifestSet {
  const { config, model, stages } = options;
  if (!Number.isInteger(stages) || stages < 1) {
    throw new RangeError(`model ${model}: stages must be a whole number >= 1, got ${stages}`);
  }
  modelLabelValue(model);
  const namespace = namespaceName(options.namespace ?? config.kubernetes.namespace);
  const o = {
    config,
    model,
    namespace,
    temporalAddress: options.temporalAddress ?? config.temporal.address ?? DEFAULT_TEMPORAL_ADDRESS,
    natsUrl: options.natsUrl ?? config.nats.url ?? DEFAULT_NATS_URL,
  };
  const k8s = { ...config.kubernetes, namespace };
  const image = options.image ?? DEFAULT_IMAGE;
  const meta = (name: string, component: string, extra: Record<string, string> = {}) => ({
    name,
    namespace,
    labels: labels(component, extra),
  });

  /** A container of the image running `args` (child-main roles), with the config mounted and credentials in env. */
  const container = (
    name: string,
    args: string[],
    resources: { cpuM: number; memoryMi: number },
    env: Record<string, unknown>[] = [],
  ) => ({
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    args,
    env: [{ name: 'SERFLOW_CONFIG', value: `${CONFIG_MOUNT_DIR}/${CONFIG_FILE_KEY}` }, ...env],
    envFrom: [{ secretRef: { name: CREDENTIALS_SECRET, optional: true } }],
    resources: {
      requests: { cpu: `${resources.cpuM}m`, memory: `${resources.memoryMi}Mi` },
      limits: { memory: `${2 * resources.memoryMi}Mi` },
    },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_MOUNT_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  });

  /** A pod spec around `containers`; only the cloud agent's pods get an API token. */
  const podSpec = (
    containers: Record<string, unknown>[],
    graceSeconds: number,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    ...extra,
    automountServiceAccountToken: extra.serviceAccountName !== undefined,
    terminationGracePeriodSeconds: graceSeconds,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: POD_USER_ID,
      runAsGroup: POD_USER_ID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers,
    volumes: [
      { name: 'config', configMap: { name: CONFIG_MAP_NAME } },
      { name: 'tmp', emptyDir: {} },
    ],
  });

  const deployment = (
    name: string,
    component: string,
    selector: Record<string, string>,
    spec: { replicas?: number; strategy?: string; pod: Record<string, unknown> },
  ): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, component, selector),
    spec: {
      ...(spec.replicas === undefined ? {} : { replicas: spec.replicas }),
      ...(spec.strategy ? { strategy: { type: spec.strategy } } : {}),
      selector: { matchLabels: labels(component, selector) },
      template: { metadata: { labels: labels(component, selector) }, spec: spec.pod },
    },
  });

  const modelSel = { [MODEL_LABEL]: model };
  // Stage pools 1..K, then the whole-model pool (stage 0, `--stage all`: VMs that run every stage, LIBRA's unit).
  const poolStages = [...Array.from({ length: stages }, (_, i) => i + 1), WHOLE_MODEL_STAGE];
  const stageDeployments = poolStages.map((stage) =>
    deployment(
      deploymentName(k8s, model, stage),
      STAGE_WORKER_COMPONENT,
      { ...modelSel, [STAGE_LABEL]: stageToken(stage) },
      {
        // The initial size; afterwards the autoscaler owns it through the scale subresource (a later
        // `kubectl apply` of an unchanged file leaves the live replicas alone: nothing changed to patch).
        // The whole-model pool starts empty: only a policy that uses it (LIBRA) scales it.
        replicas: stage === WHOLE_MODEL_STAGE ? 0 : initialVmsPerStage(config, true),
        pod: podSpec(
          [
            container(
              'stage-worker',
              // The pod name is the VM id: the worker's own billing facts and the provider's name the same VM.
              [
                'stage',
                '--model',
                model,
                '--stage',
                stageToken(stage),
                '--vm-id',
                '$(POD_NAME)',
                '--instance-type',
                config.kubernetes.instanceType ?? config.vm.instanceType,
              ],
              {
                cpuM: 1000 * config.workers.inferenceThreads * config.workers.intraOpThreads,
                memoryMi: STAGE_MEMORY_REQUEST_MI,
              },
              [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ),
          ],
          STAGE_TERMINATION_GRACE_SECONDS,
        ),
      },
    ),
  );

  const poolNames = stageDeployments.map((d) => d.metadata.name);
  const inClusterFunctions = config.kubernetes.functions === 'in-cluster' ? config.faas.accountConcurrency : 0;
  const agentMemoryMi = AGENT_BASE_MEMORY_MI + AGENT_MEMORY_PER_FUNCTION_MI * inClusterFunctions;

  return [
    { file: '00-namespace.yaml', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }] },
    {
      file: '01-config.yaml',
      objects: [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: meta(CONFIG_MAP_NAME, 'config'),
          data: { [CONFIG_FILE_KEY]: `${JSON.stringify(podConfig(o), null, 2)}\n` },
        },
      ],
    },
    {
      file: '10-workflow-worker.yaml',
      objects: [
        deployment(
          'serflow-workflow-worker',
          'workflow-worker',
          {},
          {
            replicas: 2,
            pod: podSpec(
              [
                container('workflow-worker', ['workflow'], {
                  cpuM: WORKFLOW_CPU_REQUEST_M,
                  memoryMi: WORKFLOW_MEMORY_REQUEST_MI,
                }),
              ],
              WORKFLOW_TERMINATION_GRACE_SECONDS,
              {
                // Registers the search attributes on the existing Temporal namespace and creates the JetStream streams
                // and buckets with their limits; both idempotent, so every start of the worker may run it.
                initContainers: [
                  {
                    ...container('setup', [], { cpuM: 100, memoryMi: 256 }),
                    command: ['node', 'lib/deploy/kubernetes/setup-main.js'],
                  },
                ],
              },
            ),
          },
        ),
      ],
    },
    ...stageDeployments.map((d, i) => ({ file: `20-stage-${stageToken(poolStages[i]!)}.yaml`, objects: [d] })),
    {
      file: '30-cloud-agent.yaml',
      objects: [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(AGENT_SERVICE_ACCOUNT, 'cloud-agent') },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: meta(AGENT_ROLE, 'cloud-agent'),
          rules: [
            // Scale the stage pools, and only them (not the agent's own or any other Deployment).
            {
              apiGroups: ['apps'],
              resources: ['deployments/scale'],
              resourceNames: poolNames,
              verbs: ['get', 'update', 'patch'],
            },
            // See the pools' pods (list by label), mark the one to drain (pod-deletion-cost) or delete it.
            // Pod names are generated, so these cannot be narrowed by name.
            { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'patch', 'delete'] },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: meta(AGENT_ROLE, 'cloud-agent'),
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: AGENT_ROLE },
          subjects: [{ kind: 'ServiceAccount', name: AGENT_SERVICE_ACCOUNT, namespace }],
        },
        deployment('serflow-cloud-agent', 'cloud-agent', modelSel, {
          replicas: 1,
          // Never two agents at once: both would answer the pool API and serve the serverless queues.
          strategy: 'Recreate',
          pod: podSpec(
            [
              // --initial-vms 0: the pools' initial sizes are their Deployments'; a restarted agent adds none.
              container('cloud-agent', ['cloud-agent', '--models', model, '--initial-vms', '0'], {
                cpuM: 500,
                memoryMi: agentMemoryMi,
              }),
            ],
            AGENT_TERMINATION_GRACE_SECONDS,
            { serviceAccountName: AGENT_SERVICE_ACCOUNT },
          ),
        }),
      ],
    },
    {
      file: '40-autoscaler.yaml',
      objects: [
        deployment('serflow-autoscaler', 'autoscaler', modelSel, {
          replicas: 1,
          // One decider per model: two would fight over the pools.
          strategy: 'Recreate',
          pod: podSpec(
            [
              container('autoscaler', ['autoscaler', '--model', model], {
                cpuM: AUTOSCALER_CPU_REQUEST_M,
                memoryMi: AUTOSCALER_MEMORY_REQUEST_MI,
              }),
            ],
            WORKFLOW_TERMINATION_GRACE_SECONDS,
          ),
        }),
      ],
    },
  ];
}

/** The files of `model`'s deployment, its stage count read from its manifest in `config.modelsDir`. */
export function renderModelManifestFiles(options: Omit<ManifestOptions, 'stages'>): { file: string; text: string }[] {
  const stages = loadManifest(options.model, options.config.modelsDir).stages.length;
  return manifestFiles(renderManifests({ ...options, stages }), options.model);
}

/** Header of every rendered file. */
export function manifestHeader(model: string): string {
  return (
    `# Generated by \`serflow k8s manifests --model ${model}\` (deploy/kubernetes/manifests.ts); edit the config or\n` +
    '# the generator and render again rather than editing this file.\n'
  );
}

/** Each file's YAML: its objects as documents separated by `---`. */
export function manifestFiles(set: ManifestSet, model: string): { file: string; text: string }[] {
  return set.map(({ file, objects }) => ({
    file,
    text:
      manifestHeader(model) + objects.map((obj) => stringify(obj, { lineWidth: 0, singleQuote: true })).join('---\n'),
  }));
}
