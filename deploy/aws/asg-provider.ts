/**
 * VM pools as EC2 Auto Scaling groups (config `cloud: aws`, section `aws.autoScaling`): one group per (model, stage)
 * pool, or a model's whole-model pool, named by deploy/aws/asg-names.ts. The groups, their launch templates (whose
 * user-data starts the stage worker, deploy/aws/user-data.ts) and their sizes' bounds are the operator's; this
 * provider only moves desired capacity and chooses which instance leaves.
 *
 * - Scale out: SetDesiredCapacity; the group launches the instances.
 * - Drain a chosen instance: the group's TERMINATING lifecycle hook (created if the group lacks it) holds it in
 *   Terminating:Wait after TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity), so the group does not
 *   replace it; the instance's watcher (user-data) sees its target lifecycle state and stops the worker, which drains
 *   (Temporal's graceful shutdown) and reports `vm.stopped`; the provider then completes the lifecycle action with
 *   CONTINUE and EC2 terminates the instance. If no `vm.stopped` comes within `drainTimeoutMs` it completes anyway,
 *   and if the provider is gone the hook's own timeout (DefaultResult CONTINUE) ends the wait.
 * - Scale in (`scaleTo` down) drains the chosen instances, instances still booting first, then the newest, as the
 *   local provider does: the group's own termination policy is never asked to pick.
 *
 * `list()` is synchronous, so it reads a cache, re-read from DescribeAutoScalingGroups and EC2 DescribeInstances
 * every `pollIntervalMs` and after every action. Billing follows the instances' real lifecycle: `vm.launched` at EC2's
 * LaunchTime when an instance is first seen, `vm.draining` when the provider drains it, `vm.terminated` when EC2
 * reports it shutting down or gone (at the time its StateTransitionReason gives, else when seen); the worker itself
 * publishes `vm.ready`, `vm.alive` and `vm.stopped` with the instance id as its VM id. A restarted provider re-reads
 * every group and re-publishes `vm.launched` for what it finds: the same message id (the stream keeps one within its
 * duplicate window) and the same launch time (the ledger keeps the first).
 *
 * `close()` leaves the groups as they are: cloud capacity outlives the agent that steers it (its workers keep
 * reporting their own liveness and end), and a restarted provider adopts it.
 */
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
import type { BillingPublisher } from '../../billing/publisher';
import type { SerflowConfig } from '../../common/config';
import { ConfigError } from '../../common/errors';
import { activeVms, filterVms, type VmInstance, type VmPoolProvider, type VmState } from '../../infra/providers';
import { checkPool, groupNameOf, poolOfGroup } from './asg-names';
import {
  endTimeFromReason,
  ENDED_EC2_STATES,
  parseEc2Instances,
  parseGroups,
  type AsgGroupRecord,
  type Ec2InstanceRecord,
} from './asg-records';
import { createAutoScalingClient, createEc2Client } from './clients';
import { natsWorkerFacts, type WorkerFact, type WorkerFactSource } from './worker-facts';

