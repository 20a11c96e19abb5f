/**
 * SERFLOW's controller (method.md, "SERFLOW's controller"): each stage provisioned on its own from its own
 * arrivals.
 *
 * - Estimation: per stage, an EWMA of the arrival rate (arrivals / window s) and of its deviation (stats.ts).
 * - Sizing, every U and at once on a burst (the latest rate above mean + burstZ · dev of the estimator as it stood
 *   before that sample, Knative's "panic"): `share_k = mean_k + serflowZ · dev_k` (serflowZ 0 by default: VMs for the
 *   steady load, functions for the rest); `floor(share_k / mu_k)` VMs plus one
 *   more only if the remainder is at least T-CIP_k (the extra VM's load would otherwise be cheaper in functions);
 *   0 VMs when share_k < T-CIP_k, or when T-CIP_k > mu_k (a VM can never carry enough load to pay off). Clamped
 *   to [minVms, maxVms].
 * - Hysteresis: up at once (at a re-size), down only after the lower size has been wanted for `scaleDownDelayMs`
 *   (checked every tick), to the highest size wanted meanwhile. A burst only ever scales up.
 * - Routing: vmShare = min(1, ready VMs · mu_k / load) with load = max(EWMA mean, latest rate): while VMs boot,
 *   functions absorb what the ready ones cannot (cold-start hiding). Per query, `overflowAfterMs` sends a VM-routed
 *   execution that has not started within its stage's SLO slack to the function (config.ts `overflowAfterMs`).
 * - Restart safety: a new state starts its targets at the observed pools and, for `scaleDownDelayMs` after its
 *   first tick, never goes below the observed pool size, so a restarted controller cannot scale down on lost
 *   history (we hold the current scale rather than replay old events).
 * - Co-location (serflow-colocation.ts, `colocate`): when one shared pool of whole-model VMs for stages 1..j is
 *   expected to cost no more than a pool per stage (light stages), the stage pools are emptied and the shared pool
 *   (`wholeModelVms`) is sized instead, with the same hysteresis; the plan changes only at a re-size or a burst, and
 *   a pool no longer planned keeps serving its stages until it is scaled in.
 * - Fusion (serflow-fusion.ts, `fuse`): the shared pool's prefix runs as one activity, and a serverless tail that
 *   no VM serves runs as one invocation when that costs less than an activity, a request and an action per stage.
 * - No data: until some stage has seen an arrival, the decision is `{ valid: false, reason: 'no-data' }`.
 *   A zero-length window (the controller's first tick) carries no rate and is not folded into the estimators:
 *   after a restart it may hold the backlog of the whole downtime, which would look like a burst.
 */
import type { CompiledAutoscalerConfig, CompiledStageConfig } from '../config';
import { isBurst } from '../stats';
import {
  buyThreshold,
  emptyForecast,
  forecastOver,
  forecastRecord,
  vmsForDemand,
  type ForecastState,
} from '../forecast';
import type { Observation, Policy, PolicyResult, StageDecision } from '../types';
import {
  bestSharedPlan,
  perStagePlanCostRate,
  serverlessCostRate,
  sharedPlanFor,
  vmUsdPerWallSecond,
  type SharedPlan,
} from './serflow-colocation';
import { fusedRunsFor } from './serflow-fusion';
import { floorTolerant, ROUNDING_TOLERANCE } from '../../common/rounding';
import {
  clamp,
  estimateStage,
  fmt,
  inRestartGuard,
  noData,
  overflowFor,
  poolOf,
  poolSize,
  settleStage,
  stepTarget,
  type DownTimer,
  type EstimatedStageState,
  type StageEstimate,
  stageStatesFor,
  hasSeenLoad,
} from './helpers';

/**
 * Per-stage state: the rate estimator, the target VMs and the scale-down timer (helpers.ts), and the demand
 * forecast the `forecast` sizing uses (autoscaler/forecast.ts; absent until the stage's first rate).
 */
export type SerflowStageState = EstimatedStageState & { forecast?: ForecastState };

/** The shared pool of whole-model VMs (co-location, serflow-colocation.ts). */
export interface SharedPoolState {
  target: number;
  timer: DownTimer;
  /** The plan in force: stages 1..prefix run on it (0: no shared plan). */
  prefix: number;
  /** Stages 1..served are routed to it: the plan's, or the last plan's while the pool waits to scale down. */
  served: number;
}

/** Pool of whole-model VMs in observations and decisions. */
const WHOLE_MODEL_POOL = 0;

export interface SerflowState {
  /** `now` of the first decision of this state (restart guard); undefined before it. */
  startedAt?: number;
  /** `now` of the last periodic re-size (every U); undefined before the first one. */
  lastResizeAt?: number;
  /** Per stage, in stage order; empty until the first decision (targets start at the observed pools). */
  stages: SerflowStageState[];
  /** The shared pool; undefined until it is first considered. */
  shared?: SharedPoolState;
}

