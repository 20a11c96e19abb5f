/**
 * Configuration of the autoscaler's policies: the user-facing `AutoscalerConfigInput` (every field optional, each
 * default a named `DEFAULT_*` constant explained below), and `compileAutoscalerConfig`, which validates it once
 * with field-named errors and derives, per stage from the profile and the prices, what the policies compute with
 * (VM capacity, function cost, T-CIP, SLO budget). Pure: no clock, no I/O.
 *
 * Units (as autoscaler/service.ts runs the policies). Durations are cloud ms, like `vm.bootDelayMs`, and so is the
 * policies' `now` (wall time since start × `timeScale`), so U, delays and boot keep their cloud meaning. Rates are
 * real: `Observation.windowMs` is wall time, so rates are queries per wall second, and service times are measured
 * (never scaled), so VM capacities are per wall second too. `sloMs` is an end-to-end latency as measured.
 * The one place the two meet is T-CIP: see `CompiledStageConfig.tCipWall`.
 */
import { z } from 'zod';
import { faasInvocationCostUsd, tCipPerSecond, UnknownInstanceTypeError, vmPricePerHourUsd } from '../billing/prices';
import type { SerflowConfig } from '../common/config';
import { formatIssues } from '../common/zod-issues';
import { ConfigError } from '../common/errors';
import { DEVIATION_KINDS, type DeviationKind } from './stats';
import { POLICY_NAMES, type PolicyName, type StageProfile } from './types';

/** SERFLOW's VM sizing rules (DEFAULT_SERFLOW_SIZING). */
export type SerflowSizing = 'forecast' | 'ewma';
export const SERFLOW_SIZINGS: readonly SerflowSizing[] = ['forecast', 'ewma'];

/** Policy run unless configured: SERFLOW's per-stage controller. */
export const DEFAULT_POLICY: PolicyName = 'serflow';
/** One decision per epoch of 1 s, LIBRA's epoch (cloud ms). */
export const DEFAULT_TICK_MS = 1_000;
/** U: LIBRA re-sizes every 300 s (cloud ms); SERFLOW re-sizes on the same cadence and sooner on a burst. */
export const DEFAULT_UPDATE_INTERVAL_MS = 300_000;
/** EWMA weight of the newest sample in the mean: LIBRA's alpha. */
export const DEFAULT_ALPHA = 0.2;
/** EWMA weight of the newest sample in the deviation: LIBRA's mu. */
export const DEFAULT_MU = 0.2;
/** Deviations above the mean provisioned for: LIBRA's `vm_share = int(mean + 1 · dev)` (also Spock's). */
export const DEFAULT_Z = 1;
/**
 * Deviations above the mean SERFLOW provisions VMs for: 0, the mean. method.md's principle is "steady load on VMs,
 * bursts on functions": functions absorb the deviation at their per-call price, while VMs sized for mean + dev
 * idle through the troughs. In the simulator (heavy profile, WITS, SLO 280 ms) z = 0 cost 6.49 $ at 99.5 % SLO
 * attainment against 8.17 $ at 99.8 % with z = 1 (bench/results/); set 1 to provision like LIBRA.
 */
export const DEFAULT_SERFLOW_Z = 0;
/**
 * How SERFLOW sizes a stage's VMs:
 * - `forecast` (default): from the forecast demand over the horizon a new VM would serve (its ready time until it
 *   may be let go), VM by VM while each pays for itself, a new one also for its boot (autoscaler/forecast.ts): a
 *   burst buys VMs only when it is expected to outlast the boot;
 * - `ewma`: method.md's rule, `mean + serflowZ · dev` of the EWMA, kept for comparison.
 */
export const DEFAULT_SERFLOW_SIZING: SerflowSizing = 'forecast';
/**
 * Time constant of the forecast's level (cloud ms): slow against bursts of seconds to minutes, which the AR(1)
 * deviation carries and lets decay, fast enough to follow a diurnal swing within the hour.
 */
