/**
 * The discrete-event simulation of one policy on one arrival sequence: the whole system as the live stack runs it,
 * in virtual cloud time, calling the real policy function every tick and the real billing arithmetic
 * (billing/prices.ts) for every VM life and function invocation.
 *
 * What is modelled, per query: arrival → for each stage: a hand-off delay (orchestration), then the routing choice
 * (the stage's VM share, drawn per execution as the workflow does, or LIBRA's "first N queries of the tick" quota),
 * then either
 * - a VM pool: FIFO queue, one execution per VM slot, service time drawn from the profiled distribution; a
 *   VM-routed execution not started within the stage's `overflowAfterMs` goes serverless (per-query load balancing);
 * - the stage's function: a warm idle instance if one is within its keep-alive (the most recently used first), else a
 *   cold start (profiled instance start + model load + the configured extra, billed as INIT); at most
 *   `accountConcurrency` executions at once, the rest wait FIFO (throttling);
 * then the query's exit (drawn in advance, exit-model.ts) or the next stage.
 *
 * Stage fusion (routing.ts `FusedRun`, from the decision's `fused`): a query that reaches the first stage of a run
 * makes one draw with that stage's VM share (LIBRA's quota, when set, decides instead) and runs the whole run as ONE
 * activity, stopping at its exit:
 * - VM: on the whole-model pool's queue (pool 0; per-stage pools never serve it), overflowing to the function side
 *   after the first stage's `overflowAfterMs`; the slot runs the run's stages one after the other with no hand-off
 *   between them and is freed when the run ends;
 * - function: one invocation of the run's own function (its instances are not the per-stage functions'), one request
 *   fee, billed for the sum of the stages it ran at the run's memory (the max of its stages' memory). Its cold start
 *   is the max of its stages' cold starts (wait and INIT billed alike): an approximation, one runtime start whose
 *   model loads are taken as overlapping (loading them one after the other would cost up to the sum). Each stage
 *   runs for its own function's profiled service time; the cold start is counted at the run's first stage.
 * Per-stage arrivals, exits and executions are counted per stage run, as without fusion; after the run's last stage
 * a query that continues is handed off as usual.
 *
 * Orchestration (orchestration.ts): each query's Temporal actions follow from the stage activities it started (a VM
 * execution that overflowed to a function started once, in the function; a fused run is one activity whatever
 * number of stages it ran) and the workflow's shape, priced per action. VMs: launched on a scale-up, serve
 * after `bootDelayMs`, billed per second from launch to termination with the configured minimum; on a scale-in
 * booting VMs go first, then idle ones, then busy ones, which stop taking work and terminate when their executions
 * end (drain).
 * Pool 0 is the whole-model pool (LIBRA's VMs run every stage; the only one fused runs go to); pool k is stage k's.
 *
 * Deterministic for a given seed: one seeded PRNG, events at equal times in insertion order, and at one instant
 * completions first, then the policy tick, then arrivals. Failures: none are simulated; a query still unfinished
 * `drainLimitMs` after the window ends (a policy that never provides capacity) counts as failed.
 */
import { faasInvocationCostUsd, vmBilledSeconds, vmCostUsd, type Prices } from '../billing/prices';
import type { CompiledAutoscalerConfig } from '../autoscaler/config';
import { ewmaRecord, ewmaUpper, emptyEwma, type EwmaState } from '../autoscaler/stats';
import type { Decision, Observation, Policy, PoolObservation, StageObservation } from '../autoscaler/types';
import type { FusedRun } from '../common/routing';
import { seededRandom } from '../common/stats';
import { totalActions, type ActionCounts } from '../billing/actions';
import { EventHeap } from './event-heap';
import { IntPairFifo } from './int-fifo';
import { actionsTable, runActionCounts, type SimOrchestration } from './orchestration';
import { sample, type Sampler } from './sampler';

/** One stage as the simulator runs it. Times in ms. */
export interface SimStage {
  stage: number;
  vmService: Sampler;
  vmSlots: number;
  faasService: Sampler;
  faasMemoryMb: number;
  /** Wait for a new function instance, ms of simulated time. */
  faasColdStartMs: number;
  /** INIT billed for a cold start, ms (equal to the wait unless the run is time-scaled). */
  faasInitBilledMs: number;
}

