/**
 * Local VM pools: a "VM" is a stage-worker process, launched on request, that polls its stage's task queue
 * only once its boot delay has passed (cloud ms / time scale of wall time). It is billed from the launch
 * request until its process has exited (60 s minimum), at its instance type's catalog price: the provider
 * publishes `vm.launched`, `vm.draining` and `vm.terminated`; the VM itself publishes `vm.ready`.
 * Scale-in drains: SIGTERM makes the worker stop polling, letting its open polls end on their own and running what
 * they bring (workers/drain-slots.ts), and finish its in-flight activities (Temporal's graceful shutdown) before it
 * exits, so no query is lost or run twice, not even one handed to the VM as its drain begins.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { BillingPublisher } from '../../billing/publisher';
import { billingEventSubject, parseBillingEvent } from '../../common/billing-events';
import type { SerflowConfig } from '../../common/config';
import { activeVms, filterVms, type VmInstance, type VmPoolProvider } from '../../infra/providers';
import { spawnManaged, stopPid, type ManagedProcess } from './processes';

export interface LocalVmProviderOptions {
  config: SerflowConfig;
  temporalAddress: string;
  natsUrl: string;
  nc: NatsConnection;
  billing: BillingPublisher;
  logDir: string;
  /** Path of the compiled child entry (`CHILD_MAIN_SCRIPT`). */
  workerScript: string;
  /** Grace a draining VM gets to finish in-flight work before it is killed. @default 90000 */
  drainGraceMs?: number;
  now?: () => number;
}

/**
 * Default drain grace: the stage worker's longest wait for its open polls to end (STAGE_WORKER_POLL_DRAIN_MAX_MS,
 * 70 s), its shutdown grace (10 s) and 10 s to exit. Killed sooner, a VM could still have a poll open, and a task the
 * server hands that poll as the process dies would be lost until its heartbeat timeout.
 */
export const DEFAULT_VM_DRAIN_GRACE_MS = 90_000;

/**
 * Terminated VMs the list keeps (the newest): enough to see what just ended, bounded so the list, and the pool API's
 * reply that carries it, cannot grow past NATS's payload limit over a long run. Bills come from the billing facts.
 */
export const TERMINATED_VMS_KEPT = 100;

/**
 * A VM that exits unexpectedly is replaced at once, at most once per this long per pool: a VM that dies at start
 * (bad data it reads) is not relaunched in a tight loop; the pool's size comes back at the next scale request.
 */
export const VM_REPLACE_MIN_INTERVAL_MS = 10_000;

