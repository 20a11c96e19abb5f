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

/**
 * Name of a one-stage Lambda function, `{model}` and `{stage}` filled in: `serflow-mnist-ee-s2`. One function per
 * (model, stage), as the local platform has one function per stage, so each has its own memory and concurrency.
 */
export const DEFAULT_LAMBDA_FUNCTION_NAME = 'serflow-{model}-s{stage}';

/** Name of a fused Lambda function (stages `{first}`..`{last}` in one invocation): `serflow-mnist-ee-s1-4`. */
export const DEFAULT_LAMBDA_FUSED_FUNCTION_NAME = 'serflow-{model}-s{first}-{last}';

/**
 * Memory of a Lambda function unless `functions` says otherwise, MB: the local emulation's default (config.ts
 * DEFAULT_FAAS_MEMORY_MB), so a deployment left at its defaults bills as the emulation does. 512 MB holds Node,
 * ONNX Runtime (a 45 MB native library) and a small stage model with room to spare; CPU is 512/1769 of a vCPU.
 */
export const DEFAULT_LAMBDA_MEMORY_MB = 512;

/**
 * How long one Invoke may take before the adapter gives up on it, ms: a cold start (Lambda caps the billed init at
 * 10 s) plus a stage run, with margin. The stage's Temporal activity timeout normally ends a slow call first.
 */
export const DEFAULT_LAMBDA_INVOKE_TIMEOUT_MS = 60_000;

/** Lambda's memory range, MB (1 MB steps). */
export const LAMBDA_MEMORY_MIN_MB = 128;
export const LAMBDA_MEMORY_MAX_MB = 10_240;

/** A key of `aws.lambda.functions`: a stage (`"2"`) or a fused run (`"1-4"`). */
export const LAMBDA_FUNCTION_KEY = /^[1-9][0-9]*(-[1-9][0-9]*)?$/;

const lambdaMemoryMb = z.number().int().min(LAMBDA_MEMORY_MIN_MB).max(LAMBDA_MEMORY_MAX_MB);

/** A name pattern must name each placeholder it needs, or two functions would share one name. */
const namePattern = (fallback: string, needs: readonly string[]) =>
  z
    .string()
    .min(1)
    .default(fallback)
    .refine((p) => needs.every((n) => p.includes(`{${n}}`)), {
      message: `must contain ${needs.map((n) => `{${n}}`).join(' and ')}`,
    });

/** Section `aws.lambda`: the Lambda functions the stages run as (deploy/aws/lambda-platform.ts). */
export const lambdaConfigSchema = z
  .object({
    /** @default DEFAULT_LAMBDA_FUNCTION_NAME; must contain `{model}` and `{stage}`. */
    functionName: namePattern(DEFAULT_LAMBDA_FUNCTION_NAME, ['model', 'stage']),
    /** @default DEFAULT_LAMBDA_FUSED_FUNCTION_NAME; must contain `{model}`, `{first}` and `{last}`. */
    fusedFunctionName: namePattern(DEFAULT_LAMBDA_FUSED_FUNCTION_NAME, ['model', 'first', 'last']),
    /** Memory of every function not listed in `functions`, MB. @default DEFAULT_LAMBDA_MEMORY_MB */
    memoryMb: lambdaMemoryMb.default(DEFAULT_LAMBDA_MEMORY_MB),
    /**
     * Per-function overrides, keyed by stage (`"2"`) or fused run (`"1-4"`): its name and/or memory. A fused run not
     * listed gets the largest memory of its stages, as the local platform gives it.
     */
    functions: z
      .record(
        z.string().regex(LAMBDA_FUNCTION_KEY, 'a stage ("2") or a fused run ("1-4")'),
        z
          .object({
            name: z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a Lambda function name: 1-64 of A-Z a-z 0-9 _ -')
              .optional(),
            memoryMb: lambdaMemoryMb.optional(),
          })
          .strict(),
      )
      .default({}),
    /** Instruction set of the functions; the package command ships ONNX Runtime's native library for it. */
    architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
    /** @default DEFAULT_LAMBDA_INVOKE_TIMEOUT_MS */
    invokeTimeoutMs: z.number().int().positive().default(DEFAULT_LAMBDA_INVOKE_TIMEOUT_MS),
    /**
     * Lambda's own endpoint, when it differs from `aws.endpoint` (each service has its own VPC interface endpoint;
     * tests put Lambda and the EC2 APIs on different emulators). Unset: `aws.endpoint`, else AWS's.
     */
    endpoint: z.url().optional(),
  })
  .strict()
  .prefault({});