export interface AsgVmProviderOptions {
  config: SerflowConfig;
  /** Where the workers' `vm.ready` / `vm.stopped` facts are followed (unless `workerFacts` is given). */
  nc: NatsConnection;
  billing: BillingPublisher;
  /** @default a client of `aws.region` / `aws.endpoint` (deploy/aws/clients.ts) */
  autoScaling?: AutoScalingClient;
  /** @default a client of `aws.region` / `aws.endpoint` */
  ec2?: EC2Client;
  /** @default natsWorkerFacts(nc) */
  workerFacts?: WorkerFactSource;
  /** @default console.error */
  log?: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The lifecycle hook's own timeout exceeds the provider's drain timeout by this much, so the provider normally
 * completes the action itself, and the hook's DefaultResult (CONTINUE) only ends the wait of an instance whose
 * provider is gone.
 */
export const ASG_HOOK_TIMEOUT_MARGIN_MS = 60_000;

/** Terminated instances the list keeps (the newest): as the local provider, bounded so `serflow pools` stays small. */
export const ASG_TERMINATED_VMS_KEPT = 100;

/** Instance ids per DescribeInstances filter (the API allows 200 values per filter). */
const DESCRIBE_INSTANCES_BATCH = 200;

/** How often `launch` re-reads the group while it waits for the instances it asked for. */
const LAUNCH_PROBE_INTERVAL_MS = 1_000;

/** Pages of DescribeAutoScalingGroups / DescribeInstances read at most per refresh: a bound on a looping NextToken. */
const MAX_PAGES = 100;

/** Distinct problems remembered as already logged (see `report`). */
const REPORTED_PROBLEMS_KEPT = 1_000;

const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';

interface Tracked extends VmInstance {
  group: string;
  /** The group's lifecycle state of the instance (absent once it left the group). */
  lifecycleState?: string;
  /** Order first seen: breaks ties between launch times (EC2 gives them to the second). */
  seq: number;
}

interface GroupView extends AsgGroupRecord {
  model: string;
  stage: number;
}

/** The group's lifecycle states in which an instance is leaving: not counted as booting or ready. */
function isLeaving(lifecycleState: string): boolean {
  return /^(Terminating|Detach|EnteringStandby|Standby|Quarantined)/.test(lifecycleState);
}

export async function createAsgVmProvider(o: AsgVmProviderOptions): Promise<VmPoolProvider> {
  if (o.config.timeScale !== 1) {
    // EC2 instances live in real time: a scaled clock would multiply their real bills (billing/ledger.ts).
    throw new ConfigError(`cloud: aws runs real EC2 instances, so timeScale must be 1, got ${o.config.timeScale}`);
  }
  const settings = o.config.aws.autoScaling;
  const now = o.now ?? Date.now;
  const log = o.log ?? ((line: string) => console.error(line));
  const autoScaling = o.autoScaling ?? createAutoScalingClient(o.config);
  const ec2 = o.ec2 ?? createEc2Client(o.config);
  const facts = o.workerFacts ?? natsWorkerFacts(o.nc);
  const vms = new Map<string, Tracked>();
  const groups = new Map<string, GroupView>();
  const hooked = new Set<string>();
  /** Draining instances waiting for their worker's `vm.stopped` (or their end): the wake-up of each wait. */
  const drainWaiters = new Map<string, () => void>();
  /** `vm.ready` facts of instances not yet seen (the worker can be quicker than a poll); bounded. */
  const earlyReady = new Map<string, number>();
  const reported = new Set<string>();
  let seq = 0;
  let closed = false;

  /**
   * Log a problem once (a poll every 15 s must not repeat the same malformed record forever); the set of problems
   * seen is forgotten past REPORTED_PROBLEMS_KEPT, so a stream of distinct ones cannot grow it without bound.
   */
  const report = (key: string, line: string) => {
    if (reported.has(key)) return;
    if (reported.size >= REPORTED_PROBLEMS_KEPT) reported.clear();
    reported.add(key);
    log(`aws auto scaling: ${line}`);
  };

  const view = (vm: Tracked): VmInstance => {
    const { group: _g, lifecycleState: _l, seq: _s, ...rest } = vm;
    return { ...rest };
  };

  const publish = (fact: Parameters<BillingPublisher['publish']>[0]) =>
    o.billing
      .publish(fact)
      .catch((err: Error) => log(`billing: ${fact.type} of ${fact.model} not kept: ${err.message}`));

  function markReady(vm: Tracked, at: number): void {
    if (vm.state === 'booting') Object.assign(vm, { state: 'ready' satisfies VmState, readyAt: at });
  }

  const stopFollowing = facts.follow((fact: WorkerFact) => {
    const vm = vms.get(fact.vmId);
    if (fact.type === 'vm.ready') {
      if (vm) markReady(vm, fact.at);
      else {
        earlyReady.set(fact.vmId, fact.at);
        if (earlyReady.size > ASG_TERMINATED_VMS_KEPT) earlyReady.delete(earlyReady.keys().next().value!);
      }
    } else if (vm?.state === 'draining') {
      drainWaiters.get(fact.vmId)?.();
    }
  });

  async function describeGroups(): Promise<AsgGroupRecord[]> {
    const out: AsgGroupRecord[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ NextToken: token }));
      const parsed = parseGroups(res.AutoScalingGroups ?? []);
      parsed.problems.forEach((p) => report(p, `skipped a malformed record: ${p}`));
      out.push(...parsed.records);
      token = res.NextToken;
      if (!token) break;
    }
    return out;
  }

  async function describeInstances(ids: string[]): Promise<Map<string, Ec2InstanceRecord>> {
    const out = new Map<string, Ec2InstanceRecord>();
    for (let i = 0; i < ids.length; i += DESCRIBE_INSTANCES_BATCH) {
      // A filter, not InstanceIds: an id EC2 no longer knows is absent from the answer instead of failing it.
      const Filters = [{ Name: 'instance-id', Values: ids.slice(i, i + DESCRIBE_INSTANCES_BATCH) }];
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await ec2.send(new DescribeInstancesCommand({ Filters, NextToken: token }));
        const parsed = parseEc2Instances(res.Reservations ?? []);
        parsed.problems.forEach((p) => report(p, `skipped a malformed EC2 record: ${p}`));
        for (const r of parsed.records) out.set(r.InstanceId, r);
        token = res.NextToken;
        if (!token) break;
      }
    }
    return out;
  }

  /** Make sure `group` has the TERMINATING hook the drain relies on (once per group and provider). */
  async function ensureHook(group: string): Promise<void> {
    if (hooked.has(group)) return;
    const name = settings.lifecycleHookName;
    const res = await autoScaling.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group, LifecycleHookNames: [name] }),
    );
    const hook = (res.LifecycleHooks ?? []).find((h) => h.LifecycleHookName === name);
    if (hook && hook.LifecycleTransition !== TERMINATING_TRANSITION) {
      throw new Error(
        `group ${group}: lifecycle hook ${name} is for ${hook.LifecycleTransition}, not ${TERMINATING_TRANSITION} ` +
          `(set aws.autoScaling.lifecycleHookName to a free name, or fix the hook)`,
      );
    }
    if (!hook) {
      await autoScaling.send(
        new PutLifecycleHookCommand({
          AutoScalingGroupName: group,
          LifecycleHookName: name,
          LifecycleTransition: TERMINATING_TRANSITION,
          HeartbeatTimeout: Math.ceil((settings.drainTimeoutMs + ASG_HOOK_TIMEOUT_MARGIN_MS) / 1000),
          DefaultResult: 'CONTINUE',
        }),
      );
      log(`aws auto scaling: created lifecycle hook ${name} on group ${group}`);
    }
    hooked.add(group);
  }

  /** An instance is gone (EC2 says it ended, or it left its group): its bill ends at `at`. */
  function ended(vm: Tracked, at: number, why: string): void {
    const expected = vm.state === 'draining';
    Object.assign(vm, { state: 'terminated' satisfies VmState, terminatedAt: at });
    drainWaiters.get(vm.id)?.();
    const reason = expected ? 'drained' : `terminated by the group or EC2 (${why})`;
    if (!expected) log(`aws auto scaling: instance ${vm.id} of group ${vm.group} ended unexpectedly: ${why}`);
    const { model, stage, id: vmId, instanceType } = vm;
    void publish({ type: 'vm.terminated', at, model, stage, vmId, instanceType, reason });
  }

  function pruneTerminated(): void {
    const gone = [...vms.values()].filter((v) => v.state === 'terminated');
    gone.sort((a, b) => (a.terminatedAt ?? 0) - (b.terminatedAt ?? 0));
    for (const v of gone.slice(0, Math.max(0, gone.length - ASG_TERMINATED_VMS_KEPT))) vms.delete(v.id);
  }

  async function readOnce(): Promise<void> {
    const seenGroups = await describeGroups();
    const inGroup = new Map<string, { group: GroupView; lifecycleState: string; instanceType?: string }>();
    groups.clear();
    for (const g of seenGroups) {
      const pool = poolOfGroup(settings, g.AutoScalingGroupName);
      if (!pool) continue;
      const group: GroupView = { ...g, ...pool };
      groups.set(g.AutoScalingGroupName, group);
      for (const i of g.Instances) inGroup.set(i.InstanceId, { group, lifecycleState: i.LifecycleState, ...i });
    }
    // Hooks before anything can terminate: created on first sight of a group, retried at the next poll on failure.
    for (const name of groups.keys()) {
      await ensureHook(name).catch((err: Error) => report(`hook ${name}`, `lifecycle hook of ${name}: ${err.message}`));
    }
    const live = [...vms.values()].filter((v) => v.state !== 'terminated').map((v) => v.id);
    const ids = [...new Set([...inGroup.keys(), ...live])];
    const described = ids.length === 0 ? new Map<string, Ec2InstanceRecord>() : await describeInstances(ids);
    const polling = await facts.running().catch((err: Error) => {
      report('running workers', `worker records not read (${err.message}); readiness from vm.ready facts only`);
      return new Set<string>();
    });
    const seenAt = now();

    for (const [id, member] of inGroup) {
      const ec2Record = described.get(id);
      let vm = vms.get(id);
      if (!vm) {
        // Billed from EC2's launch time: wait until EC2 describes it (a just-launched instance may lag a moment).
        if (!ec2Record) continue;
        const { model, stage } = member.group;
        const instanceType = member.instanceType ?? ec2Record.InstanceType;
        vm = {
          id,
          model,
          stage,
          instanceType,
          state: 'booting',
          launchedAt: ec2Record.LaunchTime.getTime(),
          group: member.group.AutoScalingGroupName,
          seq: ++seq,
        };
        vms.set(id, vm);
        const early = earlyReady.get(id);
        if (early !== undefined) {
          earlyReady.delete(id);
          markReady(vm, early);
        }
        // The real boot shows as launch -> vm.ready; nothing is emulated, so no configured boot delay.
        void publish({ type: 'vm.launched', at: vm.launchedAt, model, stage, vmId: id, instanceType, bootDelayMs: 0 });
      }
      vm.lifecycleState = member.lifecycleState;
      if (polling.has(id)) markReady(vm, seenAt);
      // Taken out of service by someone else (the console, a health replacement, a rebalance): it serves no longer.
      // Terminating, the hook holds it for us too: its worker drains (the watcher sees the target state) and the
      // provider lets it go as after its own drain; in standby or detaching it only stops counting as capacity.
      if ((vm.state === 'booting' || vm.state === 'ready') && isLeaving(member.lifecycleState)) {
        if (member.lifecycleState.startsWith('Terminating')) void startDrain(vm, seenAt);
        else Object.assign(vm, { state: 'draining' satisfies VmState, drainingAt: seenAt });
      }
    }
    for (const vm of vms.values()) {
      if (vm.state === 'terminated') continue;
      const ec2Record = described.get(vm.id);
      if (ec2Record && ENDED_EC2_STATES.has(ec2Record.State.Name)) {
        const at = endTimeFromReason(ec2Record.StateTransitionReason, vm.launchedAt, seenAt) ?? seenAt;
        ended(
          vm,
          at,
          `EC2 state ${ec2Record.State.Name}${ec2Record.StateTransitionReason ? `: ${ec2Record.StateTransitionReason}` : ''}`,
        );
      } else if (!inGroup.has(vm.id)) {
        // Out of its group and not described as ended: detached, or unknown to EC2 (long gone). Not this pool's now.
        ended(vm, seenAt, ec2Record ? 'left its group' : 'no longer known to EC2');
      }
    }
    pruneTerminated();
  }

  // One read at a time; a read asked for while one runs is done after it (it must see what the caller just did).
  let reading: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  function refresh(): Promise<void> {
    if (!reading) {
      reading = readOnce().finally(() => (reading = undefined));
      return reading;
    }
    queued ??= reading
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return refresh();
      });
    return queued;
  }

  let pollFailing = false;
  const poll = setInterval(() => {
    void refresh().then(
      () => {
        if (pollFailing) log('aws auto scaling: reading the groups works again');
        pollFailing = false;
      },
      (err: Error) => {
        if (!pollFailing) log(`aws auto scaling: reading the groups failed (${err.message}); retrying every poll`);
        pollFailing = true;
      },
    );
  }, settings.pollIntervalMs);
  poll.unref();

  async function groupOf(model: string, stage: number): Promise<GroupView> {
    checkPool(model, stage);
    const name = groupNameOf(settings, model, stage);
    await refresh();
    const group = groups.get(name);
    if (!group) {
      throw new Error(
        `VM pool ${model}/${stage}: no Auto Scaling group ${name} in ${o.config.aws.region} ` +
          `(create it from the pool's launch template, or map the pool in aws.autoScaling.groups)`,
      );
    }
    return group;
  }

  async function setDesired(group: GroupView, desired: number): Promise<void> {
    const name = group.AutoScalingGroupName;
    if (desired > group.MaxSize) {
      throw new Error(
        `VM pool ${group.model}/${group.stage}: group ${name} holds at most MaxSize=${group.MaxSize} instances, ` +
          `asked for ${desired} (raise the group's MaxSize)`,
      );
    }
    if (desired < group.MinSize) {
      throw new Error(
        `VM pool ${group.model}/${group.stage}: group ${name} keeps at least MinSize=${group.MinSize} instances, ` +
          `asked for ${desired} (lower the group's MinSize)`,
      );
    }
    // HonorCooldown false: the caller (the autoscaler) owns the pacing; the group's cooldown must not veto it.
    await autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: desired, HonorCooldown: false }),
    );
    group.DesiredCapacity = desired;
  }

  const active = (model: string, stage: number) => activeVms(vms.values(), model, stage);

  /** Wait for the end of a drain, then let EC2 terminate the instance (CompleteLifecycleAction CONTINUE). */
  async function finishDrain(vm: Tracked): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await new Promise<'drained' | 'timeout'>((resolve) => {
      drainWaiters.set(vm.id, () => resolve('drained'));
      timer = setTimeout(() => resolve('timeout'), settings.drainTimeoutMs);
      timer.unref();
    });
    clearTimeout(timer);
    drainWaiters.delete(vm.id);
    if (closed || vm.state === 'terminated') return;
    if (outcome === 'timeout') {
      log(`aws auto scaling: ${vm.id} reported no drain within ${settings.drainTimeoutMs} ms; terminating it anyway`);
    }
    try {
      await autoScaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: vm.group,
          LifecycleHookName: settings.lifecycleHookName,
          InstanceId: vm.id,
          LifecycleActionResult: 'CONTINUE',
        }),
      );
    } catch (err) {
      // E.g. the hook's own timeout already continued it: the instance ends all the same, and a poll sees it end.
      log(`aws auto scaling: completing the drain of ${vm.id} failed: ${(err as Error).message}`);
    }
    await refresh().catch(() => undefined);
  }

  async function drainOne(vm: Tracked): Promise<void> {
    await ensureHook(vm.group);
    try {
      await autoScaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: vm.id, ShouldDecrementDesiredCapacity: true }),
      );
    } catch (err) {
      throw new Error(`drain of ${vm.id} (group ${vm.group}): ${(err as Error).message}`, { cause: err });
    }
    const group = groups.get(vm.group);
    if (group) group.DesiredCapacity = Math.max(0, group.DesiredCapacity - 1);
    await startDrain(vm, now());
  }

  /** The instance is leaving (held by the hook): it serves no longer; its end is awaited and then allowed. */
  async function startDrain(vm: Tracked, at: number): Promise<void> {
    Object.assign(vm, { state: 'draining' satisfies VmState, drainingAt: at });
    const { model, stage, id: vmId, instanceType } = vm;
    await publish({ type: 'vm.draining', at, model, stage, vmId, instanceType });
    void finishDrain(vm);
  }

  const provider: VmPoolProvider = {
    list(filter = {}) {
      return filterVms(vms.values(), filter)
        .sort((a, b) => a.launchedAt - b.launchedAt || a.seq - b.seq)
        .map(view);
    },
    // `preProvisioned` has no meaning here: an EC2 instance boots for real, whoever asks for it.
    async launch(model, stage, count) {
      if (!Number.isInteger(count) || count < 0)
        throw new Error(`launch: count must be a whole number >= 0, got ${count}`);
      const group = await groupOf(model, stage);
      if (count === 0) return [];
      const before = new Set(group.Instances.map((i) => i.InstanceId));
      await setDesired(group, group.DesiredCapacity + count);
      const deadline = now() + settings.launchWaitMs;
      let fresh: Tracked[] = [];
      for (;;) {
        await refresh();
        fresh = [...vms.values()].filter((v) => v.group === group.AutoScalingGroupName && !before.has(v.id));
        if (fresh.length >= count || now() >= deadline) break;
        await new Promise((r) => setTimeout(r, LAUNCH_PROBE_INTERVAL_MS));
      }
      if (fresh.length < count) {
        log(
          `aws auto scaling: group ${group.AutoScalingGroupName} lists ${fresh.length} of ${count} new instances so far; the rest appear in later polls`,
        );
      }
      return fresh.sort((a, b) => a.seq - b.seq).map(view);
    },
    async drain(vmId) {
      let vm = vms.get(vmId);
      if (!vm) {
        await refresh();
        vm = vms.get(vmId);
      }
      if (!vm)
        throw new Error(
          `no VM ${vmId} in any Auto Scaling group of a pool; known: ${[...vms.keys()].join(', ') || '(none)'}`,
        );
      if (vm.state === 'booting' || vm.state === 'ready') {
        await drainOne(vm);
        await refresh().catch(() => undefined);
      }
      return view(vm);
    },
    async scaleTo(model, stage, count) {
      if (!Number.isInteger(count) || count < 0)
        throw new Error(`scaleTo: count must be a whole number >= 0, got ${count}`);
      const group = await groupOf(model, stage);
      if (count > group.DesiredCapacity) {
        await setDesired(group, count);
      } else if (count < group.DesiredCapacity) {
        if (count < group.MinSize) await setDesired(group, count); // throws the MinSize error
        // Instances still booting first (they serve nothing yet), then the newest.
        const victims = active(model, stage)
          .filter((v) => v.group === group.AutoScalingGroupName)
          .sort(
            (a, b) =>
              Number(b.state === 'booting') - Number(a.state === 'booting') ||
              b.launchedAt - a.launchedAt ||
              b.seq - a.seq,
          )
          .slice(0, group.DesiredCapacity - count);
        const desiredBefore = group.DesiredCapacity;
        for (const v of victims) await drainOne(v);
        // Capacity the group holds but has not listed yet (launching): lowered as such, the group picks.
        if (desiredBefore - victims.length > count) await setDesired(group, count);
      }
      await refresh();
      return provider.list({ model, stage });
    },
    async close() {
      closed = true;
      clearInterval(poll);
      stopFollowing();
      // Waiting drains end here; their instances leave Terminating:Wait by the hook's timeout (DefaultResult CONTINUE).
      for (const wake of drainWaiters.values()) wake();
      await (reading ?? Promise.resolve()).catch(() => undefined);
    },
  };

  await refresh().catch((err: Error) => {
    pollFailing = true;
    log(`aws auto scaling: first read of the groups failed (${err.message}); retrying every poll`);
  });
  return provider;
}
