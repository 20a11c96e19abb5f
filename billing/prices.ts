/**
 * Billing arithmetic of SERFLOW (method.md, "Cost model"): what one function invocation and one VM life cost,
 * and the traffic cost indifference point T-CIP. Pure functions of their inputs and the `prices` section of the
 * configuration; no clock, no I/O. All durations are cloud time (wall time × `timeScale`) unless said otherwise.
 */
import type { SerflowConfig } from '../common/config';
import { ceilTolerant } from '../common/rounding';

/**
 * The `prices` section of the configuration (`SerflowConfig['prices']` is assignable to it): the VM price
 * catalog and the FaaS prices, all USD.
 */
export interface Prices {
  /** Price per hour of each VM instance type. */
  vmPerHourUsd: Readonly<Record<string, number>>;
  /** Minimum billed seconds per VM launch. */
  vmMinBilledSeconds: number;
  faasPerGbSecondUsd: number;
  faasPerRequestUsd: number;
  /** Billed function duration is rounded up to a multiple of this, ms. */
  faasBillingGranularityMs: number;
}

// The configuration's prices must stay usable as they are.
const configPricesFit: (p: SerflowConfig['prices']) => Prices = (p) => p;
void configPricesFit;

/** Thrown when a VM's instance type is not in `prices.vmPerHourUsd`: its cost cannot be stated. */
export class UnknownInstanceTypeError extends Error {
  override readonly name = 'UnknownInstanceTypeError';
  constructor(
    readonly instanceType: string,
    readonly catalog: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `no price for VM instance type ${JSON.stringify(instanceType)}: prices.vmPerHourUsd lists ` +
        `${catalog.length ? catalog.map((t) => JSON.stringify(t)).join(', ') : '(nothing)'}`,
      options,
    );
  }
}

/** Price per hour of `instanceType`, USD; throws UnknownInstanceTypeError naming it and the catalog. */
export function vmPricePerHourUsd(instanceType: string, prices: Pick<Prices, 'vmPerHourUsd'>): number {
  const price = Object.hasOwn(prices.vmPerHourUsd, instanceType) ? prices.vmPerHourUsd[instanceType] : undefined;
  if (price === undefined) throw new UnknownInstanceTypeError(instanceType, Object.keys(prices.vmPerHourUsd).sort());
  return price;
}

/** What a function invocation is billed on, as carried by a `faas.invoked` event. */
export interface FaasInvocation {
  /** Configured memory of the function, MB. */
  memoryMb: number;
  /** Handler duration, ms. */
  durationMs: number;
  /** Platform INIT duration billed on a cold start, ms (0 when warm). */
  initMs: number;
}

/**
 * Billed duration of one invocation, ms: `(durationMs + initMs)` rounded **up** to the billing granularity.
 * INIT is billed, as on AWS Lambda since 2025-08.
 *
 * With the default granularity of 1 ms: 0.2 ms → 1 ms; 100.0 ms → 100 ms; 100.01 ms → 101 ms;
 * a cold start of 200 ms + 1 000 ms INIT → 1 200 ms. With a 100 ms granularity, 101 ms → 200 ms.
 */
export function faasBilledMs(
  inv: Pick<FaasInvocation, 'durationMs' | 'initMs'>,
  prices: Pick<Prices, 'faasBillingGranularityMs'>,
): number {
  const g = prices.faasBillingGranularityMs;
  return ceilTolerant((inv.durationMs + inv.initMs) / g) * g;
}

/**
 * Billed GB-seconds of one invocation: `memoryMb / 1024 × billedMs / 1000`.
 * Example: 512 MB for 101 billed ms → 0.5 × 0.101 = 0.0505 GB-s.
 */
export function faasBilledGbSeconds(inv: FaasInvocation, prices: Pick<Prices, 'faasBillingGranularityMs'>): number {
  return (inv.memoryMb / 1024) * (faasBilledMs(inv, prices) / 1000);
}

/**
 * Cost of one function invocation, USD:
 * `C_F = perRequest + perGbSecond × (memoryMb / 1024) × ceil((durationMs + initMs) / g) × g / 1000`.
 *
 * Worked examples at the defaults (2e-7 $/request, 1.66667e-5 $/GB-s, g = 1 ms):
 * - warm, 512 MB, 100.01 ms → 101 ms billed → 0.0505 GB-s × 1.66667e-5 = 8.4166835e-7, + 2e-7 = 1.04166835e-6 $;
 * - cold, 1024 MB, 200 ms + 1 000 ms INIT → 1.2 GB-s × 1.66667e-5 = 2.000004e-5, + 2e-7 = 2.020004e-5 $;
 * - method.md's LIBRA unit, 512 MB for 1 s → 0.5 GB-s → 8.33335e-6 + 2e-7 = 8.53335e-6 $.
 */
export function faasInvocationCostUsd(
  inv: FaasInvocation,
  prices: Pick<Prices, 'faasPerRequestUsd' | 'faasPerGbSecondUsd' | 'faasBillingGranularityMs'>,
): number {
  return prices.faasPerRequestUsd + prices.faasPerGbSecondUsd * faasBilledGbSeconds(inv, prices);
}

