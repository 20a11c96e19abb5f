/**
 * The cost ledger: a pure function from billing facts, stage events, query outcomes and the orchestration actions
 * of the period to a bill (totals, per stage, per backend, per VM, orchestration, idle time, SLO attainment). No
 * clock: `now` is an input, and bills a VM that is still running up to it. Every figure is in cloud time (wall ×
 * the `timeScale` carried by the billing events).
 *
 * A VM's end is its provider's `vm.terminated`, else its own `vm.stopped` (one end, counted once). A VM with
 * neither is billed to `now` while it shows signs of life; once its last sign (a `vm.alive`, or any fact of its
 * life) is older than `livenessStaleMs`, it is billed to that sign plus one liveness interval and flagged
 * `unended`: its provider died with it, and "running until now" would bill it forever.
 */
import { isVmBillingEvent, type BillingEvent, type VmBillingEvent } from '../common/billing-events';
import { DEFAULT_VM_LIVENESS_INTERVAL_MS, DEFAULT_VM_LIVENESS_STALE_MS } from '../common/config';
import type { StageEvent } from '../common/events';
import type { Backend } from '../common/naming';
import { NO_ACTIONS, totalActions, type ActionCounts } from './actions';
import {
  faasBilledGbSeconds,
  faasInvocationCostUsd,
  vmBilledSeconds,
  vmCloudSeconds,
  vmPricePerHourUsd,
  type Prices,
} from './prices';

/** One query's outcome, as known to Temporal visibility. */
export interface BilledQuery {
  queryId: string;
  /** End-to-end latency, ms; null when unknown (counts as an SLO violation). */
  latencyMs: number | null;
  /** False for a failed, timed-out, terminated or cancelled query (always an SLO violation). */
  ok: boolean;
}

/** The orchestration of the period: the Temporal actions its queries caused, and what one action costs. */
export interface OrchestrationInput {
  /** Actions of the workflows counted, kind by kind (billing/history-actions.ts). */
  actionCounts: ActionCounts;
  /** Workflows (queries) whose actions were counted. */
  workflows: number;
  /** USD per action (billing/prices.ts `usdPerAction`). */
  usdPerAction: number;
  /** How the action price was set (`orchestration.pricing`), for the report. */
  pricing: string;
}

export interface LedgerInput {
  /** Billing facts; events of VMs launched before `since` are needed to bill the rest of their life. */
  billing: readonly BillingEvent[];
  /** Stage events: execution counts and VM busy intervals. */
  stages: readonly StageEvent[];
  /** Completed and failed queries of the period (the caller selects them; running ones are left out). */
  queries: readonly BilledQuery[];
  prices: Prices;
  /**
   * Wall epoch ms the bill is made at: a VM without an end fact is billed up to here while its liveness is fresh
   * (see `livenessStaleMs`).
   */
  now: number;
  /**
   * Wall ms: a VM with no end fact whose last sign of life is older than this at `now` is billed to that sign plus
   * one liveness interval and flagged `unended`. @default DEFAULT_VM_LIVENESS_STALE_MS (config `vmLiveness.staleMs`)
   */
  livenessStaleMs?: number;
  /** End-to-end latency objective, ms; without it `sloAttainment` is null. */
  sloMs?: number;
  /** Orchestration of the period; without it the bill has no orchestration (0 actions, 0 USD). */
  orchestration?: OrchestrationInput;
  /**
   * Wall epoch ms: bill only facts at/after it. Function invocations, throttles and executions count when they
   * happened at/after `since` (executions: by `finishedAt`). A VM is billed for what its life after `since`
   * adds to its bill: `billed(launch → end) − billed(launch → since)`, so consecutive windows add up to the
   * whole bill exactly and the 60 s minimum is charged once, in the window the VM was launched in.
   */
  since?: number;
}

/**
 * Lifecycle state of a VM as far as the billing events tell; `unended`: no end fact and no liveness for longer than
 * the staleness threshold (billed to its last liveness plus one interval).
 */
