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

/** Section `kubernetes`: the cluster the stage pools run in (deploy/kubernetes/). */
export const kubernetesConfigSchema = z.object({}).strict().prefault({});
