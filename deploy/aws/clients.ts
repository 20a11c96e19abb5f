/**
 * The AWS SDK clients of the `aws` cloud, built from the one config: its region and, for moto or a VPC endpoint, its
 * endpoint. Credentials come from the SDK's default chain (environment, profile, instance role), never from config.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
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