export type BilledVmState = 'launching' | 'ready' | 'draining' | 'terminated' | 'unended';

export interface VmBill {
  vmId: string;
  model: string;
  stage: number;
  instanceType: string;
  state: BilledVmState;
  launchedAt: number;
  readyAt: number | null;
  /** The VM's end: its provider's `vm.terminated`, else its own `vm.stopped`; null when neither came. */
  terminatedAt: number | null;
  /** Who reported the end: the provider (`vm.terminated`), the VM itself (`vm.stopped`), or no one. */
  endReportedBy: 'provider' | 'vm' | null;
  /** Wall ms of the VM's last sign of life (its last `vm.alive`, else its last fact); null for an ended VM. */
  lastAliveAt: number | null;
  /**
   * No end fact and no sign of life for longer than `livenessStaleMs`: billed to `lastAliveAt` plus one liveness
   * interval instead of `now`. A flag to look at (a provider died with its VMs), not a normal state.
   */
  unended: boolean;
  /** Cloud seconds of life in the window (launch or `since`, to its end or `now`), unrounded. */
  lifetimeSeconds: number;
  /** Billed cloud seconds in the window (whole seconds, minimum applied; see `LedgerInput.since`). */
  billedSeconds: number;
  usd: number;
  /** Cloud seconds in the window with at least one of its executions in flight. */
  busySeconds: number;
  /** `lifetimeSeconds − busySeconds`: paid for, serving nothing (boot time included). */
  idleSeconds: number;
}

export interface StageBill {
  model: string;
  stage: number;
  vmUsd: number;
  faasUsd: number;
  totalUsd: number;
  /** Billed VM cloud seconds of this stage's VMs. */
  vmSeconds: number;
  faasInvocations: number;
  faasColdStarts: number;
  faasThrottled: number;
  faasBilledGbSeconds: number;
  /** Stage executions by backend (from stage events). */
  executions: Record<Backend, number>;
}

export interface BackendBill {
  vm: { usd: number; billedSeconds: number; vms: number; executions: number };
  faas: { usd: number; invocations: number; billedGbSeconds: number; executions: number };
}

export interface FaasSummary {
  invocations: number;
  coldStarts: number;
  throttled: number;
  billedGbSeconds: number;
  instancesStarted: number;
  instancesReclaimed: number;
}

export interface Ledger {
  since: number | null;
  now: number;
  /** The whole bill: `vmUsd + faasUsd + orchestrationUsd`. */
  totalUsd: number;
  vmUsd: number;
  faasUsd: number;
  /** The Temporal actions of the period: `actions × usdPerAction`. */
  orchestrationUsd: number;
  /** Billable Temporal actions of the workflows counted, in all. */
  actions: number;
  /** The same, kind by kind. */
  actionCounts: ActionCounts;
  /** `actions / orchestration.workflows`; null when no workflow was counted. */
  actionsPerQuery: number | null;
  /** What the orchestration figures cover and how they are priced; null when not counted. */
  orchestration: { workflows: number; usdPerAction: number; pricing: string } | null;
  /** `totalUsd / queries.total × 1000`; null without queries. */
  perThousandQueriesUsd: number | null;
  queries: { total: number; ok: number; failed: number };
  sloMs: number | null;
  /** Share of queries with `ok && latencyMs <= sloMs`; null without an SLO or without queries. */
  sloAttainment: number | null;
  perStage: StageBill[];
  perBackend: BackendBill;
  vms: VmBill[];
  vmIdleSeconds: number;
  /** Idle seconds / lifetime seconds over all VMs; null when no VM lived in the window. */
  vmIdleShare: number | null;
  faas: FaasSummary;
  /** Ids of the VMs flagged `unended` (see VmBill.unended). */
  unendedVms: string[];
  /** Facts the ledger could not use as they are (what it did instead is said in each line). */
  anomalies: string[];
}

