/**
 * What one simulated comparison runs with, built once from the SERFLOW configuration and the model's committed
 * profile (or from a named preset): the per-stage service samplers, the cloud (prices, boot, function platform)
 * and the compiled autoscaler config the policies read. Every simulator default is a named constant here.
 */
import { compileAutoscalerConfig, type AutoscalerGlobals, type CompiledAutoscalerConfig } from '../autoscaler/config';
import { cheapestFaasMemory, loadProfile, toStageProfiles, type ModelProfile } from '../autoscaler/profile';
import type { PolicyName, StageProfile } from '../autoscaler/types';
import { CURRENT_WORKFLOW_SHAPE, type WorkflowActionShape } from '../billing/actions';
import { resolveOrchestration, type OrchestrationPricing } from '../billing/orchestration-pricing';
import type { Prices } from '../billing/prices';
import type { SerflowConfig } from '../common/config';
import type { OrchestrationSummary } from '../eval/report/types';
import type { Placement } from '../eval/workload/traces';
import type { SimPlatform, SimStage } from './engine';
import { handoffProvenance, loadMeasuredHandoff } from './measured-handoff';
import { samplerFrom } from './sampler';

/**
 * VMs per stage pool at most in the simulator. The live default (8) is what one developer machine runs; a cloud
 * account runs hundreds, and a cap that binds would make the comparison about the cap, not the policy.
 */
export const SIM_DEFAULT_MAX_VMS = 1_000;

/**
 * Function executions at once over the account: AWS Lambda's default regional concurrency quota (1,000).
 * The live local platform's 8 (`faas.accountConcurrency`) is a limit of this machine, not of a cloud.
 */
export const SIM_DEFAULT_ACCOUNT_CONCURRENCY = 1_000;

/** Count traces: arrivals at seeded uniform positions within their second (Poisson-like within the second). */
export const SIM_DEFAULT_PLACEMENT: Placement = 'random';

/** Everything a run needs besides the arrivals, the policy and the seed. */
export interface SimSetup {
  model: string;
  preset: string | null;
  stages: SimStage[];
  /** Profiled figures per stage (exit shares, reach): also what the clairvoyant bound uses. */
  profile: StageProfile[];
  /** Cloud time per simulated time (1 unless mirroring a time-scaled live run; see SimSetupOptions). */
  timeScale: number;
  /** VM boot in cloud ms (the platform's `bootDelayMs` is in simulated ms). */
  cloudBootDelayMs: number;
  platform: SimPlatform;
  /** How orchestration is priced and counted, as the report states it (`platform.orchestration` is what runs). */
  orchestration: OrchestrationSummary;
  /** Compiled per policy (vm-max needs the trace's peak; the policy field differs). */
  compile(policy: PolicyName, peakRate: number): CompiledAutoscalerConfig;
  /** VMs that exist when the run starts under `policy` (none unless a preset says so). */
  initialVms(policy: PolicyName): { pool: number; count: number } | undefined;
  /** How long before the trace `policy` starts deciding (see SimRunInput.preRollMs). */
  preRollMs(policy: PolicyName): number;
  sloMs: number;
  placement: Placement;
  notes: string[];
}

/**
 * Which cloud the simulator models. 'cloud': a cloud account (SIM_DEFAULT_MAX_VMS, SIM_DEFAULT_ACCOUNT_CONCURRENCY).
 * 'local': the embedded stack's limits as configured (`autoscaler.maxVms`, `faas.accountConcurrency`), to compare
 * a simulation with a live `serflow bench` run on this machine.
 */
export type SimPlatformKind = 'cloud' | 'local';
export const SIM_PLATFORM_KINDS: readonly SimPlatformKind[] = ['cloud', 'local'];

