/**
 * The ASG provider's drain through the lifecycle hook (deploy/aws/asg-provider.ts), on an in-memory Auto Scaling and
 * EC2 API that does what moto does not: it holds an instance terminated with a TERMINATING hook in Terminating:Wait
 * until CompleteLifecycleAction (moto terminates at once and does not implement CompleteLifecycleAction; the real API
 * calls run against moto in test/integration/aws-asg.test.ts). Also: booting instances drain first, malformed records
 * are skipped without a crash, a restarted provider learns readiness from the worker records, a foreign hook is
 * refused by name.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, mock, test } from 'node:test';
import {
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { NatsConnection } from 'nats';
import type { BillingFact, BillingPublisher } from '../../../billing/publisher';
import { compileConfig } from '../../../common/config';
import { createAsgVmProvider } from '../../../deploy/aws/asg-provider';
import type { WorkerFact, WorkerFactSource } from '../../../deploy/aws/worker-facts';
import type { VmPoolProvider } from '../../../infra/providers';

const GROUP = 'serflow-m-s1';
const T0 = Date.parse('2026-12-02T03:00:00Z');

interface FakeInstance {
  InstanceId: string;
  LifecycleState: string;
  InstanceType: string;
  launchedAt: number;
  ec2State: string;
  reason: string;
}

/** Auto Scaling + EC2 in memory, one group, with the lifecycle-hook wait the real service has. */
class FakeAws {
  readonly calls: Array<[string, unknown]> = [];
  readonly instances: FakeInstance[] = [];
  desired = 0;
  hooks: Array<{ LifecycleHookName: string; LifecycleTransition: string }> = [];
  failComplete = false;
  /** Extra raw instance records DescribeAutoScalingGroups returns (malformed ones, for the checks). */
  extraRecords: unknown[] = [];
  private next = 1;

  add(state: string, launchedAt: number): FakeInstance {
    const id = `i-${(this.next++).toString(16).padStart(8, '0')}`;
    const inst = {
      InstanceId: id,
      LifecycleState: state,
      InstanceType: 't3.micro',
      launchedAt,
      ec2State: 'running',
      reason: '',
    };
    this.instances.push(inst);
    return inst;
  }

  private inGroup = () => this.instances.filter((i) => i.ec2State !== 'terminated');

  readonly autoScaling = {
    send: async (cmd: unknown): Promise<unknown> => {
      await Promise.resolve();
      const input = (cmd as { input: Record<string, unknown> }).input;
      this.calls.push([(cmd as object).constructor.name, input]);
      if (cmd instanceof DescribeAutoScalingGroupsCommand) {
        const Instances = [
          ...this.inGroup().map(({ InstanceId, LifecycleState, InstanceType }) => ({
            InstanceId,
            LifecycleState,
            InstanceType,
          })),
          ...this.extraRecords,
        ];
        return {
          AutoScalingGroups: [
            { AutoScalingGroupName: GROUP, MinSize: 0, MaxSize: 10, DesiredCapacity: this.desired, Instances },
          ],
        };
      }
      if (cmd instanceof DescribeLifecycleHooksCommand) return { LifecycleHooks: this.hooks };
      if (cmd instanceof PutLifecycleHookCommand) {
        this.hooks.push({
          LifecycleHookName: String(input.LifecycleHookName),
          LifecycleTransition: String(input.LifecycleTransition),
        });
        return {};
      }
      if (cmd instanceof SetDesiredCapacityCommand) {
        const want = Number(input.DesiredCapacity);
        while (this.inGroup().filter((i) => !i.LifecycleState.startsWith('Terminating')).length < want) {
          this.add('Pending', T0 + 60_000);
        }
        this.desired = want;
        return {};
      }
      if (cmd instanceof TerminateInstanceInAutoScalingGroupCommand) {
        const inst = this.instances.find((i) => i.InstanceId === input.InstanceId)!;
        inst.LifecycleState = this.hooks.length > 0 ? 'Terminating:Wait' : 'Terminating';
        if (input.ShouldDecrementDesiredCapacity) this.desired--;
        return {};
      }
      if (cmd instanceof CompleteLifecycleActionCommand) {
        if (this.failComplete) throw new Error('No active Lifecycle Action found with instance ID');
        const inst = this.instances.find((i) => i.InstanceId === input.InstanceId)!;
        Object.assign(inst, { ec2State: 'terminated', reason: 'Service initiated (2026-12-02 03:05:00 GMT)' });
        return {};
      }
      throw new Error(`fake Auto Scaling: ${(cmd as object).constructor.name} not faked`);
    },
  };