export type LambdaConfig = z.infer<typeof lambdaConfigSchema>;

/** `{model}` and `{stage}` are replaced by a pool's model name and stage number (`all` for the whole-model pool). */
const POOL_PATTERN_FORMS = 'a name with {model} and {stage}, e.g. serflow-{model}-s{stage}';

/**
 * Group of a stage pool: one Auto Scaling group (and launch template) per (model, stage), named by the model and the
 * stage so an operator reads the pool off the AWS console. Both placeholders are required: two pools must never
 * share a group.
 */
export const DEFAULT_ASG_GROUP_NAME_PATTERN = 'serflow-{model}-s{stage}';

/** Group of a model's whole-model pool (stage 0: one VM serves every stage); `{model}` is required. */
export const DEFAULT_ASG_WHOLE_MODEL_GROUP_NAME_PATTERN = 'serflow-{model}-all';

/**
 * Launch template of a pool: as its group's name, so the template that holds a pool's user-data (deploy/aws/
 * user-data.ts: which model and stage the instance serves) is found by the same name.
 */
export const DEFAULT_ASG_LAUNCH_TEMPLATE_NAME_PATTERN = DEFAULT_ASG_GROUP_NAME_PATTERN;

/** The TERMINATING lifecycle hook that holds a chosen instance in Terminating:Wait while its worker drains. */
export const DEFAULT_ASG_LIFECYCLE_HOOK_NAME = 'serflow-drain';

/**
 * How often the provider re-reads its groups and instances (DescribeAutoScalingGroups + DescribeInstances, two
 * calls per poll whatever the number of pools): 15 s sees an instance launched or lost within a quarter minute, at
 * 8 calls a minute, far under the APIs' request rates; every action also re-reads at once.
 */
export const DEFAULT_ASG_POLL_INTERVAL_MS = 15_000;

/**
 * How long a draining instance's worker gets to report it has drained (its `vm.stopped` fact) before the provider
 * completes the lifecycle action anyway: the on-instance watcher sees Terminating:Wait within 5 s (its IMDS poll),
 * the worker's graceful shutdown takes up to 10 s (STAGE_WORKER_SHUTDOWN_GRACE_MS) plus closing its sessions and
 * connections; two minutes leaves a wide margin over that on a slow instance.
 */
export const DEFAULT_ASG_DRAIN_TIMEOUT_MS = 120_000;

/**
 * How long `launch` waits for the group to list the instances it asked for (they are listed, Pending, within
 * seconds of SetDesiredCapacity); the rest appear in `list()` at a later poll.
 */
export const DEFAULT_ASG_LAUNCH_WAIT_MS = 30_000;

/** A key of `groups`: `<model>/<stage>` (1-based) or `<model>/all`. */
const POOL_KEY = /^[^/]+\/(all|[1-9][0-9]*)$/;

const poolNamePattern = (placeholders: readonly string[]) =>
  z
    .string()
    .min(1)
    .max(255)
    .refine((p) => placeholders.every((ph) => p.includes(ph)), {
      message: `must contain ${placeholders.join(' and ')} (${POOL_PATTERN_FORMS})`,
    });

