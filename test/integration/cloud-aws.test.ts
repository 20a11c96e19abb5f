/**
 * `cloud: aws` end to end through the real stack: the cloud agent picks its adapters by the config switch
 * (deploy/cloud-providers.ts), so queries started by the SDK run their serverless stages as Lambda invocations of the
 * real handler file (a local endpoint speaking Lambda's Invoke API), and `serflow pools scale` moves an EC2 Auto
 * Scaling group's desired capacity (moto). moto's instances run nothing, so no stage is routed to a VM here; the VM
 * side's drain and billing are the ASG contract test's (aws-asg.test.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { compileConfig } from '../../common/config';
import type { BillingEvent } from '../../common/billing-events';
import type { InferenceResult } from '../../common/contracts';
import { sampleIndices } from '../../common/stats';
import { awsClientSettings } from '../../deploy/aws/clients';
import { PROJECT_ROOT } from '../../common/paths';
import { callPoolsApi } from '../../infra/pools-api';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { createDirectPipeline } from '../../models/runtime/direct-pipeline';
import { readAllBillingEvents } from '../helpers/billing-events';
import { startLambdaEndpoint, type LambdaEndpoint } from '../helpers/lambda-endpoint';
import { createStagePoolGroups, MOTO_CREDENTIALS_ENV, startMotoServer, type MotoServer } from '../helpers/moto-server';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const STAGES = loadManifest(MODEL).stages.length;
const THRESHOLD = 0.9;
const QUERIES = 6;
const HANDLER_FILE = path.join(PROJECT_ROOT, 'lib', 'deploy', 'aws', 'lambda-handler.js');

describe('cloud: aws through the real stack (Lambda Invoke endpoint + moto)', () => {
  let dir: string;
  let moto: MotoServer;
  let lambda: LambdaEndpoint;
  let t: TestStack;
  /** The functions' environments: NATS_URL is the stack's, known once it has started. */
  const envs = new Map<number, Record<string, string>>();
  const results: InferenceResult[] = [];
  const expected: { exitStage: number; label: number }[] = [];
  const savedEnv: Record<string, string | undefined> = {};

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-cloud-aws-'));
    // The SDK's default credential chain, in this process and in the agent it spawns: moto takes any.
    for (const [k, v] of Object.entries(MOTO_CREDENTIALS_ENV)) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    moto = await startMotoServer(path.join(dir, 'moto'));
    for (let stage = 1; stage <= STAGES; stage++)
      envs.set(stage, { SERFLOW_MODEL: MODEL, SERFLOW_STAGE: String(stage) });
    lambda = await startLambdaEndpoint({
      functions: [...envs].map(([stage, env]) => ({
        name: `serflow-${MODEL}-s${stage}`,
        handlerFile: HANDLER_FILE,
        env,
        memoryMb: 512,
      })),
      concurrency: 8,
      logDir: path.join(dir, 'lambda'),
    });
    const aws = { region: 'us-east-1', endpoint: moto.endpoint, lambda: { endpoint: lambda.url } };
    // The pools' launch templates as the product renders them, and their groups, empty.
    const awsConfig = compileConfig({ cloud: 'aws', aws });
    const ec2 = new EC2Client(awsClientSettings(awsConfig));
    const autoScaling = new AutoScalingClient(awsClientSettings(awsConfig));
    const stages = Array.from({ length: STAGES }, (_, i) => i + 1);
    await createStagePoolGroups(
      { ec2, autoScaling },
      { config: awsConfig, model: MODEL, stages, instanceType: 't3.micro' },
    );
    ec2.destroy();
    autoScaling.destroy();
    t = await startTestStack({
      cloud: 'aws',
      aws: { ...aws, autoScaling: { pollIntervalMs: 1_000 } },
      // Real EC2 bills in real time (the ASG adapter refuses a scaled clock); no VM is started for the queries.
      timeScale: 1,
      vm: { initialPerStage: 0 },
      routing: { plan: 'all-faas' },
      // A Lambda cold start here loads ONNX Runtime in a new process on a loaded machine: not a lost attempt.
      stages: { timeoutMs: 60_000 },
    });
    for (const env of envs.values()) env.NATS_URL = t.stack.info.natsUrl;

    const direct = await createDirectPipeline(MODEL);
    const split = loadSplit(loadManifest(MODEL), 'test');
    try {
      for (const i of sampleIndices(split.images.length, QUERIES, 17)) {
        expected.push(await direct.run(split.images[i]!, THRESHOLD));
        results.push(await t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD }));
      }
    } finally {
      await direct.close();
    }
  });

  after(async () => {
    await t?.stop();
    await lambda?.stop();
    await moto?.stop();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every query ran its stages as Lambda invocations and answered as the in-process pipeline does', () => {
    assert.equal(results.length, QUERIES);
    results.forEach((r, i) => {
      assert.equal(r.exitStage, expected[i]!.exitStage, `query ${i}: exit stage`);
      assert.equal(r.label, expected[i]!.label, `query ${i}: label`);
      assert.ok(
        r.stages.every((s) => s.backend === 'faas'),
        `query ${i} ran on ${r.stages.map((s) => s.backend).join(',')}`,
      );
    });
    const invoked = results.reduce((n, r) => n + r.stages.length, 0);
    assert.equal(lambda.statusCounts[200], invoked, 'one successful Invoke per stage run');
    assert.ok(lambda.environments(`serflow-${MODEL}-s1`) >= 1, 'stage 1 started a Lambda environment');
  });

  test('the ledger bills the invocations from the REPORT lines, under the handler instances', async () => {
    const invoked = (await readAllBillingEvents(t.nc)).filter(
      (e): e is Extract<BillingEvent, { type: 'faas.invoked' }> => e.type === 'faas.invoked',
    );
    const ran = results.reduce((n, r) => n + r.stages.length, 0);
    assert.equal(invoked.length, ran);
    for (const e of invoked) {
      assert.equal(e.memoryMb, 512);
      assert.ok(e.durationMs > 0, `billed duration ${e.durationMs}`);
    }
    assert.ok(
      invoked.some((e) => e.initMs > 0),
      'the first invocation of a function is a cold start with its Init Duration billed',
    );
  });

  test('`serflow pools scale` moves the stage pool Auto Scaling group (the agent reaches EC2 through the switch)', async () => {
    const reply = await callPoolsApi(t.nc, { op: 'scale', model: MODEL, stage: 2, vms: 2 }, 60_000);
    assert.ok(reply.ok, JSON.stringify(reply));
    const autoScaling = new AutoScalingClient(
      awsClientSettings(compileConfig({ cloud: 'aws', aws: { endpoint: moto.endpoint } })),
    );
    try {
      const desired = await waitUntil('group serflow-mnist-ee-s2 at 2', 30_000, async () => {
        const res = await autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [`serflow-${MODEL}-s2`] }),
        );
        const g = res.AutoScalingGroups?.[0];
        return g?.DesiredCapacity === 2 ? g : undefined;
      });
      assert.equal(desired.Instances?.length, 2);
      assert.equal(reply.vms.filter((v) => v.model === MODEL && v.stage === 2).length, 2);
    } finally {
      autoScaling.destroy();
    }
  });
});