export async function createLocalVmProvider(o: LocalVmProviderOptions): Promise<VmPoolProvider> {
  const now = o.now ?? Date.now;
  const vms = new Map<string, VmInstance & { proc?: ManagedProcess }>();
  let seq = 0;
  let closing = false;
  const lastReplacedAt = new Map<string, number>();
  const instanceType = o.config.vm.instanceType;

  // VMs announce readiness themselves (they know when they start polling); follow it on the billing subject.
  const readySub: Subscription = o.nc.subscribe(billingEventSubject('vm.ready'));
  void (async () => {
    for await (const m of readySub) {
      try {
        const e = parseBillingEvent(m.json());
        const vm = e.type === 'vm.ready' ? vms.get(e.vmId) : undefined;
        if (vm && vm.state === 'booting') Object.assign(vm, { state: 'ready', readyAt: e.at });
      } catch {
        // not ours to judge: the ledger reports malformed billing events
      }
    }
  })();

  const publicView = (vm: VmInstance & { proc?: ManagedProcess }): VmInstance => {
    const { proc: _proc, ...rest } = vm;
    return { ...rest };
  };

  async function launchOne(model: string, stage: number, preProvisioned: boolean): Promise<VmInstance> {
    const id = `vm-${model}-s${stage}-${process.pid}-${++seq}`;
    const bootDelayMs = preProvisioned ? 0 : o.config.vm.bootDelayMs;
    const bootUntil = now() + bootDelayMs / o.config.timeScale;
    const proc = spawnManaged({
      name: id,
      command: process.execPath,
      args: [
        o.workerScript,
        'stage',
        '--model',
        model,
        '--stage',
        String(stage),
        '--vm-id',
        id,
        '--instance-type',
        instanceType,
        '--boot-until',
        String(bootUntil),
        '--temporal',
        o.temporalAddress,
        '--nats',
        o.natsUrl,
        // A VM dies with its provider: no orphan keeps polling (and billing) after the agent is gone.
        '--parent-pid',
        String(process.pid),
      ],
      logDir: o.logDir,
      env: { SERFLOW_CONFIG_JSON: JSON.stringify(o.config) },
    });
    // Billed from here: the process exists once the spawn returns (taking the time before it billed the spawn's own
    // tens of milliseconds on a loaded machine as life the VM did not have).
    const launchedAt = now();
    const vm: VmInstance & { proc?: ManagedProcess } = {
      id,
      model,
      stage,
      instanceType,
      state: 'booting',
      launchedAt,
      pid: proc.pid,
      proc,
    };
    vms.set(id, vm);
    // Billed from the moment the VM's process is created: published after the spawn, so that the wait for NATS's
    // ack (long under load or in an outage) is not billed as life the VM never had.
    await o.billing.publish({ type: 'vm.launched', at: launchedAt, model, stage, vmId: id, instanceType, bootDelayMs });
    void proc.exited.then(async (code) => {
      const unexpected = vm.state !== 'draining';
      const reason = unexpected ? `exited unexpectedly (${code})` : 'drained';
      Object.assign(vm, { state: 'terminated', terminatedAt: now() });
      pruneTerminated();
      await o.billing
        .publish({ type: 'vm.terminated', at: vm.terminatedAt!, model, stage, vmId: id, instanceType, reason })
        .catch((err: Error) => console.error(`billing: vm.terminated of ${id} not published: ${err.message}`));
      if (unexpected && !closing) await replace(model, stage, id);
    });
    return publicView(vm);
  }

  /** Drop the oldest terminated VMs beyond TERMINATED_VMS_KEPT. */
  function pruneTerminated(): void {
    const ended = [...vms.values()].filter((v) => v.state === 'terminated');
    ended.sort((a, b) => (a.terminatedAt ?? 0) - (b.terminatedAt ?? 0));
    for (const v of ended.slice(0, Math.max(0, ended.length - TERMINATED_VMS_KEPT))) vms.delete(v.id);
  }

  /** Launch a VM in place of `lostId`, unless this pool replaced one within VM_REPLACE_MIN_INTERVAL_MS. */
  async function replace(model: string, stage: number, lostId: string): Promise<void> {
    const pool = `${model}/${stage}`;
    const last = lastReplacedAt.get(pool);
    if (last !== undefined && now() - last < VM_REPLACE_MIN_INTERVAL_MS) {
      console.error(
        `VM ${lostId} exited unexpectedly: not replaced (pool ${pool} replaced one less than ${VM_REPLACE_MIN_INTERVAL_MS} ms ago)`,
      );
      return;
    }
    lastReplacedAt.set(pool, now());
    try {
      const vm = await launchOne(model, stage, false);
      console.error(`VM ${lostId} exited unexpectedly: replaced by ${vm.id}`);
    } catch (err) {
      console.error(`VM ${lostId} exited unexpectedly: replacement failed: ${(err as Error).message}`);
    }
  }

  const active = (model: string, stage: number) => activeVms(vms.values(), model, stage);

  const provider: VmPoolProvider = {
    list(filter = {}) {
      return filterVms(vms.values(), filter).map(publicView);
    },
    async launch(model, stage, count, options = {}) {
      const out: VmInstance[] = [];
      for (let i = 0; i < count; i++) out.push(await launchOne(model, stage, options.preProvisioned ?? false));
      return out;
    },
    async drain(vmId) {
      const vm = vms.get(vmId);
      if (!vm) throw new Error(`no VM ${vmId}; known: ${[...vms.keys()].join(', ') || '(none)'}`);
      if (vm.state === 'booting' || vm.state === 'ready') {
        Object.assign(vm, { state: 'draining', drainingAt: now() });
        const { model, stage, instanceType: type } = vm;
        await o.billing.publish({ type: 'vm.draining', at: vm.drainingAt!, model, stage, vmId, instanceType: type });
        void stopPid(vm.pid!, o.drainGraceMs ?? DEFAULT_VM_DRAIN_GRACE_MS);
      }
      return publicView(vm);
    },
    async scaleTo(model, stage, count) {
      const current = active(model, stage);
      if (current.length < count) await provider.launch(model, stage, count - current.length);
      if (current.length > count) {
        // Drain VMs still booting first (they serve nothing yet), then the newest ready ones.
        const victims = [...current]
          .sort((a, b) => Number(b.state === 'booting') - Number(a.state === 'booting') || b.launchedAt - a.launchedAt)
          .slice(0, current.length - count);
        for (const v of victims) await provider.drain(v.id);
      }
      return provider.list({ model, stage });
    },
    async close() {
      closing = true;
      readySub.unsubscribe();
      const live = [...vms.values()].filter((v) => v.state !== 'terminated');
      await Promise.all(live.map((v) => provider.drain(v.id)));
      await Promise.all(live.map((v) => v.proc?.exited ?? Promise.resolve()));
    },
  };
  return provider;
}