/** One VM life (or the part of it up to `terminatedAt`), as reconstructed from `vm.launched` / `vm.terminated`. */
export interface VmLife {
  /** Wall epoch ms of the launch request: billing starts here, so boot time is billed. */
  launchedAt: number;
  /** Wall epoch ms of termination (or of "now" for a VM still running). */
  terminatedAt: number;
  /** Cloud time per wall time in force. */
  timeScale: number;
}

/** Cloud seconds between launch and termination, unrounded: `(terminatedAt − launchedAt) / 1000 × timeScale`, >= 0. */
export function vmCloudSeconds(life: VmLife): number {
  return (Math.max(0, life.terminatedAt - life.launchedAt) / 1000) * life.timeScale;
}

/**
 * Billed seconds of one VM life: cloud seconds rounded **up** to the whole second, and at least
 * `prices.vmMinBilledSeconds` (60 by default) per launch.
 *
 * Examples with the 60 s minimum: 10 s wall at timeScale 1 → 10 s cloud → 60 s billed; 10 s wall at timeScale 10
 * → 100 s cloud → 100 s billed; 100.2 s cloud → 101 s billed.
 */
export function vmBilledSeconds(life: VmLife, prices: Pick<Prices, 'vmMinBilledSeconds'>): number {
  return Math.max(prices.vmMinBilledSeconds, ceilTolerant(vmCloudSeconds(life)));
}

/**
 * Cost of one VM life, USD: `pricePerHour / 3600 × max(minBilledSeconds, ceil(cloudSeconds))`, from the launch
 * request to termination (boot included), billed per whole second, rounded up.
 *
 * Worked examples for c6i.large at 0.085 $/h (2.3611e-5 $/s):
 * - 10 s wall at timeScale 1 → 60 s minimum → 0.085 / 3600 × 60 = 0.00141667 $;
 * - 10 s wall at timeScale 10 → 100 s → 0.085 / 3600 × 100 = 0.00236111 $;
 * - one hour → 3 600 s → 0.085 $.
 * Throws UnknownInstanceTypeError when `instanceType` has no price.
 */
export function vmCostUsd(
  life: VmLife & { instanceType: string },
  prices: Pick<Prices, 'vmPerHourUsd' | 'vmMinBilledSeconds'>,
): number {
  return (vmPricePerHourUsd(life.instanceType, prices) / 3600) * vmBilledSeconds(life, prices);
}

/**
 * T-CIP (method.md): the stage-k load, requests per second, at which a dedicated VM costs as much as running
 * that load in functions: `T_CIP = (P_VM / 3600) / C_F`. Above it the VM is cheaper (if it can serve that load).
 *
 * method.md's check: m4.large at 0.10 $/h = 2.7778e-5 $/s; a 1 s, 512 MB invocation costs 8.53335e-6 $
 * (see faasInvocationCostUsd), so T_CIP = 2.7778e-5 / 8.53335e-6 ≈ 3.2552 req/s ("about 3.25").
 * Returns Infinity when an invocation is free, 0 when the VM is.
 */
export function tCipPerSecond(vmPricePerHour: number, faasCostPerInvocation: number): number {
  return vmPricePerHour / 3600 / faasCostPerInvocation;
}

/** The `orchestration` section of the configuration, with the self-hosted CPU per action resolved. */
export interface OrchestrationPrices {
  pricing: 'temporal-cloud' | 'self-hosted';
  usdPerMillionActions: number;
  /** CPU ms one action costs the Temporal server and the workflow worker (self-hosted only). */
  cpuMsPerAction?: number;
  instanceType: string;
  vcpus: number;
}

// The configuration's orchestration section must stay usable as it is.
const configOrchestrationFits: (o: SerflowConfig['orchestration']) => OrchestrationPrices = (o) => o;
void configOrchestrationFits;

/** Thrown when self-hosted orchestration is asked for without a CPU cost per action to price it from. */
export class MissingOrchestrationCostError extends Error {
  override readonly name = 'MissingOrchestrationCostError';
}

/**
 * What one Temporal action costs, USD.
 * - temporal-cloud: `usdPerMillionActions / 1e6` (25 $ per million → 2.5e-5 $);
 * - self-hosted: `cpuMsPerAction / 1000 × vmPricePerHour / 3600 / vcpus`, e.g. 4 ms per action on c6i.large
 *   (0.085 $/h, 2 vCPUs) → 0.004 × 1.18056e-5 = 4.7222e-8 $.
 */
export function usdPerAction(o: OrchestrationPrices, prices: Pick<Prices, 'vmPerHourUsd'>): number {
  if (o.pricing === 'temporal-cloud') return o.usdPerMillionActions / 1e6;
  if (o.cpuMsPerAction === undefined) {
    throw new MissingOrchestrationCostError(
      'orchestration.pricing is self-hosted but no CPU cost per action is known: set orchestration.cpuMsPerAction ' +
        'or measure it with `npm run bench:overhead`',
    );
  }
  return (o.cpuMsPerAction / 1000) * (vmPricePerHourUsd(o.instanceType, prices) / 3600 / o.vcpus);
}