/**
 * Whole VMs for a provisioning share (queries/s) at `muPerVm` queries/s per VM and a T-CIP of `tCip` queries/s.
 * Examples with mu 10, T-CIP 2.5: 23 → 2 + 1 (remainder 3 >= 2.5) = 3; 22 → 2 (remainder 2 < 2.5);
 * 2 → 0 (FaaS-only); 2.5 → 0 + 1 = 1; 10 → 1.
 */
export function vmsForShare(share: number, muPerVm: number, tCip: number): { vms: number; why: string } {
  if (tCip > muPerVm) return { vms: 0, why: `T-CIP ${fmt(tCip)} > mu ${fmt(muPerVm)}: functions always cheaper` };
  if (share < tCip) return { vms: 0, why: `share ${fmt(share)} < T-CIP ${fmt(tCip)}: FaaS-only` };
  const whole = floorTolerant(share / muPerVm);
  const rem = share - whole * muPerVm;
  if (rem > ROUNDING_TOLERANCE && rem >= tCip) {
    return { vms: whole + 1, why: `${whole} + 1 (remainder ${fmt(rem)} >= T-CIP ${fmt(tCip)})` };
  }
  return { vms: whole, why: `${whole} (remainder ${fmt(rem)} < T-CIP ${fmt(tCip)} goes to functions)` };
}

/** A stage's VM count from its sizing rule, the share it was sized at, and whether it may go up this tick. */
interface Sizing {
  vms: number;
  share: number;
  upAllowed: boolean;
  why: string;
}

/** method.md's rule: `mean + serflowZ · dev`, up only at a re-size or on a burst. */
function ewmaSizing(s: CompiledStageConfig, estimate: StageEstimate, z: number, upAllowed: boolean): Sizing {
  const { share, est } = estimate;
  const sizing = vmsForShare(share, s.muPerVm, s.tCipWall);
  const why =
    `share ${fmt(share)} q/s (mean ${fmt(est.mean)} + ${fmt(z)}·dev ${fmt(est.dev)}); ` +
    `mu ${fmt(s.muPerVm)} → ${sizing.why}`;
  return { vms: sizing.vms, share, upAllowed, why };
}

/**
 * The forecast rule (autoscaler/forecast.ts): a new VM when the demand forecast over its serving horizon (from its
 * ready time) pays for it and its boot; a held VM kept while the forecast from now pays for it. Checked every tick:
 * the forecast already discounts a burst that will be over before a VM is up.
 */
function forecastSizing(
  s: CompiledStageConfig,
  config: CompiledAutoscalerConfig,
  forecast: ForecastState,
  held: number,
): Sizing {
  const { bootTicks, serveTicks } = config.horizon;
  const ahead = forecastOver(forecast, bootTicks, bootTicks + serveTicks);
  const now = forecastOver(forecast, 0, serveTicks);
  const buyAt = buyThreshold(s.tCipWall, config.bootDelayMs, config.vmServeMs);
  // No VM is bought on less than a boot's worth of history: whether a start in a burst will last is unknown, and
  // functions serve meanwhile at no more than a boot's worth of their price.
  const buy = young(forecast, config) ? 0 : vmsForDemand(ahead.mean, ahead.sd, s.muPerVm, buyAt, s.maxVms);
  const keep = vmsForDemand(now.mean, now.sd, s.muPerVm, s.tCipWall, s.maxVms);
  const vms = buy > held ? buy : Math.min(held, keep);
  const why =
    `forecast ${fmt(ahead.mean)} ± ${fmt(ahead.sd)} q/s from a new VM's ready time (ρ ${fmt(ahead.rho)}), ` +
    `${fmt(now.mean)} from now; buy ${buy} (carry >= ${fmt(buyAt)} q/s each), keep ${keep} (>= ${fmt(s.tCipWall)})`;
  return { vms, share: ahead.mean, upAllowed: true, why };
}

/** Whether a forecaster has seen less than a boot's worth of ticks (forecastSizing buys nothing yet). */
function young(forecast: ForecastState | undefined, config: CompiledAutoscalerConfig): boolean {
  return (forecast?.n ?? 0) < config.horizon.bootTicks;
}

