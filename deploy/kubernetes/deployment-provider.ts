/**
 * Kubernetes VM pools: a stage pool is a Deployment (named by `kubernetes.deploymentName`, made by
 * `serflow k8s manifests`), a VM is one of its pods. Capacity changes go through the Deployment's scale subresource
 * and the ReplicaSet controller does the rest; a pod being removed gets SIGTERM and drains through its
 * terminationGracePeriodSeconds (the stage worker stops polling and finishes its in-flight activities).
 *
 * `list()` is synchronous, so it reads a cache of the pools' pods that one LIST (by label selector) refreshes every
 * `kubernetes.pollIntervalMs`. The pods' real lifecycle is billed like the local VMs (deploy/local/vm-provider.ts):
 * this provider publishes `vm.launched` (at the pod's creation), `vm.draining` (when its deletion was asked) and
 * `vm.terminated` (when it is gone, or failed); the pod's own worker publishes `vm.ready`, `vm.alive` and
 * `vm.stopped` under the same VM id, the pod name (the manifests pass it as `--vm-id`). Facts of one VM have one
 * message id per type (billing-events.ts), so a provider that restarts and sees the same pods again stores nothing
 * twice within the stream's duplicate window.
 *
 * Unlike the local provider, close() leaves the pods running: the Deployments own them, and a restarted cloud agent
 * must find its pools as they were, not drained.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { BillingPublisher } from '../../billing/publisher';
import { billingEventSubject, parseBillingEvent } from '../../common/billing-events';
import type { SerflowConfig } from '../../common/config';
import { activeVms, filterVms, type VmInstance, type VmPoolProvider } from '../../infra/providers';
import { TERMINATED_VMS_KEPT } from '../local/vm-provider';
import { createKubeApi, resolveKubeApiTarget, KubernetesApiError, type KubeApi } from './kube-api';
import { deploymentName, DRAIN_DELETION_COST, POD_DELETION_COST, STAGE_PODS_SELECTOR } from './names';
import { anyObjectSchema, podListSchema, podSchema, poolOf, scaleSchema, viewPod, type Pod } from './pods';

/** drain() of a VM id this provider has not seen (never, or pruned long after it ended). */
export class UnknownVmError extends Error {
  override readonly name = 'UnknownVmError';
}

/** A scale request that cannot be met (a negative or fractional count). */
export class InvalidScaleError extends Error {
  override readonly name = 'InvalidScaleError';
}

export interface KubernetesVmProviderOptions {
  config: SerflowConfig;
  billing: BillingPublisher;
  /** When given, a pod turns ready as soon as its worker's own `vm.ready` fact arrives (before its Ready condition). */
  nc?: NatsConnection;
  /** @default a client of `config.kubernetes` (resolveKubeApiTarget) */
  api?: KubeApi;
  /** @default Date.now */
  now?: () => number;
  /** @default console.error */
  log?: (line: string) => void;
}

/** Read-modify-write of a Deployment's scale retries this often when another writer changed it in between (409). */
export const SCALE_CONFLICT_RETRIES = 5;

/** How often launch() looks for the new pods while it waits for them (kubernetes.launchWaitMs at most). */
const LAUNCH_PROBE_MS = 100;

