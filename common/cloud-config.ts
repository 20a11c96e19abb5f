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
    lambda: z.object({}).strict().prefault({}),
    /** EC2 Auto Scaling groups as the VM pools (deploy/aws/asg-*). */
    autoScaling: autoScalingConfigSchema,
  })
  .strict()
  .prefault({});

/** Section `kubernetes`: the cluster the stage pools run in (deploy/kubernetes/). */
export const kubernetesConfigSchema = z.object({}).strict().prefault({});