function decideStage(
  s: CompiledStageConfig,
  prev: SerflowStageState,
  observation: Observation,
  config: CompiledAutoscalerConfig,
  resizeDue: boolean,
  guard: boolean,
  now: number,
  /** VMs wanted for the stage's own pool instead of its sizing (0 while the stage runs on the shared pool). */
  wantedOverride?: number,
): {
  decision: StageDecision;
  state: SerflowStageState;
  burst: boolean;
  share: number;
  sizedVms: number;
  load: number;
} {
  const estimate = estimateStage(prev, observation, s, config, config.serflowZ, now);
  const { rate, est } = estimate;
  const burst = rate !== undefined && isBurst(prev.est, rate, config.burstZ);
  const forecast =
    rate === undefined ? prev.forecast : forecastRecord(prev.forecast ?? emptyForecast(), rate, config.forecast);
  const sized =
    config.sizing === 'forecast'
      ? forecastSizing(s, config, forecast ?? emptyForecast(), prev.target)
      : ewmaSizing(s, estimate, config.serflowZ, resizeDue || burst);
  const { share } = sized;
  const wanted = clamp(wantedOverride ?? sized.vms, s.minVms, s.maxVms);
  const settled = settleStage({
    stage: s,
    prev,
    estimate,
    wanted,
    upAllowed: sized.upAllowed,
    guard,
    observation,
    config,
    now,
  });
  const { step, pool, floor, desired, load, vmShare } = settled;
  const notes = [
    sized.why,
    wantedOverride !== undefined ? `own pool ${wanted} (shared pool in use)` : '',
    wantedOverride === undefined && wanted !== sized.vms ? `clamped to ${wanted}` : '',
    `${step.kind}${burst ? ' (burst)' : ''}`,
    desired > step.target ? `held at pool ${floor} (restart guard)` : '',
    `vmShare ${fmt(vmShare)} (ready ${pool.vmsReady} · ${fmt(s.muPerVm)} / load ${fmt(load)})`,
  ];
  return {
    decision: {
      stage: s.stage,
      desiredVms: desired,
      vmShare,
      ...overflowFor(s, desired),
      reason: notes.filter(Boolean).join('; '),
    },
    state: { est, target: desired, timer: step.timer, ...(forecast ? { forecast } : {}) },
    burst,
    share,
    sizedVms: sized.vms,
    load,
  };
}

/** The shared (whole-model) pool's part of a decision: its size, and the VM share of the stages on it. */
function decideShared(
  config: CompiledAutoscalerConfig,
  prev: SharedPoolState,
  plan: SharedPlan | undefined,
  loads: readonly number[],
  observation: Observation,
  upAllowed: boolean,
  guard: boolean,
  now: number,
): { state: SharedPoolState; desired: number; vmShare: number; served: number; note: string } {
  // The shared pool is one pool: bounded like LIBRA's whole-model pool, by the smallest per-stage maximum.
  const wanted = plan ? Math.min(plan.vms, ...config.stages.map((s) => s.maxVms)) : 0;
  const step = stepTarget({
    target: prev.target,
    wanted,
    upAllowed,
    now,
    delayMs: config.scaleDownDelayMs,
    timer: prev.timer,
  });
  const pool = poolOf(observation, WHOLE_MODEL_POOL);
  const desired = Math.max(step.target, guard ? poolSize(pool) : 0);
  const prefix = plan?.prefix ?? 0;
  // The stages the shared VMs run: the plan's, or, while a pool no longer planned waits out its scale-down delay,
  // the ones it was sized for (it is paid for until it goes, so it keeps serving).
  const served = prefix > 0 ? prefix : desired > 0 ? prev.served : 0;
  // Work of those stages in VMs' worth at the current load; the ready VMs take what they can, functions the rest.
  // A shared VM runs a whole query's stages in one slot, so near full use its queue outgrows the overflow wait and
  // every overflow costs one more action than routing there at once: it is filled to `rho` of its work, as LIBRA
  // fills its whole-model VMs.
  const work = config.stages.slice(0, served).reduce((sum, s, k) => sum + (loads[k] ?? 0) / s.muPerVm, 0);
  const usable = Math.min(pool.vmsReady, desired);
  const vmShare = usable <= 0 ? 0 : work > 0 ? Math.min(1, (config.rho * usable) / work) : 1;
  const note = plan
    ? `shared pool for stages 1..${prefix}: ${fmt(plan.work)} VMs' worth → ${wanted} VMs (${step.kind}), ` +
      `$${plan.costRate.toExponential(3)}/s; vmShare ${fmt(vmShare)}`
    : desired > 0
      ? `shared pool no longer planned: ${desired} VMs (${step.kind}) still serve stages 1..${served}, vmShare ${fmt(vmShare)}`
      : 'shared pool: not used';
  return { state: { target: desired, timer: step.timer, prefix, served }, desired, vmShare, served, note };
}

