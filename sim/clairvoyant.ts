/**
 * The clairvoyant lower bound on cost for one trace: a provisioner that knows every arrival and every exit in
 * advance, under the same VM boot delay and billing rules, choosing per second how many VMs to have and which of
 * the second's stage executions they run, the rest going to functions. Its VMs may run any stage (the cheapest
 * arrangement: per-stage pools and whole-model VMs are both special cases).
 *
 * Per second t, with n_k executions of stage k (queries arriving in t that reach stage k), each taking w_k slot-ms
 * on a VM (MEAN service: the fluid capacity, the most a VM can do) and costing C_k in a function (warm, mean
 * duration, billed as functions are, the request fee on stage 1 only: a fused invocation runs a query's stages for one
 * fee, at a memory no smaller than each stage's own), v VMs give v × slots × 1000 slot-ms; they run the executions that save the
 * most function cost per slot-ms first (a fractional knapsack), so the second costs
 * c_t(v) = v·P + (function cost of what does not fit). With a launch cost L = bootDelay × P (a VM is billed
 * through its boot, so a clairvoyant launches it that early and pays that):
 *
 *   f_t(v) = c_t(v) + min( min_{u ≥ v} f_{t−1}(u),  min_{u < v} f_{t−1}(u) + (v − u)·L )
 *
 * starting from no VMs; the bound is min_v f_T(v). Scale-in is free and immediate. The dynamic programme is exact
 * for this model in O(T·V·K) (prefix/suffix minima), V = the most VMs any second could use.
 *
 * Why it is a lower bound: a real policy must serve the same executions, pays at least the per-second rate for
 * every VM it keeps (also while booting) and at least C per function execution, cannot know the future, and also
 * pays cold starts, queueing slack and the 60 s minimum, all ignored here. Work shifted across seconds by queueing
 * could in principle beat the per-second fluid model slightly; with SLOs of about a second that effect is small.
 *
 * Orchestration: every query needs at least LEAST_QUERY_ACTIONS Temporal actions (its workflow start, one activity
 * that runs it, the upsert that makes its result findable), whatever runs it, so the bound adds
 * LEAST_QUERY_ACTIONS × queries × the price per action; a policy pays at least that many actions per query.
 */
import { LEAST_QUERY_ACTIONS } from '../billing/actions';
import { ceilTolerant } from '../common/rounding';
import { faasInvocationCostUsd, type Prices } from '../billing/prices';
import type { BoundFigures } from '../eval/report/types';
import type { SimStage } from './engine';
import { meanOf } from './sampler';

/** Above this many (second × VM count) cells the VM/serverless split is not traced back (the total still is). */
export const BOUND_TRACEBACK_MAX_CELLS = 40_000_000;

/** What one stage execution is worth to the bound. */
export interface BoundStage {
  /** Slot-ms of VM time per execution (mean service). */
  slotMs: number;
  /** Cost of the execution in a function, USD. */
  faasUsd: number;
}

export interface BoundResult {
  totalUsd: number;
  vmUsd: number;
  serverlessUsd: number;
  vmSeconds: number;
}

/**
 * The bound for per-second execution counts `counts[k][t]`, VMs of `slots` slots at `vmUsdPerSecond`, launched at
 * `launchUsd` each.
 */
export function boundOf(
  counts: ReadonlyArray<ArrayLike<number>>,
  stages: readonly BoundStage[],
  slots: number,
  vmUsdPerSecond: number,
  launchUsd: number,
): BoundResult {
  const T = counts[0]?.length ?? 0;
  // Stages by function cost saved per slot-ms, best first (the knapsack order).
  const order = stages.map((_, k) => k).sort((a, b) => ratio(stages[b]) - ratio(stages[a]));
  const capacityMs = slots * 1000;
  /** Function cost left when `v` VMs run the best-paying work of second t. */
  const faasLeft = (t: number, v: number): number => {
    let room = v * capacityMs;
    let usd = 0;
    for (const k of order) {
      const s = stages[k] as BoundStage;
      const n = (counts[k] as ArrayLike<number>)[t] as number;
      const fit = s.slotMs > 0 ? Math.min(n, room / s.slotMs) : n;
      room -= fit * s.slotMs;
      usd += (n - fit) * s.faasUsd;
    }
    return usd;
  };
  let V = 0;
  for (let t = 0; t < T; t++) {
    let work = 0;
    stages.forEach((s, k) => (work += ((counts[k] as ArrayLike<number>)[t] as number) * s.slotMs));
    V = Math.max(V, ceilTolerant(work / capacityMs));
  }
  if (V === 0 || T === 0) {
    let usd = 0;
    for (let t = 0; t < T; t++) usd += faasLeft(t, 0);
    return { totalUsd: usd, vmUsd: 0, serverlessUsd: usd, vmSeconds: 0 };
  }
  const from = T * (V + 1) <= BOUND_TRACEBACK_MAX_CELLS ? new Int32Array(T * (V + 1)) : undefined;
  let prev = new Float64Array(V + 1).fill(Infinity);
  prev[0] = 0;
  let next = new Float64Array(V + 1);
  const suffixMin = new Float64Array(V + 2);
  const suffixArg = new Int32Array(V + 2);
  for (let t = 0; t < T; t++) {
    suffixMin[V + 1] = Infinity;
    for (let u = V; u >= 0; u--) {
      const better = (prev[u] as number) < (suffixMin[u + 1] as number);
      suffixMin[u] = better ? (prev[u] as number) : (suffixMin[u + 1] as number);
      suffixArg[u] = better ? u : (suffixArg[u + 1] as number);
    }
    // Best of "grow from a smaller u": min over u < v of prev[u] − u·L, then + v·L.
    let growMin = Infinity;
    let growArg = -1;
    for (let v = 0; v <= V; v++) {
      let best = suffixMin[v] as number;
      let arg = suffixArg[v] as number;
      const grow = growMin + v * launchUsd;
      if (grow < best) {
        best = grow;
        arg = growArg;
      }
      next[v] = best + v * vmUsdPerSecond + faasLeft(t, v);
      if (from) from[t * (V + 1) + v] = arg;
      const g = (prev[v] as number) - v * launchUsd;
      if (g < growMin) {
        growMin = g;
        growArg = v;
      }
    }
    [prev, next] = [next, prev];
  }
  let end = 0;
  for (let v = 1; v <= V; v++) if ((prev[v] as number) < (prev[end] as number)) end = v;
  const totalUsd = prev[end] as number;
  if (!from) return { totalUsd, vmUsd: NaN, serverlessUsd: NaN, vmSeconds: NaN };
  // Trace the optimal VM counts back and split the cost.
  let vmSeconds = 0;
  let serverless = 0;
  let v = end;
  for (let t = T - 1; t >= 0; t--) {
    const u = from[t * (V + 1) + v] as number;
    vmSeconds += v + (v > u ? ((v - u) * launchUsd) / vmUsdPerSecond : 0);
    serverless += faasLeft(t, v);
    v = u;
  }
  return { totalUsd, vmUsd: totalUsd - serverless, serverlessUsd: serverless, vmSeconds };
}

