/**
 * The EC2 Auto Scaling VM pool provider (deploy/aws/asg-provider.ts) against moto's server mode (the Auto Scaling and
 * EC2 APIs on a free port, fake credentials) and a real nats-server for the billing facts: pools found by their
 * group names, launch and scaleTo through desired capacity, scale-in and drain of chosen instances with
 * terminate-and-decrement, the lifecycle hook put on every pool group, and VM billing facts from the instances' EC2
 * lifecycle (LaunchTime, observed termination).
 *
 * What moto (5.2.5) does not do, and so is not tested here: it stores lifecycle hooks but never holds an instance in
 * Terminating:Wait (TerminateInstanceInAutoScalingGroup terminates at once), and it does not implement
 * CompleteLifecycleAction (HTTP 500). The wait for the worker's `vm.stopped` and the completion of the lifecycle
 * action are covered by test/unit/deploy/aws-asg-drain.test.ts, on a fake Auto Scaling API that does hold instances.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  DescribeInstancesCommand,
  EC2Client,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { NatsConnection } from 'nats';
import { createBillingPublisher, type BillingPublisher } from '../../billing/publisher';
import { readBillingEvents } from '../../billing/reader';
import type { BillingEvent } from '../../common/billing-events';
import { compileConfig, type SerflowConfig } from '../../common/config';
import { createAsgVmProvider } from '../../deploy/aws/asg-provider';
import { awsClientSettings } from '../../deploy/aws/clients';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { ensureNatsResources } from '../../infra/nats';
import type { VmInstance, VmPoolProvider } from '../../infra/providers';
import {
  createStagePoolGroups,
  MOTO_AMI,
  MOTO_CREDENTIALS_ENV,
  startMotoServer,
  type MotoServer,
} from '../helpers/moto-server';
import { sleep, waitUntil } from '../helpers/wait-until';

const MODEL = 'm';
const GROUP_1 = 'serflow-m-s1';
const INSTANCE_TYPE = 't3.micro';
/** EC2 gives launch times to the second: launches this far apart are ordered by them. */
const LAUNCH_TIME_RESOLUTION_MS = 1_100;