export const DEFAULT_FORECAST_LEVEL_MS = 600_000;
/** Time constant of the forecast's variance and persistence (cloud ms): about one VM horizon (scale-down delay). */
export const DEFAULT_FORECAST_MOMENT_MS = 300_000;
/** LIBRA's deviation (EW mean absolute deviation with the old mean); 'ewstd' is the true EW std. */
export const DEFAULT_DEVIATION: DeviationKind = 'libra';
/**
 * LIBRA's routing share: the VM quota is int(0.8 · vm_share) queries per epoch. SERFLOW fills its shared whole-model
 * VMs to the same share of their capacity (a VM near full use queues past the overflow wait).
 */
export const DEFAULT_RHO = 0.8;
/**
 * SERFLOW and Spock scale a pool down only after the lower size has been wanted this long (cloud ms). Equal to U,
 * so a pool shrinks no faster than LIBRA re-sizes; far above the 100 s VM boot, so a VM is not released just
 * before the load comes back (a relaunch pays 100 s of billed boot and the 60 s minimum again).
 */
export const DEFAULT_SCALE_DOWN_DELAY_MS = 300_000;
/**
 * End-to-end latency SLO per query, ms (measured, not scaled). One second is an interactive budget: the default
 * model's stages take milliseconds on a VM, which leaves room for hand-offs and an overflow to a warm function.
 */
export const DEFAULT_SLO_MS = 1_000;
/**
 * SERFLOW may run a prefix of stages on one shared pool of whole-model VMs when that is cheaper than a pool per
 * stage (serflow-colocation.ts): with light stages a VM per stage idles while every function call pays a fee.
 */
export const DEFAULT_COLOCATE = true;
/**
 * SERFLOW fuses runs of stages on the same capacity into one activity (serflow-fusion.ts): the shared pool's
 * prefix always, and a serverless tail where one invocation at the run's largest memory costs less than an
 * activity, a request and an action per stage. Off: every stage is its own activity (the per-stage design).
 */
export const DEFAULT_FUSE = true;
/** VMs per stage pool at least (0: a stage may be serverless-only). */
export const DEFAULT_MIN_VMS = 0;
/**
 * VMs per stage pool at most. The local stack runs one process per VM; 8 per stage (32 for the default 4-stage
 * model) is what a developer machine runs comfortably. Raise it for a real cloud.
 */
export const DEFAULT_MAX_VMS = 8;
/** LIBRA's AUTO: average utilisation above 70 % adds VMs... */
export const DEFAULT_VM_AUTO_UP_UTILISATION = 0.7;
/** ...below 30 % removes VMs... */
export const DEFAULT_VM_AUTO_DOWN_UTILISATION = 0.3;
/** ...10 at a time... */
export const DEFAULT_VM_AUTO_STEP_VMS = 10;
/** ...and not within 120 s (cloud ms) of the start or of its previous change (longer than the 100 s boot). */
export const DEFAULT_VM_AUTO_GRACE_MS = 120_000;
/** Utilisation is averaged over the last 60 s (cloud ms) of epochs. method.md does not say; our choice. */
export const DEFAULT_VM_AUTO_WINDOW_MS = 60_000;

/**
 * How vm-auto averages utilisation. 'window': the mean over the last `windowMs`, with `graceMs` between changes
 * (our reading of method.md). 'libra-ic2e': LIBRA's code as it is — once more than 120 samples exist, the sum of
 * the last 300 divided by 120 is compared with the thresholds, then the history is cleared.
 */
export type VmAutoEstimator = 'window' | 'libra-ic2e';
export const VM_AUTO_ESTIMATORS: readonly VmAutoEstimator[] = ['window', 'libra-ic2e'];
export const DEFAULT_VM_AUTO_ESTIMATOR: VmAutoEstimator = 'window';
/** LIBRA's code: decide once more than this many samples exist... */
export const LIBRA_IC2E_VM_AUTO_MIN_SAMPLES = 120;
/** ...summing the last this many... */
export const LIBRA_IC2E_VM_AUTO_SUM_SAMPLES = 300;
/** ...divided by this (a quirk of the code, kept as is). */
export const LIBRA_IC2E_VM_AUTO_DIVISOR = 120;