export interface SimSetupOptions {
  /** SLO override, ms (else `autoscaler.sloMs`, else its default). */
  sloMs?: number;
  /** @default 'cloud' */
  platform?: SimPlatformKind;
  /**
   * Function memory per stage: 'config' (`faas.stageMemoryMb` / `faas.memoryMb`, as the live stack bills), or
   * 'auto' (budgetedFaasMemory). @default 'auto' on the cloud platform, 'config' on the local one
   */
  faasMemory?: 'config' | 'auto';
  /**
   * Mirror a live run at this `timeScale` (SimRunInput.timeScale): the simulated clock is the stack's wall clock,
   * boot, keep-alive and the cold-start extra pass timeScale times faster, bills stay in cloud time. @default 1
   */
  timeScale?: number;
  accountConcurrency?: number;
  /**
   * Hand-off before each stage execution, ms. @default measured: bench/results/overhead.json (sim/measured-handoff.ts)
   */
  handoffMs?: { p50: number; p95: number; p99: number };
  placement?: Placement;
  /** Orchestration pricing (`--orchestration`), over `orchestration.pricing` of the configuration. */
  orchestrationPricing?: OrchestrationPricing;
  /**
   * How the workflow spends actions around its stage activities. @default CURRENT_WORKFLOW_SHAPE (no local
   * activity, one upsert per query, no heartbeat from a short stage: 2 + k actions for an exit at stage k)
   */
  workflowShape?: WorkflowActionShape;
}

/** What the report says of modelled actions: one activity per executed stage or fused run, in `shape`. */
function modelledBasis(shape: Readonly<WorkflowActionShape>): string {
  return (
    `modelled: per query 1 workflow start, ${shape.localActivityTasks} local-activity task(s), ` +
    `${shape.searchAttributeUpserts} search-attribute upsert(s), and per activity (an executed stage, or a fused ` +
    `run of stages) 1 activity + ${shape.heartbeatsPerAttempt} heartbeat(s) (a VM execution that overflowed to a ` +
    `function started once)`
  );
}

/**
 * The stages as simulated. A cold start waits the profiled real start plus the configured extra (cloud ms, so
 * passing `timeScale` times faster, as on the live platform) and bills both in full.
 */
function simStages(profile: StageProfile[], coldStartExtraMs: number, timeScale = 1): SimStage[] {
  return profile.map((p) => ({
    stage: p.stage,
    vmService: samplerFrom(p.vmServiceMs),
    vmSlots: p.vmSlots,
    faasService: samplerFrom(p.faasServiceMs),
    faasMemoryMb: p.faasMemoryMb,
    faasColdStartMs: p.faasColdStartMs + coldStartExtraMs / timeScale,
    faasInitBilledMs: p.faasColdStartMs + coldStartExtraMs,
  }));
}

/**
 * method.md's offline step: per stage, the cheapest profiled function memory whose warm p95 fits the stage's share
 * of the SLO left after the hand-offs (`sloMs − stages × handoffP95Ms`, split in proportion to the stages' VM p95s,
 * as `sloBudgetMs` is); the fastest option when none fits.
 * On a cloud where CPU grows with memory, a larger function of a compute-bound stage costs about the same per call
 * and is faster, so a tight SLO should not be held against functions sized for a laptop.
 */
export function budgetedFaasMemory(
  profile: ModelProfile,
  sloMs: number,
  handoffP95Ms: number,
  vmThreads: number,
  prices: SerflowConfig['prices'],
): Map<number, number> {
  const p95 = (s: ModelProfile['stages'][number]) =>
    (s.vm.find((v) => v.threads === vmThreads) ?? s.vm[0])?.serviceMs.p95 ?? 0;
  const total = profile.stages.reduce((sum, s) => sum + p95(s), 0);
  const out = new Map<number, number>();
  for (const s of profile.stages) {
    const left = Math.max(0, sloMs - profile.stages.length * handoffP95Ms);
    const budget = total > 0 ? (left * p95(s)) / total : left;
    const fastest = [...s.faas].sort((a, b) => a.serviceMs.p95 - b.serviceMs.p95)[0];
    const pick = cheapestFaasMemory(s, budget, prices)?.memoryMb ?? fastest?.memoryMb;
    if (pick !== undefined) out.set(s.stage, pick);
  }
  return out;
}