/** Section `aws.autoScaling`: how VM pools map to Auto Scaling groups and how they drain (deploy/aws/asg-provider.ts). */
export const autoScalingConfigSchema = z
  .object({
    /** Group name of a stage pool. @default DEFAULT_ASG_GROUP_NAME_PATTERN */
    groupNamePattern: poolNamePattern(['{model}', '{stage}']).default(DEFAULT_ASG_GROUP_NAME_PATTERN),
    /** Group name of a model's whole-model pool. @default DEFAULT_ASG_WHOLE_MODEL_GROUP_NAME_PATTERN */
    wholeModelGroupNamePattern: poolNamePattern(['{model}']).default(DEFAULT_ASG_WHOLE_MODEL_GROUP_NAME_PATTERN),
    /**
     * Explicit group names that win over the patterns, keyed `<model>/<stage>` (`<model>/all` for the whole-model
     * pool), e.g. `{ "mnist-ee/1": "prod-mnist-stage1" }`.
     */
    groups: z
      .record(z.string(), z.string().min(1).max(255))
      .superRefine((groups, ctx) => {
        for (const key of Object.keys(groups)) {
          if (!POOL_KEY.test(key)) {
            ctx.addIssue({ code: 'custom', path: [key], message: 'expected a key <model>/<stage> or <model>/all' });
          }
        }
      })
      .default({}),
    /**
     * Launch template of a pool (its user-data names the pool; `{stage}` is `all` for the whole-model pool).
     * @default DEFAULT_ASG_LAUNCH_TEMPLATE_NAME_PATTERN
     */
    launchTemplateNamePattern: poolNamePattern(['{model}']).default(DEFAULT_ASG_LAUNCH_TEMPLATE_NAME_PATTERN),
    /** The TERMINATING lifecycle hook the provider drains through (created on a group that lacks it). */
    lifecycleHookName: z.string().min(1).max(255).default(DEFAULT_ASG_LIFECYCLE_HOOK_NAME),
    /** @default DEFAULT_ASG_POLL_INTERVAL_MS */
    pollIntervalMs: z.number().int().min(1_000).default(DEFAULT_ASG_POLL_INTERVAL_MS),
    /**
     * Lifecycle hooks wait 30 s to 2 h; the hook's own timeout is this plus ASG_HOOK_TIMEOUT_MARGIN_MS (1 min), so at
     * most 2 h - 1 min. @default DEFAULT_ASG_DRAIN_TIMEOUT_MS
     */
    drainTimeoutMs: z.number().int().min(30_000).max(7_140_000).default(DEFAULT_ASG_DRAIN_TIMEOUT_MS),
    /** @default DEFAULT_ASG_LAUNCH_WAIT_MS */
    launchWaitMs: z.number().int().nonnegative().default(DEFAULT_ASG_LAUNCH_WAIT_MS),
  })
  .strict()
  .prefault({});

/** Section `aws`: the account's region and, for tests and private endpoints, the API endpoint. */
export const awsConfigSchema = z
  .object({
    region: z.string().min(1).default(DEFAULT_AWS_REGION),
    /** Unset: AWS's own endpoints. Set (e.g. `http://127.0.0.1:5000`) for moto or a VPC endpoint. */
    endpoint: z.url().optional(),
    /** AWS Lambda as the serverless platform (deploy/aws/lambda-*). */
    lambda: lambdaConfigSchema,
    /** EC2 Auto Scaling groups as the VM pools (deploy/aws/asg-*). */
    autoScaling: autoScalingConfigSchema,
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
/** Where serverless stages run on `cloud: kubernetes` (`kubernetes.functions`). */
export const KUBERNETES_FUNCTIONS = ['aws-lambda', 'in-cluster'] as const;

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
    /**
     * Where a Kubernetes deployment's serverless stages run (Kubernetes itself has no functions):
     * - `aws-lambda` (default): AWS Lambda, the `aws.lambda` section (a cluster on EKS, or any cluster with an AWS
     *   account to invoke from);
     * - `in-cluster`: function instances as processes of the cloud agent's pod (the embedded stack's platform): cold
     *   starts and scale to zero within that pod, billed per invocation at `prices.faas*` as a what-if, while what
     *   they really cost is the agent pod's share of its node.
     */
    functions: z.enum(KUBERNETES_FUNCTIONS).default('aws-lambda'),
  })
  .strict()
  .prefault({});
export type KubernetesConfig = z.infer<typeof kubernetesConfigSchema>;