/** The cloud the simulator bills: prices, VM boot, function platform limits. */
export interface SimPlatform {
  instanceType: string;
  prices: Prices;
  bootDelayMs: number;
  faasKeepAliveMs: number;
  /** Executions running in functions at once, over all stages (Infinity: unlimited). */
  faasAccountConcurrency: number;
  /** Orchestration delay before every stage execution (the workflow hand-off), ms. */
  handoff: Sampler;
  /** What the workflow engine bills: the price of an action and the workflow's shape. */
  orchestration: SimOrchestration;
  /**
   * A booting VM that is scaled in: terminated at once (a cloud can cancel a pending instance), or only once it
   * has booted ('after-boot', as LIBRA's simulator does: its VMs are terminated "once idle", i.e. up and idle).
   * @default 'at-once'
   */
  bootingScaleIn?: 'at-once' | 'after-boot';
}

export interface SimRunInput {
  /** Arrival times, ms from the window start, sorted ascending. */
  arrivalsMs: Float64Array;
  /** Length of the window the arrivals cover, ms. */
  windowMs: number;
  stages: SimStage[];
  /**
   * The 0-based stage where each query exits (exits.ts `drawExitStages`): drawn once per trace and seed, so every
   * policy of a comparison and the clairvoyant bound see the same exits.
   */
  exitStage: Int8Array;
  platform: SimPlatform;
  policy: Policy<CompiledAutoscalerConfig, unknown>;
  config: CompiledAutoscalerConfig;
  sloMs: number;
  seed: number;
  /**
   * Cloud time per simulated time, as a live stack's `timeScale`: the simulated clock is the stack's wall clock,
   * the policy sees `now` × timeScale and ticks every `tickMs` / timeScale, VM lives are billed × timeScale.
   * Used to mirror a time-scaled live run; 1 otherwise. @default 1
   */
  timeScale?: number;
  /** VMs launched at time 0, before any decision (a fleet that exists when the run starts). */
  initialVms?: { pool: number; count: number };
  /**
   * Fused runs in force before the first decision: those of the all-serverless plan a live autoscaler publishes
   * when it starts (autoscaler/service.ts). @default none
   */
  initialFused?: readonly FusedRun[];
  /**
   * The policy starts ticking this long before the first arrival (its VMs billed from their launch): a static
   * fleet provisioned ahead of the traffic, as a real operator would, is ready when the trace starts. @default 0
   */
  preRollMs?: number;
  /** Sampling step of the time series, ms. */
  seriesStepMs: number;
  /** A query unfinished this long after the window ends counts as failed. @default 3_600_000 */
  drainLimitMs?: number;
  /** Called every ~64k completed queries and at the end. */
  onProgress?: (done: number, total: number) => void;
}

/** Raw outcome of one run (sim/figures.ts turns it into report figures). */
export interface SimRunResult {
  policy: string;
  queries: number;
  completed: number;
  failed: number;
  /** Latency of each query, ms (NaN when it failed). */
  latencyMs: Float32Array;
  /** Total queue wait of each query before service (VM queue + throttling), ms. */
  waitMs: Float32Array;
  /** Backend of each query's first stage: 1 VM, 2 serverless, 0 none (failed before it ran). */
  firstBackend: Uint8Array;
  vmUsd: number;
  serverlessUsd: number;
  /** Temporal actions of all queries × the price per action. */
  orchestrationUsd: number;
  /** Temporal actions of all queries (unfinished ones: those they caused so far), by kind. */
  actions: ActionCounts;
  /** `queriesByActivities[n]`: queries that started n stage activities. */
  queriesByActivities: number[];
  vmSeconds: number;
  peakVms: number;
  /** Slot-ms with an execution running / billed slot-ms (lifetime × slots) over all VMs. */
  vmBusySlotMs: number;
  vmSlotMs: number;
  /** Per stage index: executions on VMs, serverless, and cold starts. */
  vmExecutions: number[];
  faasExecutions: number[];
  coldStarts: number[];
  /** Time series sampled every seriesStepMs (index i = end of step i). */
  series: {
    timeMs: number[];
    arrivals: number[];
    cumulativeUsd: number[];
    vmsByPool: number[][];
    estimatedMean: number[];
    estimatedUpper: number[];
  };
  /** Simulated end (ms) and the wall time the run took (ms). */
  endMs: number;
  wallMs: number;
  decisions: number;
}

const EV_DISPATCH = 1;
const EV_VM_DONE = 2;
const EV_FAAS_DONE = 3;
const EV_VM_READY = 4;
const EV_OVERFLOW = 5;

const VM_BOOTING = 0;
const VM_READY = 1;
const VM_DRAINING = 2;
const VM_TERMINATED = 3;