/** LIBRA's setup in the IC2E 2021 paper (not our live defaults; see LIBRA_IC2E_PRESET). */
export const LIBRA_IC2E_MIN_VMS = 10;
export const LIBRA_IC2E_MAX_VMS = 292;
/** m4.large with 8 GiB serving 0.5 GiB, 1 s requests: 16 requests/s per VM. */
export const LIBRA_IC2E_PER_VM_CAPACITY = 16;
/** The autoscaler section that reproduces LIBRA's own setup (min 10 / max 292 VMs, 16 req/s per VM). */
export const LIBRA_IC2E_PRESET: AutoscalerConfigInput = {
  policy: 'libra',
  minVms: LIBRA_IC2E_MIN_VMS,
  maxVms: LIBRA_IC2E_MAX_VMS,
  libra: { perVmCapacity: LIBRA_IC2E_PER_VM_CAPACITY },
};

/** The `autoscaler` configuration section as written by a user. Every field is optional. */
export interface AutoscalerConfigInput {
  /** Policy the controller runs. @default 'serflow' */
  policy?: PolicyName;
  /** Epoch: one decision per tick, cloud ms. @default 1000 */
  tickMs?: number;
  /** U: periodic re-size interval, cloud ms; must be >= tickMs. @default 300000 */
  updateIntervalMs?: number;
  /** EWMA weight of the newest sample in the mean, in (0, 1]. @default 0.2 */
  alpha?: number;
  /** EWMA weight of the newest sample in the deviation, in (0, 1]. @default 0.2 */
  mu?: number;
  /** Deviations above the mean provisioned for (share = mean + z · dev) by LIBRA and Spock, >= 0. @default 1 */
  z?: number;
  /** The same for SERFLOW's VM sizing, >= 0. @default 0 (the mean; functions take the deviation) */
  serflowZ?: number;
  /**
   * SERFLOW's burst ("panic") trigger: a sample above mean + burstZ · dev re-sizes at once (up only), >= 0.
   * @default the value of `z`
   */
  burstZ?: number;
  /** Which deviation the estimators keep. @default 'libra' */
  deviation?: DeviationKind;
  /** LIBRA's routing share of vm_share, in (0, 1]. @default 0.8 */
  rho?: number;
  /** SERFLOW: allow a shared pool of whole-model VMs for a prefix of stages. @default true */
  colocate?: boolean;
  /** SERFLOW: fuse runs of stages into one activity where that is cheaper (serflow-fusion.ts). @default true */
  fuse?: boolean;
  /** SERFLOW/Spock: scale down only after the lower size has been wanted this long, cloud ms, >= 0. @default 300000 */
  scaleDownDelayMs?: number;
  /** End-to-end latency SLO per query, ms (measured), > 0; split over stages for the overflow budget. @default 1000 */
  sloMs?: number;
  /** VMs per stage at least: one number for every stage, or one per stage. @default 0 */
  minVms?: number | number[];
  /** VMs per stage at most: one number for every stage, or one per stage; >= minVms. @default 8 */
  maxVms?: number | number[];
  /** vm-auto (LIBRA's AUTO) thresholds. */
  vmAuto?: {
    /** Average utilisation above which `stepVms` are added, in (0, 1]. @default 0.7 */
    upUtilisation?: number;
    /** Average utilisation below which `stepVms` are removed, in [0, upUtilisation). @default 0.3 */
    downUtilisation?: number;
    /** VMs added or removed per change, integer >= 1. @default 10 */
    stepVms?: number;
    /** No change within this long of the start or of the previous change, cloud ms, >= 0. @default 120000 */
    graceMs?: number;
    /** Utilisation averaged over this long, cloud ms, > 0. @default 60000 */
    windowMs?: number;
    /** How utilisation is averaged (see VmAutoEstimator). @default 'window' */
    estimator?: VmAutoEstimator;
  };
  /** vm-max: the peak queries/s the static pools are sized for; required when `policy` is 'vm-max'. */
  peakRate?: number;
  libra?: {
    /**
     * Queries/s one whole-model VM serves. @default derived from the profile:
     * 1000 × min over stages of vmSlots / (sum over stages of mean VM service ms) — LIBRA's uniform-runtime view
     * (every query runs the whole model, at its mean time). LIBRA's own setup: 16.
     */
    perVmCapacity?: number;
  };
}

const count = z.union([z.number(), z.array(z.number())]);

