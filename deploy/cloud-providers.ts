/**
 * The one place the `cloud` switch (common/cloud-config.ts) picks the adapters behind the provider interfaces
 * (infra/providers.ts): the cloud agent, the autoscaler's actuation and `serflow pools` all reach capacity through
 * what this returns, so the same code runs on the embedded stack and on a real cloud.
 */
import type { NatsConnection } from 'nats';
import type { BillingPublisher } from '../billing/publisher';
import type { SerflowConfig } from '../common/config';
import type { ServerlessPlatform, VmPoolProvider } from '../infra/providers';
import { CHILD_MAIN_SCRIPT } from './local/processes';
import { createLocalServerlessPlatform } from './local/serverless-platform';
import { createLocalVmProvider } from './local/vm-provider';

export interface CloudProviderDeps {
  config: SerflowConfig;
  temporalAddress: string;
  natsUrl: string;
  nc: NatsConnection;
  billing: BillingPublisher;
  /** Where local VM and function-instance logs go (the local cloud only). */
  logDir: string;
}

export interface CloudProviders {
  vms: VmPoolProvider;
  platform: ServerlessPlatform;
}

/** The VM pool provider and serverless platform of `config.cloud`. */
export async function createCloudProviders(deps: CloudProviderDeps): Promise<CloudProviders> {
  const { config } = deps;
  // The embedded stack's platform: function instances as child processes of this (the cloud agent's) process.
  const localFunctions = () =>
    createLocalServerlessPlatform({
      config,
      natsUrl: deps.natsUrl,
      nc: deps.nc,
      billing: deps.billing,
      logDir: deps.logDir,
    });
  switch (config.cloud) {
    case 'local':
      return {
        vms: await createLocalVmProvider({ ...deps, workerScript: CHILD_MAIN_SCRIPT }),
        platform: localFunctions(),
      };
    case 'kubernetes': {
      // Each cloud's SDK and adapters load only where that cloud is chosen (the AWS SDK alone takes ~0.3 s).
      const { createKubernetesVmProvider } = await import('./kubernetes/deployment-provider');
      const { createLambdaPlatform } = await import('./aws/lambda-platform');
      return {
        vms: await createKubernetesVmProvider({ config, billing: deps.billing, nc: deps.nc }),
        platform:
          config.kubernetes.functions === 'aws-lambda'
            ? createLambdaPlatform({ config, billing: deps.billing })
            : localFunctions(),
      };
    }
    case 'aws': {
      const { createAsgVmProvider } = await import('./aws/asg-provider');
      const { createLambdaPlatform } = await import('./aws/lambda-platform');
      return {
        vms: await createAsgVmProvider({ config, nc: deps.nc, billing: deps.billing }),
        platform: createLambdaPlatform({ config, billing: deps.billing }),
      };
    }
  }
}