interface Tracked extends VmInstance {
  pod?: Pod;
  /** Billing facts this provider has published for the VM (each once). */
  billed: Set<'launched' | 'draining' | 'terminated'>;
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Whether the ReplicaSet controller, scaling down by one, would pick `pod` before every pod of `others`. Its ranking
 * (kubernetes/pkg/controller/controller_utils.go, ActivePodsWithRanks) puts unscheduled before scheduled, Pending
 * before Running and not-ready before ready, and only then the pod-deletion-cost; a drained pod has the lowest cost,
 * so it goes first unless another pod is less far along than it.
 */
export function goesFirst(pod: Pod, others: readonly Pod[]): boolean {
  const key = (p: Pod) => [
    p.spec?.nodeName ? 1 : 0,
    PHASE_ORDINAL[p.status?.phase ?? 'Pending'] ?? 0,
    viewPod(p).readyAt !== undefined ? 1 : 0,
  ];
  const mine = key(pod);
  return others.every((o) => {
    const theirs = key(o);
    for (let i = 0; i < mine.length; i++) if (theirs[i] !== mine[i]) return theirs[i]! > mine[i]!;
    return true;
  });
}

export async function createKubernetesVmProvider(o: KubernetesVmProviderOptions): Promise<VmPoolProvider> {
  const k8s = o.config.kubernetes;
  const now = o.now ?? Date.now;
  const log = o.log ?? ((line: string) => console.error(line));
  const api = o.api ?? createKubeApi(resolveKubeApiTarget(k8s), k8s.requestTimeoutMs);
  const instanceType = k8s.instanceType ?? o.config.vm.instanceType;
  const ns = encodeURIComponent(k8s.namespace);
  const vms = new Map<string, Tracked>();
  /** Pods of the last list that did not parse, by name or index: each is reported once, not every poll. */
  const reportedBad = new Set<string>();
  let lastPollError: string | undefined;

  const scalePath = (model: string, stage: number) =>
    `/apis/apps/v1/namespaces/${ns}/deployments/${encodeURIComponent(deploymentName(k8s, model, stage))}/scale`;
  const podPath = (name: string) => `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`;

  const bill = (vm: Tracked, kind: 'launched' | 'draining' | 'terminated', reason = '') => {
    if (vm.billed.has(kind)) return;
    vm.billed.add(kind);
    const fact = { model: vm.model, stage: vm.stage, vmId: vm.id, instanceType: vm.instanceType };
    const published =
      kind === 'launched'
        ? o.billing.publish({ type: 'vm.launched', at: vm.launchedAt, ...fact, bootDelayMs: 0 })
        : kind === 'draining'
          ? o.billing.publish({ type: 'vm.draining', at: vm.drainingAt!, ...fact })
          : o.billing.publish({ type: 'vm.terminated', at: vm.terminatedAt!, ...fact, reason });
    void published.catch((err: Error) => log(`billing: vm.${kind} of ${vm.id} not published: ${err.message}`));
  };

  /** Fold one list of the pools' pods into the cache, billing every change of state it shows. */
  function absorb(items: unknown[]): void {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const parsed = podSchema.safeParse(item);
      const name = (item as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      const label = typeof name === 'string' ? name : `#${i}`;
      if (!parsed.success) {
        if (!reportedBad.has(label)) {
          reportedBad.add(label);
          log(
            `kubernetes: pod ${label} skipped, malformed: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
          );
        }
        // A pod we knew that turns unreadable is not taken as gone: keep it as it was until it reads again.
        if (typeof name === 'string') seen.add(name);
        return;
      }
      const pod = parsed.data;
      const pool = poolOf(pod);
      if (!pool) return;
      seen.add(pod.metadata.name);
      const view = viewPod(pod);
      let vm = vms.get(pod.metadata.name);
      if (!vm) {
        // A pod first seen already ended (Failed or Succeeded: an evicted pod's object lingers until garbage
        // collection, long after this cache pruned it) is not a VM to bill again: it was billed when it ended, or
        // it ended while no provider ran and its own `vm.stopped` ends its bill.
        if (view.state === 'terminated') return;
        vm = {
          id: pod.metadata.name,
          ...pool,
          instanceType,
          state: view.state,
          launchedAt: view.launchedAt,
          billed: new Set(),
        };
        vms.set(vm.id, vm);
        bill(vm, 'launched');
      }
      vm.pod = pod;
      if (vm.state === 'terminated') return;
      if (view.readyAt !== undefined && vm.readyAt === undefined) vm.readyAt = view.readyAt;
      if (view.state === 'terminated') {
        Object.assign(vm, { state: 'terminated', terminatedAt: now() });
        bill(vm, 'terminated', view.endReason);
      } else if (view.state === 'draining' || vm.state === 'draining') {
        Object.assign(vm, { state: 'draining', drainingAt: vm.drainingAt ?? view.drainingAt ?? now() });
        bill(vm, 'draining');
      } else if (view.state === 'ready' || vm.readyAt !== undefined) {
        vm.state = 'ready';
      }
    });
    for (const vm of vms.values()) {
      if (vm.state === 'terminated' || seen.has(vm.id)) continue;
      const reason = vm.state === 'draining' ? 'drained' : 'pod deleted';
      Object.assign(vm, { state: 'terminated', terminatedAt: now() });
      bill(vm, 'terminated', reason);
    }
    pruneTerminated();
  }

  function pruneTerminated(): void {
    const ended = [...vms.values()].filter((v) => v.state === 'terminated');
    ended.sort((a, b) => (a.terminatedAt ?? 0) - (b.terminatedAt ?? 0));
    for (const v of ended.slice(0, Math.max(0, ended.length - TERMINATED_VMS_KEPT))) vms.delete(v.id);
  }

  async function refresh(): Promise<void> {
    const list = await api.request(
      { method: 'GET', path: `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(STAGE_PODS_SELECTOR)}` },
      podListSchema,
    );
    absorb(list.items);
  }

  /** Change a pool's replicas by `delta` (read, then write with its resourceVersion; again on a conflict). */
  async function adjustReplicas(model: string, stage: number, delta: number): Promise<number> {
    const path = scalePath(model, stage);
    for (let attempt = 1; ; attempt++) {
      const scale = await api.request({ method: 'GET', path }, scaleSchema);
      const replicas = Math.max(0, (scale.spec.replicas ?? 0) + delta);
      try {
        await api.request(
          {
            method: 'PUT',
            path,
            body: {
              apiVersion: 'autoscaling/v1',
              kind: 'Scale',
              metadata: {
                name: scale.metadata.name,
                namespace: k8s.namespace,
                resourceVersion: scale.metadata.resourceVersion,
              },
              spec: { replicas },
            },
          },
          scaleSchema,
        );
        return replicas;
      } catch (err) {
        if (!(err instanceof KubernetesApiError && err.status === 409) || attempt >= SCALE_CONFLICT_RETRIES) throw err;
      }
    }
  }

  // The first list happens before the provider is handed out, so list() is right from the start (and a cluster
  // that cannot be reached fails the agent's start with the API's own error, not later in silence).
  await refresh();
  let polling: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (polling) return; // a slow API server: never two lists in flight
    polling = refresh()
      .then(() => {
        if (lastPollError) log('kubernetes: listing pods works again');
        lastPollError = undefined;
      })
      .catch((err: Error) => {
        // Reported when it changes, not every poll; the cache keeps the last good view meanwhile.
        if (err.message !== lastPollError) log(`kubernetes: listing pods failed: ${err.message}`);
        lastPollError = err.message;
      })
      .finally(() => (polling = undefined));
  }, k8s.pollIntervalMs);
  timer.unref();

  // A pod's worker says when it polls its queue (`vm.ready`), which can be before its Ready condition (it may have
  // no readiness probe); follow it as the local provider does.
  let readySub: Subscription | undefined;
  if (o.nc) {
    const sub = o.nc.subscribe(billingEventSubject('vm.ready'));
    readySub = sub;
    void (async () => {
      for await (const m of sub) {
        try {
          const e = parseBillingEvent(m.json());
          const vm = e.type === 'vm.ready' ? vms.get(e.vmId) : undefined;
          if (vm && vm.state === 'booting') Object.assign(vm, { state: 'ready', readyAt: e.at });
        } catch {
          // not ours to judge: the ledger reports malformed billing events
        }
      }
    })();
  }

  const publicView = (vm: Tracked): VmInstance => {
    const { pod: _pod, billed: _billed, ...rest } = vm;
    return { ...rest };
  };
  const active = (model: string, stage: number) => activeVms(vms.values(), model, stage);

  const provider: VmPoolProvider = {
    list(filter = {}) {
      return filterVms(vms.values(), filter).map(publicView);
    },

    // A pod boots as it boots: `preProvisioned` (the local stack's "ready at once") has no meaning here.
    async launch(model, stage, count) {
      if (!Number.isInteger(count) || count < 0) {
        throw new InvalidScaleError(`launch ${model} stage ${stage}: count must be a whole number >= 0, got ${count}`);
      }
      if (count === 0) return [];
      const before = new Set(provider.list({ model, stage }).map((v) => v.id));
      await adjustReplicas(model, stage, count);
      const deadline = now() + k8s.launchWaitMs;
      for (;;) {
        await refresh();
        const fresh = provider.list({ model, stage }).filter((v) => !before.has(v.id) && v.state !== 'terminated');
        if (fresh.length >= count || now() >= deadline) return fresh.slice(0, count);
        await new Promise((r) => setTimeout(r, LAUNCH_PROBE_MS));
      }
    },

    async drain(vmId) {
      const vm = vms.get(vmId);
      if (!vm) {
        throw new UnknownVmError(
          `no VM ${vmId} in namespace ${k8s.namespace}; known: ${[...vms.keys()].join(', ') || '(none)'}`,
        );
      }
      if (vm.state !== 'booting' && vm.state !== 'ready') return publicView(vm);
      const others = active(vm.model, vm.stage)
        .filter((v) => v.id !== vmId && v.pod)
        .map((v) => v.pod!);
      if (vm.pod && goesFirst(vm.pod, others)) {
        // The ReplicaSet controller removes the cheapest of equally-ready pods first: mark this one, then shrink.
        await api.request(
          {
            method: 'PATCH',
            path: podPath(vmId),
            body: { metadata: { annotations: { [POD_DELETION_COST]: DRAIN_DELETION_COST } } },
          },
          anyObjectSchema,
        );
        await adjustReplicas(vm.model, vm.stage, -1);
      } else {
        // A less advanced pod (booting, unscheduled) would be removed before it whatever its cost: delete this one
        // (graceful, its own grace period) and shrink by one; a replacement the controller may start in between is
        // newest and not ready, so the shrink removes it.
        await api.request({ method: 'DELETE', path: podPath(vmId) }, anyObjectSchema);
        await adjustReplicas(vm.model, vm.stage, -1);
      }
      Object.assign(vm, { state: 'draining', drainingAt: now() });
      bill(vm, 'draining');
      return publicView(vm);
    },

    async scaleTo(model, stage, count) {
      if (!Number.isInteger(count) || count < 0) {
        throw new InvalidScaleError(`scale ${model} stage ${stage}: count must be a whole number >= 0, got ${count}`);
      }
      // An absolute size is a merge patch (no read, no conflict). Which pods go on a scale-down is the ReplicaSet
      // controller's ranking: not-ready (booting) pods first, then the most recently ready, then the newest, the
      // same order as the local provider's "booting first, then newest".
      await api.request(
        { method: 'PATCH', path: scalePath(model, stage), body: { spec: { replicas: count } } },
        scaleSchema,
      );
      await refresh();
      return provider.list({ model, stage });
    },

    async close() {
      clearInterval(timer);
      readySub?.unsubscribe();
      await polling;
      api.close();
    },
  };
  return provider;
}