export const serflowPolicy: Policy<CompiledAutoscalerConfig, SerflowState> = {
  name: 'serflow',
  initialState: () => ({ stages: [] }),
  decide(observation, config, state, now): PolicyResult<SerflowState> {
    const startedAt = state.startedAt ?? now;
    const stages: SerflowStageState[] = stageStatesFor(state.stages, config, observation);
    if (!hasSeenLoad(stages, observation)) return { decision: noData(), state: { ...state, startedAt, stages } };

    const resizeDue = state.lastResizeAt === undefined || now - state.lastResizeAt >= config.updateIntervalMs;
    const guard = inRestartGuard(config, startedAt, now);
    const decideAll = (override?: number) =>
      config.stages.map((s, i) =>
        decideStage(s, stages[i] as SerflowStageState, observation, config, resizeDue, guard, now, override),
      );
    let results = decideAll();
    const bursts = results.filter((r) => r.burst).map((r) => r.decision.stage);

    // Co-location: one shared pool for a prefix of stages when that is cheaper than a pool each. The plan may
    // change only when sizing may go up (every U, or on a burst), like the pools themselves.
    const prevShared = state.shared ?? {
      target: poolSize(poolOf(observation, WHOLE_MODEL_POOL)),
      timer: {},
      prefix: 0,
      served: 0,
    };
    let plan: SharedPlan | undefined;
    const shares = results.map((r) => r.share);
    // Per-stage pools are priced at the plain VM price: their own sizing already charged a new VM its boot.
    const perStage = perStagePlanCostRate(
      config,
      shares,
      results.map((r) => r.sizedVms),
      vmUsdPerWallSecond(config),
    );
    const serverless = serverlessCostRate(config, shares);
    // Per-stage VMs that the whole bill says cost more than running everything serverless are not wanted: a stage's
    // own VM saves its executions' fees but splits the serverless run around it (one more action and request fee
    // per query for the stages after it).
    const perStageWorse = results.some((r) => r.sizedVms > 0) && perStage >= serverless;
    if (config.colocate) {
      // With the forecast rule, a shared pool not yet paid for must also pay for its first VM's boot (forecast.ts).
      const buying = config.sizing === 'forecast' && prevShared.target === 0;
      const vmUsd = vmUsdPerWallSecond(config) * (buying ? buyThreshold(1, config.bootDelayMs, config.vmServeMs) : 1);
      const best = bestSharedPlan(config, shares, vmUsd);
      // On a tie the shared pool wins: it covers the deeper stages too as their load grows.
      // As for a stage's own pool, a shared pool is not bought on less than a boot's worth of history.
      const tooEarly = buying && stages.some((st) => young(st.forecast, config));
      const wantShared =
        !tooEarly && best !== undefined && best.vms > 0 && best.costRate <= perStage && best.costRate < serverless;
      const mayChange = resizeDue || bursts.length > 0;
      const prefix = mayChange ? (wantShared ? best.prefix : 0) : prevShared.prefix;
      plan = prefix > 0 ? sharedPlanFor(config, shares, vmUsd, prefix) : undefined;
    }
    if (plan || perStageWorse) results = decideAll(0);
    const shared = decideShared(
      config,
      prevShared,
      plan,
      results.map((r) => r.load),
      observation,
      resizeDue || bursts.length > 0,
      guard,
      now,
    );
    const stageDecisions = results.map((r, k) => {
      if (k >= shared.served || shared.vmShare <= r.decision.vmShare) return r.decision;
      const s = config.stages[k] as CompiledStageConfig;
      return {
        ...r.decision,
        vmShare: shared.vmShare,
        ...overflowFor(s, shared.desired),
        reason: `${r.decision.reason}; ${shared.note}`,
      };
    });
    // The stages' mix is weighed by the profile's reach probabilities, not the windows' counts: deep stages' counts
    // lag stage 1's after a start and are noisy at low rates, and a flip between fused and unfused plans costs
    // cold starts of the other functions (a simulated start on Azure showed both). For the same reason the
    // boundaries follow READY capacity: while bought VMs boot, every query still runs on functions, so the
    // functions already warm stay in force (a new run boundary then would send the whole load through cold
    // instances of other functions: judged on bursty traces, that was most of SERFLOW's SLO misses). A shared pool
    // waiting out its scale-down delay still runs its stages as one activity.
    const fused = config.fuse ? fusedRunsFor(config, stageDecisions, [], shared.vmShare > 0 ? shared.served : 0) : [];
    const why = [
      resizeDue ? 're-size (every U)' : 'between re-sizes',
      bursts.length ? `burst at stage ${bursts.join(', ')}` : '',
      guard ? 'restart guard' : '',
      plan || shared.desired > 0 ? shared.note : '',
      fused.length ? `fused ${fused.map((r) => `${r.first}-${r.last}`).join(', ')}` : '',
    ];
    return {
      decision: {
        valid: true,
        ...(config.colocate ? { wholeModelVms: shared.desired } : {}),
        ...(fused.length ? { fused } : {}),
        stages: stageDecisions,
        reason: why.filter(Boolean).join('; '),
      },
      state: {
        startedAt,
        lastResizeAt: resizeDue ? now : state.lastResizeAt,
        stages: results.map((r) => r.state),
        ...(config.colocate ? { shared: shared.state } : {}),
      },
    };
  },
};
