/**
 * Where stages run: the `cloud` switch and the sections of the cloud adapters it selects. Part of the one config
 * (config.ts imports these schemas); each adapter's fields and defaults are named and explained here.
 *
 * - `local` (default): the embedded stack's emulated VMs (processes) and functions (instances), deploy/local/.
 * - `aws`: VM pools as EC2 Auto Scaling groups and functions as AWS Lambda functions, deploy/aws/.
 * - `kubernetes`: VM pools as Deployments scaled through their scale subresource, deploy/kubernetes/.
 */
import { z } from 'zod';

export const CLOUDS = ['local', 'aws', 'kubernetes'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** AWS region used unless configured (or set by AWS_REGION). */
export const DEFAULT_AWS_REGION = 'us-east-1';

/** Section `aws`: the account's region and, for tests and private endpoints, the API endpoint. */
export const awsConfigSchema = z
  .object({
    region: z.string().min(1).default(DEFAULT_AWS_REGION),
    /** Unset: AWS's own endpoints. Set (e.g. `http://127.0.0.1:5000`) for moto or a VPC endpoint. */
    endpoint: z.url().optional(),
    /** AWS Lambda as the serverless platform (deploy/aws/lambda-*). */
    lambda: z.object({}).strict().prefault({}),
    /** EC2 Auto Scaling groups as the VM pools (deploy/aws/asg-*). */
    autoScaling: z.object({}).strict().prefault({}),
  })
  .strict()
  .prefault({});

/** Namespace the SERFLOW workloads (and so the stage pools' Deployments) live in. */
export const DEFAULT_KUBERNETES_NAMESPACE = 'serflow';

/**
 * Name of a stage pool's Deployment: `{model}` and `{stage}` are replaced (`{stage}` by `all` for the whole-model
 * pool, stage 0). The manifests (`serflow k8s manifests`) name the Deployments with the same pattern.
 */
export const DEFAULT_KUBERNETES_DEPLOYMENT_NAME = 'serflow-{model}-stage-{stage}';

/** Where a pod finds its service account's token, CA bundle and namespace (Kubernetes mounts them there). */
export const DEFAULT_KUBERNETES_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * How often the provider lists the pools' pods (one LIST per interval for every pool): 2 s keeps `serflow pools`
 * and the autoscaler's view about one autoscaler tick behind, at half a request a second to the API server.
 */
export const DEFAULT_KUBERNETES_POLL_INTERVAL_MS = 2_000;

/** A call to the API server that has not answered within this long fails (and the next poll tries again). */
export const DEFAULT_KUBERNETES_REQUEST_TIMEOUT_MS = 10_000;

/**
 * `launch` waits at most this long for the ReplicaSet controller to create the new pods, so it can return them;
 * the controller usually takes well under a second. Pods that come later still show in `list()`.
 */
export const DEFAULT_KUBERNETES_LAUNCH_WAIT_MS = 10_000;

/**
 * Section `kubernetes`: the cluster the stage pools run in (deploy/kubernetes/). A stage pool is a Deployment, a VM
 * is one of its pods; the provider scales the Deployment through its scale subresource.
 */
export const kubernetesConfigSchema = z
  .object({
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lowercase letters, digits, -)')
      .max(63)
      .default(DEFAULT_KUBERNETES_NAMESPACE),
    /** DEFAULT_KUBERNETES_DEPLOYMENT_NAME; must contain `{model}` and `{stage}`. */
    deploymentName: z
      .string()
      .refine((s) => s.includes('{model}') && s.includes('{stage}'), 'must contain {model} and {stage}')
      .default(DEFAULT_KUBERNETES_DEPLOYMENT_NAME),
    /**
     * URL of the API server (e.g. `https://10.0.0.1:6443`, or `http://127.0.0.1:8001` behind `kubectl proxy`).
     * Unset: in-cluster, from KUBERNETES_SERVICE_HOST/PORT with the service account's token and CA.
     */
    apiServer: z.url().optional(),
    /** The service account's token, CA and namespace files (used in-cluster, and for the token with `apiServer`). */
    serviceAccountDir: z.string().min(1).default(DEFAULT_KUBERNETES_SERVICE_ACCOUNT_DIR),
    pollIntervalMs: z.number().int().min(100).default(DEFAULT_KUBERNETES_POLL_INTERVAL_MS),
    requestTimeoutMs: z.number().int().positive().default(DEFAULT_KUBERNETES_REQUEST_TIMEOUT_MS),
    launchWaitMs: z.number().int().nonnegative().default(DEFAULT_KUBERNETES_LAUNCH_WAIT_MS),
    /**
     * Instance type a pod is billed as (a key of `prices.vmPerHourUsd`). Unset: `vm.instanceType`, i.e. a pod is
     * priced like one VM of the local and AWS pools; set it to a type priced at the pod's share of a node.
     */
    instanceType: z.string().min(1).optional(),
  })
  .strict()
  .prefault({});
export type KubernetesConfig = z.infer<typeof kubernetesConfigSchema>;