/** Shape and types of the section (ranges are checked after, with messages naming the value). */
export const autoscalerConfigSchema = z.strictObject({
  policy: z.enum(POLICY_NAMES as [PolicyName, ...PolicyName[]]).default(DEFAULT_POLICY),
  tickMs: z.number().default(DEFAULT_TICK_MS),
  updateIntervalMs: z.number().default(DEFAULT_UPDATE_INTERVAL_MS),
  alpha: z.number().default(DEFAULT_ALPHA),
  mu: z.number().default(DEFAULT_MU),
  z: z.number().default(DEFAULT_Z),
  serflowZ: z.number().default(DEFAULT_SERFLOW_Z),
  sizing: z.enum(SERFLOW_SIZINGS as [SerflowSizing, ...SerflowSizing[]]).default(DEFAULT_SERFLOW_SIZING),
  forecastLevelMs: z.number().default(DEFAULT_FORECAST_LEVEL_MS),
  forecastMomentMs: z.number().default(DEFAULT_FORECAST_MOMENT_MS),
  burstZ: z.number().optional(),
  deviation: z.enum(DEVIATION_KINDS as [DeviationKind, ...DeviationKind[]]).default(DEFAULT_DEVIATION),
  rho: z.number().default(DEFAULT_RHO),
  scaleDownDelayMs: z.number().default(DEFAULT_SCALE_DOWN_DELAY_MS),
  colocate: z.boolean().default(DEFAULT_COLOCATE),
  fuse: z.boolean().default(DEFAULT_FUSE),
  sloMs: z.number().default(DEFAULT_SLO_MS),
  minVms: count.default(DEFAULT_MIN_VMS),
  maxVms: count.default(DEFAULT_MAX_VMS),
  vmAuto: z
    .strictObject({
      upUtilisation: z.number().default(DEFAULT_VM_AUTO_UP_UTILISATION),
      downUtilisation: z.number().default(DEFAULT_VM_AUTO_DOWN_UTILISATION),
      stepVms: z.number().default(DEFAULT_VM_AUTO_STEP_VMS),
      graceMs: z.number().default(DEFAULT_VM_AUTO_GRACE_MS),
      windowMs: z.number().default(DEFAULT_VM_AUTO_WINDOW_MS),
      estimator: z
        .enum(VM_AUTO_ESTIMATORS as [VmAutoEstimator, ...VmAutoEstimator[]])
        .default(DEFAULT_VM_AUTO_ESTIMATOR),
    })
    .prefault({}),
  peakRate: z.number().optional(),
  libra: z.strictObject({ perVmCapacity: z.number().optional() }).prefault({}),
});

// The documented interface and the schema must accept the same input.
const inputFits: (x: z.input<typeof autoscalerConfigSchema>) => AutoscalerConfigInput = (x) => x;
const schemaFits: (x: AutoscalerConfigInput) => z.input<typeof autoscalerConfigSchema> = (x) => x;
void inputFits;
void schemaFits;

/** What the policies use of one stage, derived from the profile, the prices and the section. */
export interface CompiledStageConfig {
  stage: number;
  minVms: number;
  maxVms: number;
  /** Reach probability p_k from the profile (vm-max sizes with it). */
  reachProbability: number;
  /** Profiled VM service time, ms: p95 (capacity, SLO split) and mean (LIBRA's uniform runtime). */
  vmServiceP95Ms: number;
  vmServiceMeanMs: number;
  vmSlots: number;
  /**
   * mu_k: queries/s one VM sustains within budget = vmSlots × 1000 / p95 service ms. Tail-aware on purpose
   * (method.md: from the p95, not the mean): a VM sized on the mean would queue a twentieth of its executions.
   */
  muPerVm: number;
  faasMemoryMb: number;
  faasServiceP95Ms: number;
  /** C_F,k: one warm invocation at the profiled memory and mean duration, USD (billing/prices.ts). */
  faasCostPerInvocationUsd: number;
  /** The request fee in C_F,k (the rest is duration × memory, which scales with the memory it runs at). */
  faasRequestUsd: number;
  /** Price of one VM, USD per (cloud) hour. */
  vmPricePerHourUsd: number;
  /** T-CIP_k = (P_VM / 3600) / C_F,k, queries per cloud second (billing/prices.ts `tCipPerSecond`). */
  tCip: number;
  /**
   * T-CIP in the policies' units, queries per wall second: `tCip × timeScale`. A VM living one wall second is
   * billed timeScale cloud seconds, while an invocation is billed its measured duration, so the break-even
   * observed rate is timeScale times higher. Equal to `tCip` at timeScale 1.
   */
  tCipWall: number;
  /**
   * This stage's share of the SLO: sloMs × p95_k / sum of p95s. Our choice: the budget is split in proportion to
   * each stage's p95 VM service time, so every stage gets the same slack relative to its own tail.
   */
  sloBudgetMs: number;
  /** Per-query load balancing: a VM-routed execution not started within max(1, sloBudgetMs − p95) ms overflows. */
  overflowAfterMs: number;
}