function ratio(s: BoundStage | undefined): number {
  return s && s.slotMs > 0 ? s.faasUsd / s.slotMs : Infinity;
}

/**
 * The bound for a run: per stage, the executions per second from the queries' arrival seconds and exit stages
 * (`exitStage[q]` = the 0-based stage where query q exits; it runs stages 0..exitStage[q]).
 */
export function clairvoyantBound(args: {
  arrivalsMs: Float64Array;
  exitStage: Int8Array;
  durationS: number;
  stages: SimStage[];
  prices: Prices;
  vmPricePerHourUsd: number;
  bootDelayMs: number;
  /** Price of one Temporal action, USD (0: orchestration not billed). */
  usdPerAction: number;
}): BoundFigures {
  const { arrivalsMs, exitStage, stages } = args;
  const T = Math.max(1, Math.ceil(args.durationS));
  const perStage = stages.map(() => new Float64Array(T));
  for (let q = 0; q < arrivalsMs.length; q++) {
    const t = Math.min(T - 1, Math.floor((arrivalsMs[q] as number) / 1000));
    const last = exitStage[q] as number;
    for (let k = 0; k <= last; k++) {
      const counts = perStage[k] as Float64Array;
      counts[t] = (counts[t] as number) + 1;
    }
  }
  const vmUsdPerSecond = args.vmPricePerHourUsd / 3600;
  // Slots per VM: the most any stage's profile gives (a VM runs that many executions at once).
  const slots = Math.max(...stages.map((s) => s.vmSlots));
  const b = boundOf(
    perStage,
    stages.map((s, k) => ({
      slotMs: (meanOf(s.vmService) * slots) / s.vmSlots,
      // Stage fusion lets one invocation run a query's stages for one request fee: the fee is charged to stage 1
      // only (a query whose stage 1 ran on a VM may pay none here, never more than a real plan).
      faasUsd:
        faasInvocationCostUsd({ memoryMb: s.faasMemoryMb, durationMs: meanOf(s.faasService), initMs: 0 }, args.prices) -
        (k > 0 ? args.prices.faasPerRequestUsd : 0),
    })),
    slots,
    vmUsdPerSecond,
    (args.bootDelayMs / 1000) * vmUsdPerSecond,
  );
  const actions = LEAST_QUERY_ACTIONS * arrivalsMs.length;
  const orchestrationUsd = actions * args.usdPerAction;
  return {
    ...b,
    totalUsd: b.totalUsd + orchestrationUsd,
    orchestrationUsd,
    actions,
    assumptions: [
      'knows every arrival and exit in advance; per second it chooses the VM count and which executions run on VMs (any stage on any VM), the rest go to functions',
      'a VM launch costs its boot time at the VM price (billed from launch); scale-in is free and immediate; per-second billing',
      'VM capacity is fluid: slots × 1000 slot-ms per second, an execution taking its mean service time; function executions cost a warm invocation at the mean duration, the request fee paid once per query (stage 1: fused invocations)',
      'ignores cold starts, queueing, hand-offs, the SLO and the minimum billed time (so no policy with the same cloud can pay less)',
      `orchestration: each query costs the least Temporal actions any query can, ${LEAST_QUERY_ACTIONS} (its workflow start, one activity that runs it, the upsert of its result)`,
    ],
  };
}
