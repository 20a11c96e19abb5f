/**
 * The AWS SDK clients of the `aws` cloud, built from the one config: its region and, for moto or a VPC endpoint, its
 * endpoint. Credentials come from the SDK's default chain (environment, profile, instance role), never from config.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import type { SerflowConfig } from '../../common/config';

/** What every client of the `aws` section is built with. */
export interface AwsClientSettings {
  region: string;
  endpoint?: string;
}

export function awsClientSettings(config: Pick<SerflowConfig, 'aws'>): AwsClientSettings {
  const { region, endpoint } = config.aws;
  return endpoint === undefined ? { region } : { region, endpoint };
}

export function createAutoScalingClient(config: Pick<SerflowConfig, 'aws'>): AutoScalingClient {
  return new AutoScalingClient(awsClientSettings(config));
}

export function createEc2Client(config: Pick<SerflowConfig, 'aws'>): EC2Client {
  return new EC2Client(awsClientSettings(config));
}

/**
 * SDK attempts per Lambda Invoke: one. A throttle must reach the caller as FunctionThrottledError at once (the
 * stage's retry policy backs off or the router falls back to a VM); SDK retries would hide it and stretch the call.
 */
export const LAMBDA_SDK_MAX_ATTEMPTS = 1;

/** The Lambda client of the serverless platform (deploy/aws/lambda-platform.ts); `extra` for tests' credentials. */
export function createLambdaClient(config: Pick<SerflowConfig, 'aws'>, extra: LambdaClientConfig = {}): LambdaClient {
  const endpoint = config.aws.lambda.endpoint;
  return new LambdaClient({
    ...awsClientSettings(config),
    ...(endpoint === undefined ? {} : { endpoint }),
    maxAttempts: LAMBDA_SDK_MAX_ATTEMPTS,
    ...extra,
  });
}