describe('EC2 Auto Scaling VM pools (moto server mode)', () => {
  let dir: string;
  let moto: MotoServer;
  let nats: StartedNatsServer;
  let nc: NatsConnection;
  let config: SerflowConfig;
  let autoScaling: AutoScalingClient;
  let ec2: EC2Client;
  let billing: BillingPublisher;
  let provider: VmPoolProvider;
  const savedEnv: Record<string, string | undefined> = {};
  const logs: string[] = [];

  const group = async (name: string) => {
    const res = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
    return res.AutoScalingGroups![0]!;
  };
  const ec2States = async (ids: string[]) => {
    const res = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }] }));
    const all = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    return new Map(all.map((i) => [i.InstanceId!, { state: i.State!.Name!, launchedAt: i.LaunchTime!.getTime() }]));
  };
  const vmFacts = async (vmId: string): Promise<BillingEvent[]> =>
    (await readBillingEvents(nc)).events.filter((e) => 'vmId' in e && e.vmId === vmId);
  const active = (list: VmInstance[]) => list.filter((v) => v.state === 'booting' || v.state === 'ready');
  const ready = async (vm: VmInstance) => {
    await billing.publish({
      type: 'vm.ready',
      at: Date.now(),
      model: MODEL,
      stage: vm.stage,
      vmId: vm.id,
      instanceType: vm.instanceType,
    });
    await waitUntil(`${vm.id} ready`, 10_000, () => provider.list().find((v) => v.id === vm.id && v.state === 'ready'));
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-aws-asg-'));
    for (const [k, v] of Object.entries({ ...MOTO_CREDENTIALS_ENV, AWS_REGION: 'us-east-1' })) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    moto = await startMotoServer(path.join(dir, 'logs'));
    nats = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'js'),
      logDir: path.join(dir, 'logs'),
      clientName: 'aws-asg-test',
      readyTimeoutMs: 30_000,
    });
    nc = nats.nc;
    config = compileConfig({
      homeDir: dir,
      cloud: 'aws',
      aws: {
        region: 'us-east-1',
        endpoint: moto.endpoint,
        autoScaling: { pollIntervalMs: 1_000, launchWaitMs: 10_000 },
      },
    });
    await ensureNatsResources(nc, config);
    autoScaling = new AutoScalingClient(awsClientSettings(config));
    ec2 = new EC2Client(awsClientSettings(config));
    // The pools' launch templates as the product renders them, and their groups, empty; one group that is no pool.
    await createStagePoolGroups(
      { ec2, autoScaling },
      { config, model: MODEL, stages: [1, 2], instanceType: INSTANCE_TYPE },
    );
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web',
        LaunchTemplateData: { ImageId: MOTO_AMI, InstanceType: INSTANCE_TYPE },
      }),
    );
    await autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web',
        LaunchTemplate: { LaunchTemplateName: 'web', Version: '$Latest' },
        MinSize: 1,
        MaxSize: 1,
        DesiredCapacity: 1,
        AvailabilityZones: ['us-east-1a'],
      }),
    );
    billing = createBillingPublisher(nc, config.timeScale);
    provider = await createAsgVmProvider({ config, nc, billing, log: (l) => logs.push(l) });
  });

  after(async () => {
    await provider?.close();
    await billing?.close(5_000);
    autoScaling?.destroy();
    ec2?.destroy();
    await nc?.close().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    await moto?.stop();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a group that is no pool is not listed, and every pool group gets the TERMINATING lifecycle hook', async () => {
    assert.deepEqual(provider.list(), []);
    for (const name of [GROUP_1, 'serflow-m-s2']) {
      const hooks = (await autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: name })))
        .LifecycleHooks;
      assert.deepEqual(
        hooks?.map((h) => [h.LifecycleHookName, h.LifecycleTransition, h.DefaultResult, h.HeartbeatTimeout]),
        // the drain timeout (120 s) plus the margin (60 s) in seconds
        [['serflow-drain', 'autoscaling:EC2_INSTANCE_TERMINATING', 'CONTINUE', 180]],
      );
    }
    const web = (await autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'web' })))
      .LifecycleHooks;
    assert.deepEqual(web, []);
  });

  let first: VmInstance[] = [];
  test('launch raises the desired capacity; the new instances are listed and billed from their EC2 launch time', async () => {
    first = await provider.launch(MODEL, 1, 2);
    assert.equal(first.length, 2);
    assert.deepEqual(
      first.map((v) => [v.model, v.stage, v.state, v.instanceType]),
      [
        [MODEL, 1, 'booting', INSTANCE_TYPE],
        [MODEL, 1, 'booting', INSTANCE_TYPE],
      ],
    );
    assert.equal((await group(GROUP_1)).DesiredCapacity, 2);
    assert.deepEqual(
      new Set(provider.list({ model: MODEL, stage: 1 }).map((v) => v.id)),
      new Set(first.map((v) => v.id)),
    );
    assert.deepEqual(provider.list({ model: MODEL, stage: 2 }), []);
    const states = await ec2States(first.map((v) => v.id));
    for (const vm of first) {
      assert.equal(vm.launchedAt, states.get(vm.id)!.launchedAt);
      const facts = await waitUntil(`vm.launched of ${vm.id}`, 10_000, async () => {
        const f = await vmFacts(vm.id);
        return f.length > 0 ? f : undefined;
      });
      assert.deepEqual(
        facts.map((e) => [e.type, e.at, e.model, e.stage]),
        [['vm.launched', vm.launchedAt, MODEL, 1]],
      );
    }
  });

  test("a worker's vm.ready marks its instance ready", async () => {
    for (const vm of first) await ready(vm);
  });

  let newest: VmInstance[] = [];
  test('scaleTo up sets the desired capacity; scaleTo down drains the newest with terminate-and-decrement', async () => {
    await sleep(LAUNCH_TIME_RESOLUTION_MS);
    const grown = await provider.scaleTo(MODEL, 1, 4);
    assert.equal(active(grown).length, 4);
    assert.equal((await group(GROUP_1)).DesiredCapacity, 4);
    newest = grown.filter((v) => !first.some((f) => f.id === v.id));
    assert.equal(newest.length, 2);
    // every instance ready, so the choice is by launch time alone
    for (const vm of newest) await ready(vm);

    const shrunk = await provider.scaleTo(MODEL, 1, 2);
    assert.deepEqual(new Set(active(shrunk).map((v) => v.id)), new Set(first.map((v) => v.id)));
    const g = await group(GROUP_1);
    // decremented by the terminations, not replaced
    assert.equal(g.DesiredCapacity, 2);
    assert.deepEqual(new Set(g.Instances!.map((i) => i.InstanceId)), new Set(first.map((v) => v.id)));
    const states = await ec2States(newest.map((v) => v.id));
    for (const vm of newest) {
      assert.equal(states.get(vm.id)!.state, 'terminated');
      const listed = shrunk.find((v) => v.id === vm.id)!;
      assert.equal(listed.state, 'terminated');
      const facts = await waitUntil(`vm.terminated of ${vm.id}`, 10_000, async () => {
        const f = await vmFacts(vm.id);
        return f.some((e) => e.type === 'vm.terminated') ? f : undefined;
      });
      assert.deepEqual(
        facts.map((e) => e.type),
        ['vm.launched', 'vm.ready', 'vm.draining', 'vm.terminated'],
      );
      const end = facts.find((e) => e.type === 'vm.terminated')!;
      assert.equal(end.type === 'vm.terminated' && end.reason, 'drained');
      assert.ok(end.at >= listed.launchedAt && end.at <= Date.now(), `terminated at ${end.at}`);
    }
  });

  test('drain of a chosen instance terminates that one, with decrement', async () => {
    const [chosen, kept] = [...first].sort((a, b) => a.launchedAt - b.launchedAt);
    const drained = await provider.drain(chosen!.id);
    assert.ok(drained.state === 'draining' || drained.state === 'terminated', drained.state);
    const g = await group(GROUP_1);
    assert.equal(g.DesiredCapacity, 1);
    assert.deepEqual(
      g.Instances!.map((i) => i.InstanceId),
      [kept!.id],
    );
    await waitUntil(`${chosen!.id} terminated in the list`, 10_000, () =>
      provider.list().find((v) => v.id === chosen!.id && v.state === 'terminated'),
    );
    // draining an instance that is gone changes nothing
    assert.equal((await provider.drain(chosen!.id)).state, 'terminated');
  });

  test('an instance terminated outside the provider is billed as ended when its termination is observed', async () => {
    const [survivor] = active(provider.list({ model: MODEL, stage: 1 }));
    assert.ok(survivor);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [survivor.id] }));
    const end = await waitUntil(`vm.terminated of ${survivor.id}`, 15_000, async () =>
      (await vmFacts(survivor.id)).find((e) => e.type === 'vm.terminated'),
    );
    assert.match(
      end.type === 'vm.terminated' ? end.reason : '',
      /terminated by the group or EC2 \(EC2 state terminated/,
    );
    assert.ok(
      logs.some((l) => l.includes(`instance ${survivor.id} of group ${GROUP_1} ended unexpectedly`)),
      logs.join('\n'),
    );
  });

  test('requests the groups cannot honour are refused by name', async () => {
    await assert.rejects(
      provider.scaleTo(MODEL, 3, 1),
      /VM pool m\/3: no Auto Scaling group serflow-m-s3 in us-east-1/,
    );
    await assert.rejects(
      provider.scaleTo(MODEL, 2, 5),
      /group serflow-m-s2 holds at most MaxSize=4 instances, asked for 5/,
    );
    await assert.rejects(provider.launch(MODEL, 2, -1), /count must be a whole number >= 0, got -1/);
    await assert.rejects(provider.drain('i-0000000000000000'), /no VM i-0000000000000000 in any Auto Scaling group/);
    assert.equal((await group('serflow-m-s2')).DesiredCapacity, 0);
  });

  test('close leaves the groups as they are', async () => {
    const vms = await provider.launch(MODEL, 2, 1);
    assert.equal(vms.length, 1);
    await provider.close();
    await sleep(1_500);
    assert.equal((await group('serflow-m-s2')).DesiredCapacity, 1);
    assert.equal((await ec2States([vms[0]!.id])).get(vms[0]!.id)!.state, 'running');
  });
});