/** Per-query routing mode: per stage (the plan, 0: the typed arrays' initial value), or LIBRA's whole query on
 * VMs / on functions. */
const MODE_WHOLE_VM = 1;
const MODE_WHOLE_FAAS = 2;

const DEFAULT_DRAIN_LIMIT_MS = 3_600_000;

interface Vm {
  pool: number;
  launchedAt: number;
  readyAt: number;
  terminatedAt: number;
  state: number;
  busy: number;
  slots: number;
  busyMs: number;
  inFree: boolean;
}

interface Pool {
  /** Indices into `vms` of VMs not terminated. */
  alive: number[];
  /** VMs that may have a free slot (checked on use). */
  free: number[];
  queue: IntPairFifo;
  /** Executions waiting in `queue` (the queue may also hold stale entries of overflowed ones). */
  queued: number;
  /** VMs booting or ready (not draining). */
  active: number;
  slots: number;
}

interface StageRoute {
  vmShare: number;
  overflowAfterMs: number | undefined;
}

/** Run one policy over the arrivals. Pure apart from the progress callback: same input, same result. */
export function runSimulation(input: SimRunInput): SimRunResult {
  const wallStart = performance.now();
  const { arrivalsMs, stages, platform, config, policy } = input;
  const N = arrivalsMs.length;
  const K = stages.length;
  const rnd = seededRandom(input.seed);
  const heap = new EventHeap();
  const ev = new Float64Array(4);
  const pair = new Int32Array(2);
  const drainLimitMs = input.drainLimitMs ?? DEFAULT_DRAIN_LIMIT_MS;
  const timeScale = input.timeScale ?? 1;
  const vmPriceUsdPerMs = ((config.stages[0]?.vmPricePerHourUsd ?? 0) / 3_600_000) * (input.timeScale ?? 1);

  // Per query.
  const qStage = new Int8Array(N);
  const qMode = new Int8Array(N);
  const qExec = new Int32Array(N);
  const qVm = new Int32Array(N).fill(-1);
  /** Pool whose queue holds the query while it waits. */
  const qPool = new Int8Array(N);
  const qEnqAt = new Float64Array(N);
  const waitMs = new Float32Array(N);
  const latencyMs = new Float32Array(N).fill(NaN);
  const firstBackend = new Uint8Array(N);
  /** Stage activities the query started (its executions that began, on a VM or in a function). */
  const qActivities = new Int8Array(N);
  /** Last stage (0-based) of the fused run the query is in, from its dispatch to its end; 0: not in a run. */
  const qRunLast = new Int8Array(N);
  /**
   * Billed ms so far of the query's fused function invocation: its INIT if cold plus the durations of the stages it
   * ran (billing adds the two, so one sum is kept). Allocated with the first decision that fuses.
   */
  let qRunBilledMs = new Float64Array(0);

  // Pools: 0 = whole model, k = stage k.
  const wholeSlots = Math.min(...stages.map((s) => s.vmSlots));
  const pools: Pool[] = Array.from({ length: K + 1 }, (_, p) => ({
    alive: [],
    free: [],
    queue: new IntPairFifo(),
    queued: 0,
    active: 0,
    slots: p === 0 ? wholeSlots : (stages[p - 1] as SimStage).vmSlots,
  }));
  const vms: Vm[] = [];
  let aliveVms = 0;
  /** VMs scaled in and waiting for their executions (or boot) to end: not part of the fleet any more. */
  let drainingVms = 0;
  let peakVms = 0;

  // Routing in force.
  const routes: StageRoute[] = stages.map(() => ({ vmShare: 0, overflowAfterMs: undefined }));
  /** Fused runs in force: `runLastAt[k]` is the last stage of the run starting at stage k (0: none starts there). */
  const runLastAt = new Int8Array(K);
  let quota: number | undefined;
  let quotaUsed = 0;

  // Functions: per function the idle instances' last-use times (ascending; reuse from the end), account-wide busy.
  // Functions 0..K-1 are the stages'; a fused run's function (stages f..l) is added the first time a decision
  // fuses f..l, at `fusedFn[f * K + l]`, with the run's memory and cold start.
  const idle: number[][] = stages.map(() => []);
  const idleHead: number[] = stages.map(() => 0);
  const fnMemoryMb: number[] = stages.map((s) => s.faasMemoryMb);
  const fnColdStartMs: number[] = stages.map((s) => s.faasColdStartMs);
  const fnInitBilledMs: number[] = stages.map((s) => s.faasInitBilledMs);
  const fusedFn = new Int32Array(K * K).fill(-1);
  let faasBusy = 0;
  const throttled = new IntPairFifo();

  // Counters of the current tick window and totals.
  const winArrivals = new Float64Array(K);
  const winExits = new Float64Array(K);
  const winVm = new Float64Array(K);
  const winFaas = new Float64Array(K);
  const vmExecutions = new Array<number>(K).fill(0);
  const faasExecutions = new Array<number>(K).fill(0);
  const coldStarts = new Array<number>(K).fill(0);
  let serverlessUsd = 0;
  // Actions so far, for the series: a query's fixed actions at its arrival, each activity's as it starts.
  const { shape, usdPerAction } = platform.orchestration;
  const actionsOf = actionsTable(K, shape);
  let actionsSoFar = 0;
  const activityStarted = (q: number) => {
    const n = (qActivities[q] as number) + 1;
    qActivities[q] = n;
    actionsSoFar += (actionsOf[n] as number) - (actionsOf[n - 1] as number);
  };
  let vmBusySlotMs = 0;
  let completed = 0;
  let inFlight = 0;
  let decisions = 0;

  // VM cost accrued for the series (no minimum: the exact bill is computed per VM life at the end).
  let vmAccruedUsd = 0;
  let accruedAt = -(input.preRollMs ?? 0);
  const accrue = (t: number) => {
    vmAccruedUsd += aliveVms * (t - accruedAt) * vmPriceUsdPerMs;
    accruedAt = t;
  };

  // Series.
  const series: SimRunResult['series'] = {
    timeMs: [],
    arrivals: [],
    cumulativeUsd: [],
    vmsByPool: pools.map(() => []),
    estimatedMean: [],
    estimatedUpper: [],
  };
  let nextSampleAt = input.seriesStepMs;
  let stepArrivals = 0;
  let est: EwmaState = emptyEwma();

  let state: unknown = policy.initialState(config);
  let nextTickAt = -(input.preRollMs ?? 0);
  let lastTickAt = nextTickAt;
  let nextArrival = 0;
  let now = 0;

  // ---------------------------------------------------------------------------------------------------------
  // VMs

  const freeSlot = (pool: Pool): Vm | undefined => {
    while (pool.free.length > 0) {
      const vm = vms[pool.free[pool.free.length - 1] as number] as Vm;
      if (vm.state === VM_READY && vm.busy < vm.slots) return vm;
      vm.inFree = false;
      pool.free.pop();
    }
    return undefined;
  };

  const offerFree = (pool: Pool, index: number, vm: Vm) => {
    if (!vm.inFree && vm.state === VM_READY && vm.busy < vm.slots) {
      vm.inFree = true;
      pool.free.push(index);
    }
  };

  /** Execute stage qStage[q] on a slot of the VM the query holds. */
  const runOnVm = (q: number, vmIndex: number, vm: Vm, t: number) => {
    const k = qStage[q] as number;
    const service = sample((stages[k] as SimStage).vmService, rnd());
    vm.busyMs += service;
    vmBusySlotMs += service;
    vmExecutions[k] = (vmExecutions[k] as number) + 1;
    winVm[k] = (winVm[k] as number) + 1;
    heap.push(t + service, EV_VM_DONE, q, vmIndex);
  };

  /** Start the query's activity (a stage, or a fused run from its first stage) on a free slot. */
  const startOnVm = (q: number, vmIndex: number, vm: Vm, t: number) => {
    vm.busy++;
    qVm[q] = vmIndex;
    activityStarted(q);
    if (qStage[q] === 0) firstBackend[q] = 1;
    runOnVm(q, vmIndex, vm, t);
  };

  /** Give a VM with free slots work from its pool's queue. */
  const pullQueue = (pool: Pool, vmIndex: number, vm: Vm, t: number) => {
    while (vm.state === VM_READY && vm.busy < vm.slots && pool.queue.shift(pair)) {
      const q = pair[0] as number;
      if (qExec[q] !== pair[1] || qVm[q] !== -2) continue; // overflowed meanwhile
      pool.queued--;
      waitMs[q] = (waitMs[q] as number) + t - (qEnqAt[q] as number);
      startOnVm(q, vmIndex, vm, t);
    }
    offerFree(pool, vmIndex, vm);
  };

  const terminate = (vmIndex: number, t: number) => {
    const vm = vms[vmIndex] as Vm;
    accrue(t);
    if (vm.state === VM_DRAINING) drainingVms--;
    else (pools[vm.pool] as Pool).active--;
    vm.state = VM_TERMINATED;
    vm.terminatedAt = t;
    aliveVms--;
    const pool = pools[vm.pool] as Pool;
    const i = pool.alive.indexOf(vmIndex);
    if (i >= 0) pool.alive.splice(i, 1);
  };

  const launch = (p: number, t: number) => {
    accrue(t);
    const pool = pools[p] as Pool;
    const vm: Vm = {
      pool: p,
      launchedAt: t,
      readyAt: t + platform.bootDelayMs,
      terminatedAt: NaN,
      state: VM_BOOTING,
      busy: 0,
      slots: pool.slots,
      busyMs: 0,
      inFree: false,
    };
    vms.push(vm);
    pool.alive.push(vms.length - 1);
    pool.active++;
    aliveVms++;
    heap.push(vm.readyAt, EV_VM_READY, vms.length - 1, 0);
  };

  /** Scale pool `p` to `desired` VMs (booting + ready); draining VMs do not count. */
  const scale = (p: number, desired: number, t: number) => {
    const pool = pools[p] as Pool;
    const active = pool.alive.filter((i) => (vms[i] as Vm).state !== VM_DRAINING);
    let extra = active.length - desired;
    for (let i = 0; i < -extra; i++) launch(p, t);
    if (extra <= 0) return;
    // Booting ones first (newest first), then idle ready ones, then busy ones (drain).
    const order = [...active].sort((a, b) => {
      const va = vms[a] as Vm;
      const vb = vms[b] as Vm;
      const rank = (v: Vm) => (v.state === VM_BOOTING ? 0 : v.busy === 0 ? 1 : 2);
      return rank(va) - rank(vb) || vb.launchedAt - va.launchedAt || b - a;
    });
    for (const i of order) {
      if (extra-- <= 0) break;
      const vm = vms[i] as Vm;
      if (vm.busy === 0 && !(vm.state === VM_BOOTING && platform.bootingScaleIn === 'after-boot')) terminate(i, t);
      else {
        vm.state = VM_DRAINING;
        drainingVms++;
        pool.active--;
      }
    }
  };

  // ---------------------------------------------------------------------------------------------------------
  // Functions

  /** Execute stage qStage[q] in the function invocation the query holds: its service time, drawn. */
  const runInFunction = (q: number): number => {
    const k = qStage[q] as number;
    faasExecutions[k] = (faasExecutions[k] as number) + 1;
    winFaas[k] = (winFaas[k] as number) + 1;
    return sample((stages[k] as SimStage).faasService, rnd());
  };

  /** Start the query's activity in a function: stage qStage[q]'s own, or its fused run's (one invocation). */
  const startOnFunction = (q: number, t: number) => {
    const k = qStage[q] as number;
    const last = qRunLast[q] as number;
    const fn = last > k ? (fusedFn[k * K + last] as number) : k;
    const list = idle[fn] as number[];
    let head = idleHead[fn] as number;
    while (head < list.length && (list[head] as number) + platform.faasKeepAliveMs < t) head++;
    if (head > 4096 && head * 2 > list.length) {
      list.splice(0, head);
      head = 0;
    }
    idleHead[fn] = head;
    const warm = list.length > head;
    if (warm) list.pop();
    else coldStarts[k] = (coldStarts[k] as number) + 1;
    const service = runInFunction(q);
    const init = warm ? 0 : (fnColdStartMs[fn] as number);
    const initBilled = warm ? 0 : (fnInitBilledMs[fn] as number);
    // A single stage is billed now; a fused run once it ends, for all the stages it ran.
    if (fn === k) {
      serverlessUsd += faasInvocationCostUsd(
        { memoryMb: fnMemoryMb[fn] as number, durationMs: service, initMs: initBilled },
        platform.prices,
      );
    } else qRunBilledMs[q] = initBilled + service;
    faasBusy++;
    activityStarted(q);
    if (k === 0) firstBackend[q] = 2;
    heap.push(t + init + service, EV_FAAS_DONE, q, fn);
  };

  const toFunction = (q: number, t: number) => {
    qVm[q] = -1;
    if (faasBusy < platform.faasAccountConcurrency) startOnFunction(q, t);
    else {
      qEnqAt[q] = t;
      throttled.push(q, qExec[q] as number);
    }
  };

  // ---------------------------------------------------------------------------------------------------------
  // Queries

  /** The query is ready for stage qStage[q]: count the arrival at the stage and hand it off. */
  const requestStage = (q: number, t: number) => {
    const k = qStage[q] as number;
    winArrivals[k] = (winArrivals[k] as number) + 1;
    qExec[q] = (qExec[q] as number) + 1;
    heap.push(t + sample(platform.handoff, rnd()), EV_DISPATCH, q, qExec[q]);
  };

  /**
   * Inside a fused run: the query goes on to the next stage in the same activity (no hand-off), if it does not exit
   * at qStage[q] and the run has a stage left. Counts the arrival at that stage.
   */
  const continuesInRun = (q: number): boolean => {
    const k = qStage[q] as number;
    if (k >= (qRunLast[q] as number) || k >= (input.exitStage[q] as number)) return false;
    qStage[q] = k + 1;
    winArrivals[k + 1] = (winArrivals[k + 1] as number) + 1;
    return true;
  };

  const dispatch = (q: number, t: number) => {
    const k = qStage[q] as number;
    if (k === 0 && quota !== undefined) {
      qMode[q] = quotaUsed < quota ? MODE_WHOLE_VM : MODE_WHOLE_FAAS;
      if (qMode[q] === MODE_WHOLE_VM) quotaUsed++;
    }
    const mode = qMode[q] as number;
    const r = routes[k] as StageRoute;
    const runLast = runLastAt[k] as number;
    let p: number;
    if (mode === MODE_WHOLE_VM) p = 0;
    else if (mode === MODE_WHOLE_FAAS) p = -1;
    else if (runLast > k) p = r.vmShare > 0 && rnd() < r.vmShare ? 0 : -1;
    else {
      // A stage's VM queue is served by its own pool and by whole-model VMs (as the live workers poll it).
      const own = pools[k + 1] as Pool;
      const pool = own.active === 0 && (pools[0] as Pool).active > 0 ? 0 : k + 1;
      p = r.vmShare > 0 && rnd() < r.vmShare ? pool : -1;
    }
    // A fused run (the query's LIBRA mode, or one draw with its first stage's share, as above, decides for the whole
    // run): VMs = the whole-model pool's queue, else the run's function.
    if (runLast > k) qRunLast[q] = runLast;
    if (p < 0) return toFunction(q, t);
    const pool = pools[p] as Pool;
    const vm = freeSlot(pool);
    if (vm) return startOnVm(q, pool.free[pool.free.length - 1] as number, vm, t);
    qVm[q] = -2; // queued
    qPool[q] = p;
    qEnqAt[q] = t;
    pool.queue.push(q, qExec[q] as number);
    pool.queued++;
    const overflow = mode === MODE_WHOLE_VM ? undefined : r.overflowAfterMs;
    if (overflow !== undefined) heap.push(t + overflow, EV_OVERFLOW, q, qExec[q] as number);
  };

  const finishStage = (q: number, t: number) => {
    const k = qStage[q] as number;
    if (k >= (input.exitStage[q] as number)) {
      winExits[k] = (winExits[k] as number) + 1;
      latencyMs[q] = t - (arrivalsMs[q] as number);
      completed++;
      inFlight--;
      if (input.onProgress && (completed & 0xffff) === 0) input.onProgress(completed, N);
      return;
    }
    qStage[q] = k + 1;
    requestStage(q, t);
  };

  // ---------------------------------------------------------------------------------------------------------
  // Control

  const observe = (t: number): Observation => {
    const stageObs: StageObservation[] = stages.map((s, k) => ({
      stage: s.stage,
      arrivals: winArrivals[k] as number,
      exits: winExits[k] as number,
      vmExecutions: winVm[k] as number,
      faasExecutions: winFaas[k] as number,
      vmQueued: (pools[k + 1] as Pool).queued,
    }));
    const poolObs: PoolObservation[] = pools.map((pool, p) => {
      let ready = 0;
      let booting = 0;
      let draining = 0;
      for (const i of pool.alive) {
        const st = (vms[i] as Vm).state;
        if (st === VM_READY) ready++;
        else if (st === VM_BOOTING) booting++;
        else if (st === VM_DRAINING) draining++;
      }
      return { stage: p, vmsReady: ready, vmsBooting: booting, vmsDraining: draining };
    });
    return { now: t * timeScale, model: 'sim', windowMs: t - lastTickAt, stages: stageObs, pools: poolObs };
  };

  const apply = (d: Decision, t: number) => {
    for (const sd of d.stages) {
      const k = sd.stage - 1;
      if (k < 0 || k >= K) continue;
      routes[k] = { vmShare: sd.vmShare, overflowAfterMs: sd.overflowAfterMs };
      scale(k + 1, sd.desiredVms, t);
    }
    if (d.wholeModelVms !== undefined) scale(0, d.wholeModelVms, t);
    quota = d.wholeModelVms !== undefined ? d.vmQuotaPerTick : undefined;
    setRuns(d.fused ?? []);
  };

  /** The runs decided replace those in force (none when the decision has none); runs under way keep their stages. */
  const setRuns = (runs: readonly FusedRun[]) => {
    runLastAt.fill(0);
    for (const run of runs) {
      const f = run.first - 1;
      const l = run.last - 1;
      if (f < 0 || l >= K || l <= f) continue;
      runLastAt[f] = l;
      if ((fusedFn[f * K + l] as number) < 0) addFusedFunction(f, l);
    }
  };

  /** The function of fused run f..l: memory and cold start the max of its stages' (see the header). */
  const addFusedFunction = (f: number, l: number) => {
    if (qRunBilledMs.length < N) qRunBilledMs = new Float64Array(N);
    let memoryMb = 0;
    let coldStartMs = 0;
    let initBilledMs = 0;
    for (let k = f; k <= l; k++) {
      const s = stages[k] as SimStage;
      memoryMb = Math.max(memoryMb, s.faasMemoryMb);
      coldStartMs = Math.max(coldStartMs, s.faasColdStartMs);
      initBilledMs = Math.max(initBilledMs, s.faasInitBilledMs);
    }
    fusedFn[f * K + l] = idle.length;
    idle.push([]);
    idleHead.push(0);
    fnMemoryMb.push(memoryMb);
    fnColdStartMs.push(coldStartMs);
    fnInitBilledMs.push(initBilledMs);
  };

  const tick = (t: number) => {
    const observation = observe(t);
    const windowMs = t - lastTickAt;
    if (windowMs > 0) est = ewmaRecord(est, t, ((winArrivals[0] as number) * 1000) / windowMs, config);
    const r = policy.decide(observation, config, state, t * timeScale);
    state = r.state;
    decisions++;
    // The fleet as decided (a fleet that exists before the first decision counts from that decision on).
    if (r.decision.valid) {
      apply(r.decision, t);
      if (aliveVms - drainingVms > peakVms) peakVms = aliveVms - drainingVms;
    }
    winArrivals.fill(0);
    winExits.fill(0);
    winVm.fill(0);
    winFaas.fill(0);
    quotaUsed = 0;
    lastTickAt = t;
  };

  const sampleSeries = (t: number) => {
    accrue(t);
    series.timeMs.push(t);
    series.arrivals.push(stepArrivals);
    stepArrivals = 0;
    series.cumulativeUsd.push(vmAccruedUsd + serverlessUsd + actionsSoFar * usdPerAction);
    pools.forEach((pool, p) => (series.vmsByPool[p] as number[]).push(pool.alive.length));
    series.estimatedMean.push(est.mean);
    series.estimatedUpper.push(ewmaUpper(est, config.z));
  };

  // ---------------------------------------------------------------------------------------------------------
  // Main loop: completions and other events, then the tick, then arrivals, at any one instant.

  if (input.initialVms) for (let i = 0; i < input.initialVms.count; i++) launch(input.initialVms.pool, 0);
  if (input.initialFused) setRuns(input.initialFused);
  const hardStop = input.windowMs + drainLimitMs;
  for (;;) {
    const tEvent = heap.peekTime();
    const tArrival = nextArrival < N ? (arrivalsMs[nextArrival] as number) : Infinity;
    const busy = nextArrival < N || inFlight > 0 || now < input.windowMs;
    const tTick = busy ? nextTickAt : Infinity;
    const t = Math.min(tEvent, tTick, tArrival);
    if (!Number.isFinite(t) || t > hardStop) break;
    while (t >= nextSampleAt && nextSampleAt <= input.windowMs + input.seriesStepMs) {
      sampleSeries(nextSampleAt);
      nextSampleAt += input.seriesStepMs;
    }
    now = t;
    if (tEvent === t) {
      heap.pop(ev);
      const kind = ev[1] as number;
      const a = ev[2] as number;
      const b = ev[3] as number;
      if (kind === EV_DISPATCH) {
        if (qExec[a] === b) dispatch(a, t);
      } else if (kind === EV_VM_DONE) {
        const vm = vms[b] as Vm;
        // A fused run goes on to its next stage on the same slot; the slot is freed when the run ends.
        if (continuesInRun(a)) runOnVm(a, b, vm, t);
        else {
          qRunLast[a] = 0;
          vm.busy--;
          qVm[a] = -1;
          pullQueue(pools[vm.pool] as Pool, b, vm, t);
          if (vm.state === VM_DRAINING && vm.busy === 0) terminate(b, t);
          finishStage(a, t);
        }
      } else if (kind === EV_FAAS_DONE) {
        // A fused invocation goes on to its next stage; when it ends, it is billed once for all it ran.
        const fused = (qRunLast[a] as number) > 0;
        if (fused && continuesInRun(a)) {
          const service = runInFunction(a);
          qRunBilledMs[a] = (qRunBilledMs[a] as number) + service;
          heap.push(t + service, EV_FAAS_DONE, a, b);
        } else {
          if (fused) {
            qRunLast[a] = 0;
            serverlessUsd += faasInvocationCostUsd(
              { memoryMb: fnMemoryMb[b] as number, durationMs: qRunBilledMs[a] as number, initMs: 0 },
              platform.prices,
            );
          }
          faasBusy--;
          (idle[b] as number[]).push(t);
          while (faasBusy < platform.faasAccountConcurrency && throttled.shift(pair)) {
            const q = pair[0] as number;
            waitMs[q] = (waitMs[q] as number) + t - (qEnqAt[q] as number);
            startOnFunction(q, t);
          }
          finishStage(a, t);
        }
      } else if (kind === EV_VM_READY) {
        const vm = vms[a] as Vm;
        if (vm.state === VM_BOOTING) {
          vm.state = VM_READY;
          pullQueue(pools[vm.pool] as Pool, a, vm, t);
        } else if (vm.state === VM_DRAINING && vm.busy === 0) terminate(a, t); // scaled in while booting
      } else if (kind === EV_OVERFLOW) {
        if (qExec[a] === b && qVm[a] === -2) {
          (pools[qPool[a] as number] as Pool).queued--;
          waitMs[a] = (waitMs[a] as number) + t - (qEnqAt[a] as number);
          toFunction(a, t);
        }
      }
    } else if (tTick === t) {
      tick(t);
      nextTickAt = t + config.tickMs / timeScale;
    } else {
      const q = nextArrival++;
      inFlight++;
      stepArrivals++;
      qStage[q] = 0;
      actionsSoFar += actionsOf[0] as number;
      requestStage(q, t);
    }
  }

  // End: every VM still alive is terminated now; bills per VM life with the real arithmetic.
  const endMs = now;
  while (nextSampleAt <= endMs && nextSampleAt <= input.windowMs + input.seriesStepMs) {
    sampleSeries(nextSampleAt);
    nextSampleAt += input.seriesStepMs;
  }
  let vmUsd = 0;
  let vmSeconds = 0;
  let vmSlotMs = 0;
  for (const vm of vms) {
    if (vm.state !== VM_TERMINATED) {
      vm.terminatedAt = endMs;
      vm.state = VM_TERMINATED;
    }
    const life = { launchedAt: vm.launchedAt, terminatedAt: vm.terminatedAt, timeScale };
    vmUsd += vmCostUsd({ ...life, instanceType: platform.instanceType }, platform.prices);
    vmSeconds += vmBilledSeconds(life, platform.prices);
    vmSlotMs += (vm.terminatedAt - vm.launchedAt) * vm.slots;
  }
  // Queries that never arrived (the run stopped at the drain limit before them) caused no action.
  const queriesByActivities = new Array<number>(K + 1).fill(0);
  for (let q = 0; q < nextArrival; q++) {
    const n = qActivities[q] as number;
    queriesByActivities[n] = (queriesByActivities[n] as number) + 1;
  }
  const actions = runActionCounts(queriesByActivities, shape);
  const orchestrationUsd = totalActions(actions) * usdPerAction;
  if (series.cumulativeUsd.length > 0) {
    series.cumulativeUsd[series.cumulativeUsd.length - 1] = vmUsd + serverlessUsd + orchestrationUsd;
  }
  input.onProgress?.(completed, N);
  return {
    policy: policy.name,
    queries: N,
    completed,
    failed: N - completed,
    latencyMs,
    waitMs,
    firstBackend,
    vmUsd,
    serverlessUsd,
    orchestrationUsd,
    actions,
    queriesByActivities,
    vmSeconds,
    peakVms,
    vmBusySlotMs,
    vmSlotMs,
    vmExecutions,
    faasExecutions,
    coldStarts,
    series,
    endMs,
    wallMs: performance.now() - wallStart,
    decisions,
  };
}