  readonly ec2 = {
    send: async (cmd: unknown): Promise<unknown> => {
      await Promise.resolve();
      if (!(cmd instanceof DescribeInstancesCommand)) throw new Error('fake EC2: only DescribeInstances');
      const ids = new Set(cmd.input.Filters?.[0]?.Values ?? []);
      const Instances = this.instances
        .filter((i) => ids.has(i.InstanceId))
        .map((i) => ({
          InstanceId: i.InstanceId,
          InstanceType: i.InstanceType,
          LaunchTime: new Date(i.launchedAt),
          State: { Name: i.ec2State },
          StateTransitionReason: i.reason,
        }));
      return { Reservations: [{ Instances }] };
    },
  };

  completions(): unknown[] {
    return this.calls.filter(([name]) => name === 'CompleteLifecycleActionCommand').map(([, input]) => input);
  }
}

class FakeFacts implements WorkerFactSource {
  private onFact: (f: WorkerFact) => void = () => undefined;
  running_ = new Set<string>();
  follow(onFact: (f: WorkerFact) => void) {
    this.onFact = onFact;
    return () => (this.onFact = () => undefined);
  }
  running() {
    return Promise.resolve(this.running_);
  }
  emit(f: WorkerFact) {
    this.onFact(f);
  }
}

function fakeBilling(facts: BillingFact[]): BillingPublisher {
  return {
    publish: (f) => Promise.resolve(void facts.push(f)),
    pending: 0,
    lost: 0,
    close: () => Promise.resolve(),
  };
}

/** Let the provider's chains of awaits run (the fakes answer in microtasks). */
const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
};

async function setup(aws: FakeAws, facts = new FakeFacts()) {
  const billed: BillingFact[] = [];
  const logs: string[] = [];
  const config = compileConfig({ aws: { autoScaling: { drainTimeoutMs: 30_000 } } });
  const provider: VmPoolProvider = await createAsgVmProvider({
    config,
    nc: undefined as unknown as NatsConnection,
    billing: fakeBilling(billed),
    autoScaling: aws.autoScaling as unknown as AutoScalingClient,
    ec2: aws.ec2 as unknown as EC2Client,
    workerFacts: facts,
    log: (l) => logs.push(l),
  });
  return { provider, billed, logs, facts };
}