interface VmRecord {
  vmId: string;
  model: string;
  stage: number;
  instanceType: string;
  timeScale: number;
  launchedAt: number | null;
  firstSeenAt: number;
  readyAt: number | null;
  drainingAt: number | null;
  terminatedAt: number | null;
  stoppedAt: number | null;
  /** Latest `vm.alive` and its interval. */
  aliveAt: number | null;
  aliveIntervalMs: number;
  /** Latest fact of any kind about the VM. */
  lastSeenAt: number;
}

/** The field of a VM's record each once-per-life fact sets (a second one is an anomaly). */
const VM_FACT_FIELD: Record<
  Exclude<VmBillingEvent['type'], 'vm.alive'>,
  'launchedAt' | 'readyAt' | 'drainingAt' | 'terminatedAt' | 'stoppedAt'
> = {
  'vm.launched': 'launchedAt',
  'vm.ready': 'readyAt',
  'vm.draining': 'drainingAt',
  'vm.terminated': 'terminatedAt',
  'vm.stopped': 'stoppedAt',
};

const stageKey = (model: string, stage: number) => `${model}\u0000${stage}`;

function emptyStage(model: string, stage: number): StageBill {
  return {
    model,
    stage,
    vmUsd: 0,
    faasUsd: 0,
    totalUsd: 0,
    vmSeconds: 0,
    faasInvocations: 0,
    faasColdStarts: 0,
    faasThrottled: 0,
    faasBilledGbSeconds: 0,
    executions: { vm: 0, faas: 0 },
  };
}

/**
 * Total length, ms, of the union of `[start, end]` intervals clipped to `[from, to]`.
 * Example: [0, 10], [5, 20], [30, 40] clipped to [0, 35] → [0, 20] ∪ [30, 35] → 25.
 */