/** The validated section, with every default filled in and per-stage derivations. Durations in cloud ms. */
export interface CompiledAutoscalerConfig {
  policy: PolicyName;
  tickMs: number;
  updateIntervalMs: number;
  alpha: number;
  mu: number;
  z: number;
  serflowZ: number;
  sizing: SerflowSizing;
  /** Forecast weights per tick: tickMs over the time constants (capped at 1). */
  forecast: { levelWeight: number; momentWeight: number };
  /** Ticks from a VM's launch to its ready time, and ticks it then serves at least (autoscaler/forecast.ts). */
  horizon: { bootTicks: number; serveTicks: number };
  /** Cloud ms a new VM serves at least: the scale-down delay, or the rest of its minimum billed time if longer. */
  vmServeMs: number;
  burstZ: number;
  deviation: DeviationKind;
  rho: number;
  scaleDownDelayMs: number;
  colocate: boolean;
  fuse: boolean;
  /** USD per Temporal action (AutoscalerGlobals `usdPerAction`). */
  usdPerAction: number;
  sloMs: number;
  /** VM cold start (launch to serving), cloud ms: `vm.bootDelayMs`. */
  bootDelayMs: number;
  timeScale: number;
  vmAuto: {
    upUtilisation: number;
    downUtilisation: number;
    stepVms: number;
    graceMs: number;
    windowMs: number;
    estimator: VmAutoEstimator;
  };
  peakRate?: number;
  libra: {
    /** Queries/s one whole-model VM serves. */
    perVmCapacity: number;
    /** 'config' when set, 'profile' when derived (see AutoscalerConfigInput.libra.perVmCapacity). */
    perVmCapacitySource: 'config' | 'profile';
  };
  stages: CompiledStageConfig[];
}

/** The parts of the global configuration the compilation needs. */
export type AutoscalerGlobals = Pick<SerflowConfig, 'prices' | 'vm' | 'faas' | 'timeScale'> & {
  /**
   * USD per Temporal action (billing/orchestration-pricing.ts `resolveOrchestration`): the price the policies weigh
   * when a choice changes how many activities a query starts (stage fusion). Resolved by the caller, since the
   * self-hosted price is read from the overhead benchmark's results; 0 when orchestration is not billed.
   */
  usdPerAction: number;
};

const P = 'autoscaler.';

/** Collects field-named problems so that one error reports all of them. */
class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    this.list.push(message);
  }
  /** value in (0, 1] */
  unitInterval(field: string, v: number): void {
    if (!(v > 0 && v <= 1)) this.add(`${field}: ${v} must be in (0, 1]`);
  }
  positive(field: string, v: number): void {
    if (!(v > 0)) this.add(`${field}: ${v} must be > 0`);
  }
  nonNegative(field: string, v: number): void {
    if (!(v >= 0)) this.add(`${field}: ${v} must be >= 0`);
  }
  count(field: string, v: number, min = 0): void {
    if (!(Number.isInteger(v) && v >= min)) this.add(`${field}: ${v} must be an integer >= ${min}`);
  }
}

/** Expand a per-stage count (one number or one per stage) to K values; records problems. */
function perStage(field: string, v: number | number[], stages: number, problems: Problems): number[] {
  const values = Array.isArray(v) ? v : Array<number>(stages).fill(v);
  if (values.length !== stages) {
    problems.add(`${field}: ${values.length} values for a ${stages}-stage model (give one number or ${stages})`);
    return Array<number>(stages).fill(0);
  }
  values.forEach((x, i) => problems.count(Array.isArray(v) ? `${field}[${i}]` : field, x));
  return values;
}