describe('ASG provider drain through the lifecycle hook (fake API)', () => {
  let provider: VmPoolProvider | undefined;
  afterEach(async () => {
    mock.timers.reset();
    await provider?.close();
    provider = undefined;
  });

  test('a drained instance waits in Terminating:Wait until its worker reports vm.stopped, then CONTINUE ends it', async () => {
    const aws = new FakeAws();
    const a = aws.add('InService', T0);
    aws.desired = 1;
    const s = await setup(aws);
    provider = s.provider;
    // the hook was put on the group at first sight
    assert.deepEqual(aws.hooks, [
      { LifecycleHookName: 'serflow-drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
    ]);

    const drained = await provider.drain(a.InstanceId);
    assert.equal(drained.state, 'draining');
    assert.deepEqual(aws.calls.find(([n]) => n === 'TerminateInstanceInAutoScalingGroupCommand')?.[1], {
      InstanceId: a.InstanceId,
      ShouldDecrementDesiredCapacity: true,
    });
    assert.equal(aws.desired, 0);
    await settle();
    assert.equal(a.LifecycleState, 'Terminating:Wait');
    assert.deepEqual(aws.completions(), [], 'not completed before the worker drained');
    assert.equal(provider.list()[0]!.state, 'draining');

    s.facts.emit({ type: 'vm.stopped', vmId: a.InstanceId, at: T0 + 299_000 });
    await settle();
    assert.deepEqual(aws.completions(), [
      {
        AutoScalingGroupName: GROUP,
        LifecycleHookName: 'serflow-drain',
        InstanceId: a.InstanceId,
        LifecycleActionResult: 'CONTINUE',
      },
    ]);
    assert.equal(provider.list()[0]!.state, 'terminated');
    assert.deepEqual(
      s.billed.map((f) => [f.type, f.at]),
      [
        ['vm.launched', T0],
        ['vm.draining', provider.list()[0]!.drainingAt],
        // the end EC2 gives in the state transition reason, not when the provider happened to look
        ['vm.terminated', Date.parse('2026-12-02T03:05:00Z')],
      ],
    );
    assert.equal((s.billed[2] as Extract<BillingFact, { type: 'vm.terminated' }>).reason, 'drained');
  });

  test('with no vm.stopped the drain completes after drainTimeoutMs', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const aws = new FakeAws();
    const a = aws.add('InService', T0);
    aws.desired = 1;
    const s = await setup(aws);
    provider = s.provider;
    await provider.drain(a.InstanceId);
    await settle();
    mock.timers.tick(29_000);
    await settle();
    assert.deepEqual(aws.completions(), []);
    mock.timers.tick(1_000);
    await settle();
    assert.equal(aws.completions().length, 1);
    assert.ok(
      s.logs.some((l) => l.includes(`${a.InstanceId} reported no drain within 30000 ms`)),
      s.logs.join('\n'),
    );
  });

  test('a refused CompleteLifecycleAction is logged, and the instance still ends when EC2 ends it', async () => {
    const aws = new FakeAws();
    aws.failComplete = true;
    const a = aws.add('InService', T0);
    aws.desired = 1;
    const s = await setup(aws);
    provider = s.provider;
    await provider.drain(a.InstanceId);
    s.facts.emit({ type: 'vm.stopped', vmId: a.InstanceId, at: T0 + 1 });
    await settle();
    assert.ok(
      s.logs.some((l) => l.includes(`completing the drain of ${a.InstanceId} failed: No active Lifecycle Action`)),
    );
    assert.equal(provider.list()[0]!.state, 'draining');
    // the hook's own timeout continued it
    Object.assign(a, { ec2State: 'terminated', reason: '' });
    await provider.scaleTo('m', 1, 0);
    assert.equal(provider.list()[0]!.state, 'terminated');
  });

  test('scale-in drains instances still booting before the newest ready ones', async () => {
    const aws = new FakeAws();
    const old = aws.add('InService', T0);
    const newer = aws.add('InService', T0 + 10_000);
    const booting = aws.add('Pending', T0 + 5_000);
    aws.desired = 3;
    const s = await setup(aws);
    provider = s.provider;
    for (const i of [old, newer]) s.facts.emit({ type: 'vm.ready', vmId: i.InstanceId, at: T0 + 20_000 });
    await provider.scaleTo('m', 1, 1);
    const terminated = aws.calls
      .filter(([n]) => n === 'TerminateInstanceInAutoScalingGroupCommand')
      .map(([, i]) => (i as { InstanceId: string }).InstanceId);
    assert.deepEqual(terminated, [booting.InstanceId, newer.InstanceId]);
    assert.equal(aws.desired, 1);
  });

  test('a malformed instance record is skipped and reported once; the provider keeps working', async () => {
    const aws = new FakeAws();
    aws.add('InService', T0);
    aws.extraRecords = [{ InstanceId: 42, LifecycleState: 'InService' }];
    aws.desired = 1;
    const s = await setup(aws);
    provider = s.provider;
    await provider.scaleTo('m', 1, 1);
    await provider.scaleTo('m', 1, 1);
    assert.equal(provider.list().length, 1);
    const reports = s.logs.filter((l) => l.includes('skipped a malformed record'));
    assert.equal(reports.length, 1, s.logs.join('\n'));
    assert.match(reports[0]!, /group serflow-m-s1 Instances\[1\]: InstanceId: expected string, got number/);
  });

  test('a restarted provider learns which instances serve from the running worker records', async () => {
    const aws = new FakeAws();
    const a = aws.add('InService', T0);
    aws.add('Pending', T0);
    aws.desired = 2;
    const facts = new FakeFacts();
    facts.running_.add(a.InstanceId);
    const s = await setup(aws, facts);
    provider = s.provider;
    assert.deepEqual(
      provider.list().map((v) => [v.id, v.state]),
      [
        [a.InstanceId, 'ready'],
        ['i-00000002', 'booting'],
      ],
    );
  });

  test('a hook of the configured name for another transition is refused by name', async () => {
    const aws = new FakeAws();
    aws.hooks = [{ LifecycleHookName: 'serflow-drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }];
    const a = aws.add('InService', T0);
    aws.desired = 1;
    const s = await setup(aws);
    provider = s.provider;
    await assert.rejects(
      provider.drain(a.InstanceId),
      /group serflow-m-s1: lifecycle hook serflow-drain is for autoscaling:EC2_INSTANCE_LAUNCHING, not autoscaling:EC2_INSTANCE_TERMINATING/,
    );
    assert.ok(!aws.calls.some(([n]) => n === 'TerminateInstanceInAutoScalingGroupCommand'));
  });

  test('capacity the group has not listed yet is lowered through the desired capacity', async () => {
    const aws = new FakeAws();
    const listed = aws.add('InService', T0);
    aws.desired = 3; // two more are launching, not listed yet
    const s = await setup(aws);
    provider = s.provider;
    await provider.scaleTo('m', 1, 1);
    const calls = aws.calls.filter(
      ([n]) => n === 'TerminateInstanceInAutoScalingGroupCommand' || n === 'SetDesiredCapacityCommand',
    );
    assert.deepEqual(calls, [
      [
        'TerminateInstanceInAutoScalingGroupCommand',
        { InstanceId: listed.InstanceId, ShouldDecrementDesiredCapacity: true },
      ],
      ['SetDesiredCapacityCommand', { AutoScalingGroupName: GROUP, DesiredCapacity: 1, HonorCooldown: false }],
    ]);
  });

  test('a scaled clock is refused: EC2 instances bill in real time', async () => {
    const aws = new FakeAws();
    await assert.rejects(
      createAsgVmProvider({
        config: compileConfig({ timeScale: 10 }),
        nc: undefined as unknown as NatsConnection,
        billing: fakeBilling([]),
        autoScaling: aws.autoScaling as unknown as AutoScalingClient,
        ec2: aws.ec2 as unknown as EC2Client,
        workerFacts: new FakeFacts(),
      }),
      { name: 'ConfigError', message: /cloud: aws runs real EC2 instances, so timeScale must be 1, got 10/ },
    );
  });

  test('an instance the group itself terminates (held by the hook) is drained and let go the same way', async () => {
    const aws = new FakeAws();
    const a = aws.add('InService', T0);
    aws.desired = 1;
    aws.hooks = [{ LifecycleHookName: 'serflow-drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' }];
    const s = await setup(aws);
    provider = s.provider;
    a.LifecycleState = 'Terminating:Wait'; // e.g. a health-check replacement
    await provider.scaleTo('m', 1, 1);
    assert.equal(provider.list().find((v) => v.id === a.InstanceId)!.state, 'draining');
    assert.deepEqual(aws.completions(), []);
    s.facts.emit({ type: 'vm.stopped', vmId: a.InstanceId, at: T0 + 1 });
    await settle();
    assert.equal(aws.completions().length, 1);
    assert.deepEqual(
      s.billed.filter((f) => 'vmId' in f && f.vmId === a.InstanceId).map((f) => f.type),
      ['vm.launched', 'vm.draining', 'vm.terminated'],
    );
  });
});