/** A stage's function figures as measured on this machine (one full core), at its configured memory. */
function withMeasuredFaas(p: StageProfile, entry: ModelProfile['stages'][number] | undefined): StageProfile {
  if (!entry) return p;
  const { p50, p95, p99, mean } = entry.faasMeasured.serviceMs;
  return { ...p, faasServiceMs: { p50, p95, p99, mean }, faasColdStartMs: entry.faasMeasured.coldStartMs.p50 };
}

/** A setup from the SERFLOW configuration and the model's profile (the project's own evaluation). */
export function setupFromConfig(config: SerflowConfig, model: string, o: SimSetupOptions = {}): SimSetup {
  const measured = loadProfile(model, config.modelsDir);
  const configured = (stage: number) => config.faas.stageMemoryMb[String(stage)] ?? config.faas.memoryMb;
  const autoMemory = (o.faasMemory ?? (o.platform === 'local' ? 'config' : 'auto')) === 'auto';
  const sloForMemory =
    o.sloMs ??
    compileAutoscalerConfig(
      config.autoscaler,
      // The SLO does not depend on the action price.
      { ...config, timeScale: 1, usdPerAction: 0 },
      toStageProfiles(measured, {
        vmThreads: config.workers.inferenceThreads,
        faasMemoryMb: configured,
      }),
    ).sloMs;
  const budgeted = autoMemory
    ? budgetedFaasMemory(
        measured,
        sloForMemory,
        (o.handoffMs ?? loadMeasuredHandoff()).p95,
        config.workers.inferenceThreads,
        config.prices,
      )
    : undefined;
  const selected = toStageProfiles(measured, {
    vmThreads: config.workers.inferenceThreads,
    faasMemoryMb: (stage) => budgeted?.get(stage) ?? configured(stage),
  });
  // The local platform runs every function on a full core whatever its memory, so its functions take the measured
  // time, not the Lambda estimate for their memory (profile.ts `faasCpuSlowdown`).
  const profile = o.platform === 'local' ? selected.map((p, i) => withMeasuredFaas(p, measured.stages[i])) : selected;
  // Time scale 1 (cloud time simulated directly) unless mirroring a time-scaled live run.
  const timeScale = o.timeScale ?? 1;
  const orchestration = resolveOrchestration(config.orchestration, config.prices, {
    ...(o.orchestrationPricing ? { pricing: o.orchestrationPricing } : {}),
  });
  const globals: AutoscalerGlobals = {
    prices: config.prices,
    vm: config.vm,
    faas: config.faas,
    timeScale,
    usdPerAction: orchestration.usdPerAction,
  };
  const local = o.platform === 'local';
  const section = {
    ...(local ? {} : { maxVms: SIM_DEFAULT_MAX_VMS }),
    ...config.autoscaler,
    ...(o.sloMs !== undefined ? { sloMs: o.sloMs } : {}),
  } as Record<string, unknown>;
  const first = compileAutoscalerConfig(section, globals, profile);
  const measuredHandoff = o.handoffMs === undefined ? loadMeasuredHandoff() : undefined;
  const { p50, p95, p99 } = o.handoffMs ?? loadMeasuredHandoff();
  const handoff = { p50, p95, p99 };
  const shape = o.workflowShape ?? CURRENT_WORKFLOW_SHAPE;
  const accountConcurrency =
    o.accountConcurrency ?? (local ? config.faas.accountConcurrency : SIM_DEFAULT_ACCOUNT_CONCURRENCY);
  return {
    model,
    preset: null,
    stages: simStages(profile, config.faas.coldStartExtraMs, timeScale),
    profile,
    timeScale,
    cloudBootDelayMs: config.vm.bootDelayMs,
    platform: {
      instanceType: config.vm.instanceType,
      prices: config.prices,
      bootDelayMs: config.vm.bootDelayMs / timeScale,
      faasKeepAliveMs: config.faas.keepAliveMs / timeScale,
      faasAccountConcurrency: accountConcurrency,
      handoff: samplerFrom(handoff),
      orchestration: { usdPerAction: orchestration.usdPerAction, shape },
    },
    orchestration: {
      pricing: orchestration.pricing,
      usdPerAction: orchestration.usdPerAction,
      ...(orchestration.cpuMsPerAction !== undefined && orchestration.pricing === 'self-hosted'
        ? { cpuMsPerAction: orchestration.cpuMsPerAction, cpuMsSource: orchestration.cpuMsSource ?? 'config' }
        : {}),
      counted: 'modelled',
      shape: { ...shape },
      basis: modelledBasis(shape),
    },
    compile: (policy, peakRate) =>
      compileAutoscalerConfig(
        { ...section, policy, ...(section.peakRate === undefined ? { peakRate: Math.max(peakRate, 1e-9) } : {}) },
        globals,
        profile,
      ),
    initialVms: () => undefined,
    // VM-max is a fleet provisioned for the peak ahead of time: launched one boot delay before the trace.
    preRollMs: (policy) => (policy === 'vm-max' ? config.vm.bootDelayMs / timeScale : 0),
    sloMs: first.sloMs,
    placement: o.placement ?? SIM_DEFAULT_PLACEMENT,
    notes: [
      `platform ${local ? 'local (the embedded stack’s limits)' : 'cloud'}; function memory per stage ` +
        `${profile.map((p) => `${p.faasMemoryMb} MB`).join(' / ')} (${budgeted ? 'cheapest within each stage’s SLO share' : 'as configured'}); hand-off per stage p50/p95/p99 ${handoff.p50}/${handoff.p95}/${handoff.p99} ms; function account concurrency ${accountConcurrency}; ` +
        `${timeScale !== 1 ? `time scale ${timeScale} (mirrors a live run); ` : ''}VMs per stage at most ${String(first.stages[0]?.maxVms)}; count traces placed '${o.placement ?? SIM_DEFAULT_PLACEMENT}' within each second`,
      measuredHandoff ? handoffProvenance(measuredHandoff) : 'hand-off as given (not the measured one)',
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The libra-ic2e preset: LIBRA's authors' simulator setup (../shared/data/reference/libra-wits.md)

export const LIBRA_IC2E_PRESET_NAME = 'libra-ic2e';
/** m4.large at 0.10 $/h, billed per second with no minimum. */
const LIBRA_VM_TYPE = 'm4.large';
const LIBRA_VM_PRICE_PER_HOUR = 0.1;
/** Their serverless price: 2e-7 $ + 0.5 GB × 1 s × 1.667e-5 $/GB-s = 8.535e-6 $ per 1 s request. */
const LIBRA_PRICES: Prices = {
  vmPerHourUsd: { [LIBRA_VM_TYPE]: LIBRA_VM_PRICE_PER_HOUR },
  vmMinBilledSeconds: 0,
  faasPerGbSecondUsd: 1.667e-5,
  faasPerRequestUsd: 2e-7,
  faasBillingGranularityMs: 1,
};
/** Every request is one unit of work of 1 s at 512 MB; a VM serves 16 at once (8 GiB / 0.5 GiB). */
const LIBRA_REQUEST_MS = 1_000;
const LIBRA_VM_SLOTS = 16;
const LIBRA_MEMORY_MB = 512;
const LIBRA_BOOT_MS = 100_000;
/** Their VM-only "max" fleet: 292 VMs for the whole run (vm-max sizes for peakRate × 1 / 16 q/s per VM). */
const LIBRA_MAX_FLEET = 292;
/** Both of LIBRA's autoscaled fleets start with 10 VMs. */
const LIBRA_INITIAL_VMS = 10;

/** The one-stage "model" of LIBRA's setup: deterministic 1 s on a VM slot or in a function, everyone exits. */
export const LIBRA_IC2E_PROFILE: StageProfile[] = [
  {
    stage: 1,
    vmServiceMs: { p50: LIBRA_REQUEST_MS, p95: LIBRA_REQUEST_MS, p99: LIBRA_REQUEST_MS, mean: LIBRA_REQUEST_MS },
    vmSlots: LIBRA_VM_SLOTS,
    faasMemoryMb: LIBRA_MEMORY_MB,
    faasServiceMs: { p50: LIBRA_REQUEST_MS, p95: LIBRA_REQUEST_MS, p99: LIBRA_REQUEST_MS, mean: LIBRA_REQUEST_MS },
    faasColdStartMs: 0,
    exitShare: 1,
    reachProbability: 1,
  },
];

/**
 * LIBRA's simulator setup: 1 s epochs, arrivals at the start of their second, min 10 / max 292 VMs, alpha = mu =
 * 0.2, U = 300 s, 0.8 share, 100 s VM cold start, unlimited functions with no cold start, no hand-off delay.
 * vm-auto uses LIBRA's own averaging; vm-max is the 292-VM fleet. The SLO is the 1 s service itself: a request
 * meets it exactly when it did not wait ("delayed" in their terms).
 */
export function libraIc2eSetup(o: { sloMs?: number; workflowShape?: WorkflowActionShape } = {}): SimSetup {
  const shape = o.workflowShape ?? CURRENT_WORKFLOW_SHAPE;
  const globals: AutoscalerGlobals = {
    prices: { ...LIBRA_PRICES, vmPerHourUsd: { ...LIBRA_PRICES.vmPerHourUsd } },
    vm: { instanceType: LIBRA_VM_TYPE, bootDelayMs: LIBRA_BOOT_MS },
    faas: {} as SerflowConfig['faas'],
    timeScale: 1,
    // LIBRA's cloud has no workflow engine (see `orchestration` below).
    usdPerAction: 0,
  };
  const sloMs = o.sloMs ?? LIBRA_REQUEST_MS;
  const section = {
    minVms: LIBRA_INITIAL_VMS,
    maxVms: LIBRA_MAX_FLEET,
    sloMs,
    libra: { perVmCapacity: LIBRA_VM_SLOTS },
    vmAuto: { estimator: 'libra-ic2e' },
    peakRate: LIBRA_MAX_FLEET * LIBRA_VM_SLOTS,
  };
  return {
    model: 'libra-unit',
    preset: LIBRA_IC2E_PRESET_NAME,
    stages: simStages(LIBRA_IC2E_PROFILE, 0),
    profile: LIBRA_IC2E_PROFILE,
    timeScale: 1,
    cloudBootDelayMs: LIBRA_BOOT_MS,
    platform: {
      instanceType: LIBRA_VM_TYPE,
      prices: globals.prices,
      bootDelayMs: LIBRA_BOOT_MS,
      faasKeepAliveMs: Infinity,
      faasAccountConcurrency: Infinity,
      handoff: samplerFrom({ p50: 0, p95: 0, p99: 0 }),
      bootingScaleIn: 'after-boot',
      // LIBRA's cloud has no workflow engine: the actions a SERFLOW deployment would cause are counted, not billed.
      orchestration: { usdPerAction: 0, shape },
    },
    orchestration: {
      pricing: 'none',
      usdPerAction: 0,
      counted: 'modelled',
      shape: { ...shape },
      basis: modelledBasis(shape),
    },
    compile: (policy) =>
      compileAutoscalerConfig(
        { ...section, policy, ...(policy === 'vm-auto' ? {} : { minVms: 0 }) },
        globals,
        LIBRA_IC2E_PROFILE,
      ),
    // LIBRA's hybrid and VM-only fleets both start at 10 VMs, launched at time 0 (min 10 binds VM-only only).
    initialVms: (policy) =>
      policy === 'libra'
        ? { pool: 0, count: LIBRA_INITIAL_VMS }
        : policy === 'vm-auto'
          ? { pool: 1, count: LIBRA_INITIAL_VMS }
          : undefined,
    // LIBRA's simulator launches its 292 VMs at time 0: their 100 s cold start delays the first requests.
    preRollMs: () => 0,
    sloMs,
    placement: 'epoch-start',
    notes: [
      'preset libra-ic2e: LIBRA (IC2E 2021) simulator setup — 1 s requests at 512 MB, m4.large 0.10 $/h (16 requests/s per VM, ' +
        'no minimum billing), 100 s VM cold start, min 10 / max 292 VMs, alpha = mu = 0.2, U = 300 s, share 0.8, ' +
        'functions unlimited without cold start; arrivals at the start of their second; no workflow engine ' +
        '(orchestration not billed: its actions are counted as a SERFLOW deployment would cause them)',
    ],
  };
}