function checkProfile(profile: StageProfile[], problems: Problems): void {
  if (profile.length === 0) problems.add('profile: no stages');
  profile.forEach((s, i) => {
    const f = `profile[${i}]`;
    if (s.stage !== i + 1) problems.add(`${f}.stage: ${s.stage} must be ${i + 1} (stages in order from 1)`);
    problems.positive(`${f}.vmServiceMs.p95`, s.vmServiceMs.p95);
    problems.positive(`${f}.vmServiceMs.mean`, s.vmServiceMs.mean);
    problems.count(`${f}.vmSlots`, s.vmSlots, 1);
    problems.positive(`${f}.faasMemoryMb`, s.faasMemoryMb);
    problems.nonNegative(`${f}.faasServiceMs.p95`, s.faasServiceMs.p95);
    if (!(s.reachProbability >= 0 && s.reachProbability <= 1)) {
      problems.add(`${f}.reachProbability: ${s.reachProbability} must be in [0, 1]`);
    }
  });
}

/**
 * Validate the `autoscaler` section `raw` (undefined = all defaults) against the global configuration and the
 * model's profile, and derive what the policies need. Throws ConfigError naming every bad field, e.g.
 * `autoscaler.alpha: 1.5 must be in (0, 1]`.
 */
export function compileAutoscalerConfig(
  raw: unknown,
  globals: AutoscalerGlobals,
  profile: StageProfile[],
): CompiledAutoscalerConfig {
  const parsed = autoscalerConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(`invalid autoscaler config: ${formatIssues(parsed.error, raw ?? {}, P)}`);
  const c = parsed.data;
  const problems = new Problems();
  const stages = profile.length;

  problems.positive(`${P}tickMs`, c.tickMs);
  if (!(c.updateIntervalMs >= c.tickMs)) {
    problems.add(`${P}updateIntervalMs: ${c.updateIntervalMs} must be >= tickMs (${c.tickMs})`);
  }
  problems.unitInterval(`${P}alpha`, c.alpha);
  problems.unitInterval(`${P}mu`, c.mu);
  problems.nonNegative(`${P}z`, c.z);
  problems.nonNegative(`${P}serflowZ`, c.serflowZ);
  problems.positive(`${P}forecastLevelMs`, c.forecastLevelMs);
  problems.positive(`${P}forecastMomentMs`, c.forecastMomentMs);
  if (c.burstZ !== undefined) problems.nonNegative(`${P}burstZ`, c.burstZ);
  problems.unitInterval(`${P}rho`, c.rho);
  problems.nonNegative(`${P}scaleDownDelayMs`, c.scaleDownDelayMs);
  problems.positive(`${P}sloMs`, c.sloMs);
  const minVms = perStage(`${P}minVms`, c.minVms, stages, problems);
  const maxVms = perStage(`${P}maxVms`, c.maxVms, stages, problems);
  minVms.forEach((lo, i) => {
    const hi = maxVms[i] ?? 0;
    if (lo > hi) problems.add(`${P}minVms: ${lo} for stage ${i + 1} must be <= maxVms (${hi})`);
  });
  const a = c.vmAuto;
  problems.unitInterval(`${P}vmAuto.upUtilisation`, a.upUtilisation);
  if (!(a.downUtilisation >= 0 && a.downUtilisation < a.upUtilisation)) {
    problems.add(`${P}vmAuto.downUtilisation: ${a.downUtilisation} must be in [0, upUtilisation (${a.upUtilisation}))`);
  }
  problems.count(`${P}vmAuto.stepVms`, a.stepVms, 1);
  problems.nonNegative(`${P}vmAuto.graceMs`, a.graceMs);
  problems.positive(`${P}vmAuto.windowMs`, a.windowMs);
  if (c.peakRate !== undefined) problems.positive(`${P}peakRate`, c.peakRate);
  else if (c.policy === 'vm-max') problems.add(`${P}peakRate: required by policy 'vm-max' (queries/s at peak)`);
  if (c.libra.perVmCapacity !== undefined) problems.positive(`${P}libra.perVmCapacity`, c.libra.perVmCapacity);
  checkProfile(profile, problems);
  problems.nonNegative('orchestration (USD per action)', globals.usdPerAction);

  let vmPrice = 0;
  try {
    vmPrice = vmPricePerHourUsd(globals.vm.instanceType, globals.prices);
  } catch (err) {
    if (!(err instanceof UnknownInstanceTypeError)) throw err;
    problems.add(`vm.instanceType: ${err.message}`);
  }
  if (problems.list.length) throw new ConfigError(`invalid autoscaler config: ${problems.list.join('; ')}`);

  const { timeScale } = globals;
  // A new VM serves at least until it may be let go (the scale-down delay), or through the rest of its minimum
  // billed time when that is longer (it is paid for anyway).
  const vmServeMs = Math.max(c.scaleDownDelayMs, globals.prices.vmMinBilledSeconds * 1000 - globals.vm.bootDelayMs);
  const p95Sum = profile.reduce((s, p) => s + p.vmServiceMs.p95, 0);
  const compiledStages = profile.map((p, i): CompiledStageConfig => {
    // The expected price of a call is at its mean duration: what functions cost on average, which is what a VM
    // must beat. (The p95 stays for latency budgets; priced at the p95 the calls looked dearer than they are on
    // average, and SERFLOW bought VMs that FaaS-only undercut on the trace family.)
    const faasCost = faasInvocationCostUsd(
      { memoryMb: p.faasMemoryMb, durationMs: p.faasServiceMs.mean, initMs: 0 },
      globals.prices,
    );
    const tCip = tCipPerSecond(vmPrice, faasCost);
    const sloBudgetMs = (c.sloMs * p.vmServiceMs.p95) / p95Sum;
    return {
      stage: p.stage,
      minVms: minVms[i] ?? 0,
      maxVms: maxVms[i] ?? 0,
      reachProbability: p.reachProbability,
      vmServiceP95Ms: p.vmServiceMs.p95,
      vmServiceMeanMs: p.vmServiceMs.mean,
      vmSlots: p.vmSlots,
      muPerVm: (p.vmSlots * 1000) / p.vmServiceMs.p95,
      faasMemoryMb: p.faasMemoryMb,
      faasServiceP95Ms: p.faasServiceMs.p95,
      faasCostPerInvocationUsd: faasCost,
      faasRequestUsd: globals.prices.faasPerRequestUsd,
      vmPricePerHourUsd: vmPrice,
      tCip,
      tCipWall: tCip * timeScale,
      sloBudgetMs,
      overflowAfterMs: Math.max(1, sloBudgetMs - p.vmServiceMs.p95),
    };
  });
  const meanSum = profile.reduce((s, p) => s + p.vmServiceMs.mean, 0);
  const minSlots = Math.min(...profile.map((p) => p.vmSlots));

  return {
    policy: c.policy,
    tickMs: c.tickMs,
    updateIntervalMs: c.updateIntervalMs,
    alpha: c.alpha,
    mu: c.mu,
    z: c.z,
    serflowZ: c.serflowZ,
    sizing: c.sizing,
    forecast: {
      levelWeight: Math.min(1, c.tickMs / c.forecastLevelMs),
      momentWeight: Math.min(1, c.tickMs / c.forecastMomentMs),
    },
    horizon: {
      bootTicks: Math.ceil(globals.vm.bootDelayMs / c.tickMs),
      serveTicks: Math.max(1, Math.ceil(vmServeMs / c.tickMs)),
    },
    vmServeMs,
    burstZ: c.burstZ ?? c.z,
    deviation: c.deviation,
    rho: c.rho,
    scaleDownDelayMs: c.scaleDownDelayMs,
    colocate: c.colocate,
    fuse: c.fuse,
    usdPerAction: globals.usdPerAction,
    sloMs: c.sloMs,
    bootDelayMs: globals.vm.bootDelayMs,
    timeScale,
    vmAuto: { ...a },
    ...(c.peakRate !== undefined ? { peakRate: c.peakRate } : {}),
    libra:
      c.libra.perVmCapacity !== undefined
        ? { perVmCapacity: c.libra.perVmCapacity, perVmCapacitySource: 'config' }
        : { perVmCapacity: (1000 * minSlots) / meanSum, perVmCapacitySource: 'profile' },
    stages: compiledStages,
  };
}
