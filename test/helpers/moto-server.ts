/**
 * moto in server mode (PyPI `moto[server]`, `resolveTestTool(PY_TEST_TOOLS.motoServer)`): the AWS APIs on a free
 * loopback port for the AWS adapters' contract tests, started per suite and stopped after it, like nats-server.
 */
import { CreateAutoScalingGroupCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { SerflowConfig } from '../../common/config';
import { launchTemplateInput } from '../../deploy/aws/user-data';
import { resolveTestTool, PY_TEST_TOOLS } from '../../deploy/local/tools';
import { freePort, spawnManaged, stopPid, tailLog } from '../../deploy/local/processes';
import { waitUntil } from './wait-until';

/** moto imports its whole service catalogue at start: seconds on a loaded 2-core machine. */
export const MOTO_READY_TIMEOUT_MS = 60_000;

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** Fake credentials for the SDK's default chain: moto accepts any, and no real account is ever reached. */
export const MOTO_CREDENTIALS_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
} as const;

export async function startMotoServer(logDir: string): Promise<MotoServer> {
  const port = await freePort();
  const proc = spawnManaged({
    name: 'moto-server',
    command: resolveTestTool(PY_TEST_TOOLS.motoServer),
    args: ['-H', '127.0.0.1', '-p', String(port)],
    logDir,
  });
  const endpoint = `http://127.0.0.1:${port}`;
  let exited: number | string | undefined;
  void proc.exited.then((code) => (exited = code));
  try {
    await waitUntil(
      `moto_server on ${endpoint} (log: ${proc.logFile})`,
      MOTO_READY_TIMEOUT_MS,
      async () => {
        if (exited !== undefined) throw new Error(`moto_server exited (${exited}): ${tailLog(proc.logFile, 5)}`);
        // moto's own API answers once the server routes requests.
        const res = await fetch(`${endpoint}/moto-api/data.json`);
        return res.ok ? true : undefined;
      },
      200,
    );
  } catch (err) {
    await stopPid(proc.pid);
    throw err;
  }
  return { endpoint, stop: () => stopPid(proc.pid) };
}

/** One of the AMIs moto ships in its default catalogue. */
export const MOTO_AMI = 'ami-12c6146b';

/**
 * What an operator sets up before `cloud: aws` runs: each stage pool's launch template, as the product renders it
 * (deploy/aws/user-data.ts), and its Auto Scaling group `serflow-<model>-s<stage>`, empty.
 */
export async function createStagePoolGroups(
  clients: { ec2: EC2Client; autoScaling: AutoScalingClient },
  o: { config: SerflowConfig; model: string; stages: number[]; instanceType: string },
): Promise<void> {
  for (const stage of o.stages) {
    const lt = launchTemplateInput({
      config: o.config,
      model: o.model,
      stage,
      temporalAddress: 'temporal.internal:7233',
      natsUrl: 'nats://nats.internal:4222',
      imageId: MOTO_AMI,
      instanceType: o.instanceType,
    });
    await clients.ec2.send(new CreateLaunchTemplateCommand(lt));
    await clients.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: `serflow-${o.model}-s${stage}`,
        LaunchTemplate: { LaunchTemplateName: lt.LaunchTemplateName, Version: '$Latest' },
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: 0,
        AvailabilityZones: ['us-east-1a'],
      }),
    );
  }
}
