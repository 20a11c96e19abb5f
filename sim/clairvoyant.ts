/**
 * The clairvoyant lower bound on cost for one trace: a provisioner that knows every arrival and every exit in
 * advance, under the same VM boot delay and billing rules, choosing per stage and per second how many VMs to have
 * and sending the rest of the second's executions to functions.
 *
 * Per stage k, with n_t executions of stage k in second t (queries arriving in t that reach stage k), a VM serving
 * `cap` executions per second (slots × 1000 / MEAN service ms: the fluid capacity, the most a VM can do), a VM
 * price of P per second, a function execution cost C (warm, mean duration, billed as functions are) and a launch
 * cost L = bootDelay × P (a VM is billed through its boot, so a clairvoyant launches it that early and pays that):
 *
 *   f_t(v) = v·P + max(0, n_t − v·cap)·C + min( min_{u ≥ v} f_{t−1}(u),  min_{u < v} f_{t−1}(u) + (v − u)·L )
 *
 * starting from no VMs; the bound is Σ_k min_v f_T(v). Scale-in is free and immediate. The dynamic programme is
 * exact for this model in O(T·V) per stage (prefix/suffix minima), V = the most VMs any second could use.
 *
 * Why it is a lower bound: a real policy must serve the same executions, pays at least the per-second rate for
 * every VM it keeps (also while booting) and at least C per function execution, cannot know the future, and also
 * pays cold starts, queueing slack and the 60 s minimum, all ignored here. Work shifted across seconds by queueing
 * could in principle beat the per-second fluid model slightly; with SLOs of about a second that effect is small.
 */
import { faasInvocationCostUsd, type Prices } from '../billing/prices';
import type { BoundFigures } from '../eval/report/types';
import type { SimStage } from './engine';
import { meanOf } from './sampler';

/** Above this many (second × VM count) cells the VM/serverless split is not traced back (the total still is). */
export const BOUND_TRACEBACK_MAX_CELLS = 40_000_000;

export interface StageBound {
  totalUsd: number;
  vmUsd: number;
  serverlessUsd: number;
  vmSeconds: number;
}

/**
 * The bound for one stage: `counts[t]` executions in second t, `cap` per VM-second, `vmUsdPerSecond`,
 * `faasUsd` per execution, `launchUsd` per VM launch.
 */
export function stageBound(
  counts: ArrayLike<number>,
  cap: number,
  vmUsdPerSecond: number,
  faasUsd: number,
  launchUsd: number,
): StageBound {
  const T = counts.length;
  let peak = 0;
  for (let t = 0; t < T; t++) peak = Math.max(peak, counts[t] as number);
  const V = Number.isFinite(cap) && cap > 0 ? Math.ceil(peak / cap) : 0;
  const secondCost = (n: number, v: number) => v * vmUsdPerSecond + Math.max(0, n - v * cap) * faasUsd;
  if (V === 0 || T === 0) {
    let serverless = 0;
    for (let t = 0; t < T; t++) serverless += (counts[t] as number) * faasUsd;
    return { totalUsd: serverless, vmUsd: 0, serverlessUsd: serverless, vmSeconds: 0 };
  }
  const traceback = T * (V + 1) <= BOUND_TRACEBACK_MAX_CELLS;
  const from = traceback ? new Int32Array(T * (V + 1)) : undefined;
  let prev = new Float64Array(V + 1).fill(Infinity);
  prev[0] = 0;
  let next = new Float64Array(V + 1);
  const suffixMin = new Float64Array(V + 2);
  const suffixArg = new Int32Array(V + 2);
  for (let t = 0; t < T; t++) {
    const n = counts[t] as number;
    suffixMin[V + 1] = Infinity;
    for (let u = V; u >= 0; u--) {
      const better = (prev[u] as number) < (suffixMin[u + 1] as number);
      suffixMin[u] = better ? (prev[u] as number) : (suffixMin[u + 1] as number);
      suffixArg[u] = better ? u : (suffixArg[u + 1] as number);
    }
    // Best of "grow from a smaller u": min over u < v of prev[u] − u·L, + v·L.
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
      next[v] = best + secondCost(n, v);
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
  let launches = 0;
  let serverless = 0;
  let v = end;
  for (let t = T - 1; t >= 0; t--) {
    const u = from[t * (V + 1) + v] as number;
    vmSeconds += v;
    serverless += Math.max(0, (counts[t] as number) - v * cap) * faasUsd;
    if (v > u) launches += v - u;
    v = u;
  }
  const vmUsd = totalUsd - serverless;
  return { totalUsd, vmUsd, serverlessUsd: serverless, vmSeconds: vmSeconds + (launchUsd / vmUsdPerSecond) * launches };
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
  const launchUsd = (args.bootDelayMs / 1000) * vmUsdPerSecond;
  const bounds = stages.map((s, k) => {
    const meanVm = meanOf(s.vmService);
    const cap = meanVm > 0 ? (s.vmSlots * 1000) / meanVm : Infinity;
    const faasUsd = faasInvocationCostUsd(
      { memoryMb: s.faasMemoryMb, durationMs: meanOf(s.faasService), initMs: 0 },
      args.prices,
    );
    return stageBound(perStage[k] as Float64Array, cap, vmUsdPerSecond, faasUsd, launchUsd);
  });
  const sum = (f: (b: StageBound) => number) => bounds.reduce((s, b) => s + f(b), 0);
  return {
    totalUsd: sum((b) => b.totalUsd),
    vmUsd: sum((b) => b.vmUsd),
    serverlessUsd: sum((b) => b.serverlessUsd),
    vmSeconds: sum((b) => b.vmSeconds),
    assumptions: [
      'knows every arrival and exit in advance; per stage and per second it chooses the VM count, the rest of the second goes to functions',
      'a VM launch costs its boot time at the VM price (billed from launch); scale-in is free and immediate; per-second billing',
      'VM capacity is fluid: slots × 1000 / mean service ms executions per second; function executions cost a warm invocation at the mean duration',
      'ignores cold starts, queueing, hand-offs, the SLO and the minimum billed time (so no real policy can pay less)',
    ],
  };
}