export function unionLengthMs(intervals: readonly (readonly [number, number])[], from: number, to: number): number {
  const clipped = intervals
    .map(([s, e]) => [Math.max(s, from), Math.min(e, to)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [s, e] of clipped) {
    if (s > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = s;
      curEnd = e;
    } else if (e > curEnd) {
      curEnd = e;
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

function stateOf(vm: VmRecord, unended: boolean): BilledVmState {
  if (vm.terminatedAt !== null || vm.stoppedAt !== null) return 'terminated';
  if (unended) return 'unended';
  if (vm.drainingAt !== null) return 'draining';
  if (vm.readyAt !== null) return 'ready';
  return 'launching';
}

/** Build the bill. Pure; see `LedgerInput` for what `since` and `now` mean. */
export function computeLedger(input: LedgerInput): Ledger {
  const { prices, now } = input;
  const since = input.since ?? -Infinity;
  const anomalies: string[] = [];
  const stages = new Map<string, StageBill>();
  const stageOf = (model: string, stage: number): StageBill => {
    const key = stageKey(model, stage);
    let s = stages.get(key);
    if (!s) stages.set(key, (s = emptyStage(model, stage)));
    return s;
  };
  const faas: FaasSummary = {
    invocations: 0,
    coldStarts: 0,
    throttled: 0,
    billedGbSeconds: 0,
    instancesStarted: 0,
    instancesReclaimed: 0,
  };
  let faasUsd = 0;

  // Stable sort by time, so a VM's events are seen launch first even if the stream interleaved them.
  const billing = [...input.billing].sort((a, b) => a.at - b.at);
  const vms = new Map<string, VmRecord>();
  for (const e of billing) {
    if (isVmBillingEvent(e)) {
      let vm = vms.get(e.vmId);
      if (!vm) {
        vm = {
          vmId: e.vmId,
          model: e.model,
          stage: e.stage,
          instanceType: e.instanceType,
          timeScale: e.timeScale,
          launchedAt: null,
          firstSeenAt: e.at,
          readyAt: null,
          drainingAt: null,
          terminatedAt: null,
          stoppedAt: null,
          aliveAt: null,
          aliveIntervalMs: DEFAULT_VM_LIVENESS_INTERVAL_MS,
          lastSeenAt: e.at,
        };
        vms.set(e.vmId, vm);
      }
      vm.lastSeenAt = Math.max(vm.lastSeenAt, e.at);
      if (e.type === 'vm.alive') {
        // Many per VM: the latest counts (events are sorted by time).
        vm.aliveAt = e.at;
        vm.aliveIntervalMs = e.intervalMs;
        continue;
      }
      const field = VM_FACT_FIELD[e.type];
      if (vm[field] !== null) {
        anomalies.push(`vm ${e.vmId}: second ${e.type} at ${e.at} ignored (first at ${vm[field]})`);
      } else {
        vm[field] = e.at;
        if (e.type === 'vm.launched') vm.timeScale = e.timeScale;
      }
      continue;
    }
    switch (e.type) {
      case 'faas.invoked': {
        if (e.at < since) break;
        const usd = faasInvocationCostUsd(e, prices);
        const gbs = faasBilledGbSeconds(e, prices);
        const s = stageOf(e.model, e.stage);
        s.faasUsd += usd;
        s.faasInvocations += 1;
        s.faasBilledGbSeconds += gbs;
        if (e.coldStart) s.faasColdStarts += 1;
        faasUsd += usd;
        faas.invocations += 1;
        faas.billedGbSeconds += gbs;
        if (e.coldStart) faas.coldStarts += 1;
        break;
      }
      case 'faas.throttled':
        if (e.at < since) break;
        stageOf(e.model, e.stage).faasThrottled += 1;
        faas.throttled += 1;
        break;
      case 'faas.instance.started':
        if (e.at >= since) faas.instancesStarted += 1;
        break;
      case 'faas.instance.reclaimed':
        if (e.at >= since) faas.instancesReclaimed += 1;
        break;
      default: {
        const unreachable: never = e;
        anomalies.push(`unknown billing event ${JSON.stringify(unreachable)}`);
      }
    }
  }

  // Executions: counts per stage and backend, and busy intervals per VM worker.
  const busy = new Map<string, [number, number][]>();
  let unattributedVmExecutions = 0;
  const executions: Record<Backend, number> = { vm: 0, faas: 0 };
  for (const e of input.stages) {
    const list = busy.get(e.worker);
    if (e.backend === 'vm') {
      if (list) list.push([e.startedAt, e.finishedAt]);
      else busy.set(e.worker, [[e.startedAt, e.finishedAt]]);
    }
    if (e.finishedAt < since) continue;
    stageOf(e.model, e.stage).executions[e.backend] += 1;
    executions[e.backend] += 1;
    if (e.backend === 'vm' && !vms.has(e.worker)) unattributedVmExecutions += 1;
  }
  if (unattributedVmExecutions > 0) {
    anomalies.push(
      `${unattributedVmExecutions} VM execution(s) ran on workers with no VM billing events; they count as ` +
        'executions but not toward any VM busy time',
    );
  }

  const staleMs = input.livenessStaleMs ?? DEFAULT_VM_LIVENESS_STALE_MS;
  const unendedVms: string[] = [];
  let vmUsd = 0;
  let vmBilled = 0;
  let vmLifetime = 0;
  let vmIdle = 0;
  const vmBills: VmBill[] = [];
  for (const vm of vms.values()) {
    let launchedAt = vm.launchedAt;
    if (launchedAt === null) {
      launchedAt = vm.firstSeenAt;
      anomalies.push(`vm ${vm.vmId}: no vm.launched event; billed from its first event at ${launchedAt}`);
    }
    // One end, counted once: the provider saw the process exit; the VM's own report stands in when it is missing.
    const endedAt = vm.terminatedAt ?? vm.stoppedAt;
    const lastAliveAt = endedAt === null ? (vm.aliveAt ?? vm.lastSeenAt) : null;
    const unended = lastAliveAt !== null && now - lastAliveAt > staleMs;
    const end = unended ? Math.min(now, lastAliveAt + vm.aliveIntervalMs) : (endedAt ?? now);
    const from = Math.max(launchedAt, since);
    if (end <= from && !(launchedAt >= since && end === launchedAt)) continue; // no life in the window
    // Reported in `unendedVms` and each bill's `unended`, not as a text anomaly: readers act on it by id.
    if (unended) unendedVms.push(vm.vmId);
    const life = { launchedAt, terminatedAt: end, timeScale: vm.timeScale };
    const before = since > launchedAt ? vmBilledSeconds({ ...life, terminatedAt: since }, prices) : 0;
    const billedSeconds = vmBilledSeconds(life, prices) - before;
    const usd = (vmPricePerHourUsd(vm.instanceType, prices) / 3600) * billedSeconds;
    const lifetimeSeconds = vmCloudSeconds({ ...life, launchedAt: from });
    const busySeconds = (unionLengthMs(busy.get(vm.vmId) ?? [], from, end) / 1000) * vm.timeScale;
    const idleSeconds = Math.max(0, lifetimeSeconds - busySeconds);
    vmBills.push({
      vmId: vm.vmId,
      model: vm.model,
      stage: vm.stage,
      instanceType: vm.instanceType,
      state: stateOf(vm, unended),
      launchedAt,
      readyAt: vm.readyAt,
      terminatedAt: endedAt,
      endReportedBy: vm.terminatedAt !== null ? 'provider' : vm.stoppedAt !== null ? 'vm' : null,
      lastAliveAt,
      unended,
      lifetimeSeconds,
      billedSeconds,
      usd,
      busySeconds,
      idleSeconds,
    });
    const s = stageOf(vm.model, vm.stage);
    s.vmUsd += usd;
    s.vmSeconds += billedSeconds;
    vmUsd += usd;
    vmBilled += billedSeconds;
    vmLifetime += lifetimeSeconds;
    vmIdle += idleSeconds;
  }
  vmBills.sort((a, b) => a.launchedAt - b.launchedAt || a.vmId.localeCompare(b.vmId));

  const perStage = [...stages.values()].sort((a, b) => a.model.localeCompare(b.model) || a.stage - b.stage);
  for (const s of perStage) s.totalUsd = s.vmUsd + s.faasUsd;

  const orchestration = input.orchestration;
  const actionCounts = orchestration ? { ...orchestration.actionCounts } : { ...NO_ACTIONS };
  const actions = totalActions(actionCounts);
  const orchestrationUsd = orchestration ? actions * orchestration.usdPerAction : 0;

  const ok = input.queries.filter((q) => q.ok).length;
  const total = input.queries.length;
  const totalUsd = vmUsd + faasUsd + orchestrationUsd;
  const sloMs = input.sloMs ?? null;
  const within =
    sloMs === null ? 0 : input.queries.filter((q) => q.ok && q.latencyMs !== null && q.latencyMs <= sloMs).length;
  return {
    since: input.since ?? null,
    now,
    totalUsd,
    vmUsd,
    faasUsd,
    orchestrationUsd,
    actions,
    actionCounts,
    actionsPerQuery: orchestration && orchestration.workflows > 0 ? actions / orchestration.workflows : null,
    orchestration: orchestration
      ? { workflows: orchestration.workflows, usdPerAction: orchestration.usdPerAction, pricing: orchestration.pricing }
      : null,
    perThousandQueriesUsd: total > 0 ? (totalUsd / total) * 1000 : null,
    queries: { total, ok, failed: total - ok },
    sloMs,
    sloAttainment: sloMs !== null && total > 0 ? within / total : null,
    perStage,
    perBackend: {
      vm: { usd: vmUsd, billedSeconds: vmBilled, vms: vmBills.length, executions: executions.vm },
      faas: {
        usd: faasUsd,
        invocations: faas.invocations,
        billedGbSeconds: faas.billedGbSeconds,
        executions: executions.faas,
      },
    },
    vms: vmBills,
    vmIdleSeconds: vmIdle,
    vmIdleShare: vmLifetime > 0 ? vmIdle / vmLifetime : null,
    faas,
    unendedVms,
    anomalies,
  };
}
