/**
 * Shared fixture of the autoscaler unit tests (not a test file): a 3-stage profile and prices chosen so that every
 * derived number is round, and a compact observation builder.
 *
 * Prices: VM 0.36 $/h = 1e-4 $/s; functions 1e-4 $/GB-s, no request fee. Every stage's function has 1024 MB and a
 * mean duration of 400 ms → C_F = 1e-4 × 1 GB × 0.4 s = 4e-5 $ → T-CIP = 1e-4 / 4e-5 = 2.5 q/s on every stage.
 * VMs: stage 1 p95 200 ms, 2 slots → mu 2 × 1000 / 200 = 10 q/s; stages 2 and 3 p95 400 ms, 2 slots → mu 5 q/s.
 * Reach 1, 0.5, 0.1. Means 160, 320, 320 ms → LIBRA's whole-model capacity 1000 × 2 / 800 = 2.5 q/s.
 * SLO 2000 ms split on p95s 200 : 400 : 400 → budgets 400, 800, 800 → overflowAfterMs 200, 400, 400.
 * VM boot 100 s, timeScale 1 (wall ms = cloud ms).
 */
import { compileConfig } from '../../common/config';
import { compileAutoscalerConfig, type AutoscalerConfigInput, type AutoscalerGlobals } from '../../autoscaler/config';
import assert from 'node:assert/strict';
import type { Decision, Observation, Policy, StageProfile } from '../../autoscaler/types';
import type { CompiledAutoscalerConfig } from '../../autoscaler/config';

export const SEC = 1000;

export const GLOBALS: AutoscalerGlobals = {
  ...compileConfig({
    prices: { vmPerHourUsd: { 'test.vm': 0.36 }, faasPerGbSecondUsd: 1e-4, faasPerRequestUsd: 0 },
    vm: { instanceType: 'test.vm', bootDelayMs: 100_000 },
  }),
  // Orchestration free, so the existing expectations hold; fusion tests set their own price.
  usdPerAction: 0,
};

function stage(n: number, p95: number, mean: number, reach: number, exitShare: number): StageProfile {
  return {
    stage: n,
    vmServiceMs: { p50: mean, p95, p99: p95 * 1.5, mean },
    vmSlots: 2,
    faasMemoryMb: 1024,
    faasServiceMs: { p50: 380, p95: 450, p99: 600, mean: 400 },
    faasColdStartMs: 1000,
    exitShare,
    reachProbability: reach,
  };
}

export const PROFILE: StageProfile[] = [
  stage(1, 200, 160, 1, 0.5),
  stage(2, 400, 320, 0.5, 0.4),
  stage(3, 400, 320, 0.1, 0.1),
];

export function compile(input: AutoscalerConfigInput | Record<string, unknown> = {}, profile = PROFILE) {
  return compileAutoscalerConfig({ sloMs: 2000, ...input }, GLOBALS, profile);
}

/**
 * The function prices of the fusion and whole-bill cases (fusion.test.ts, colocation.test.ts) on compiled `c`:
 * request fee R = 2e-7 $, memories 1024, 2048, 1024 MB, duration parts D = 1e-6, 4e-6, 1e-6 $ (so C_F = 1.2e-6,
 * 4.2e-6, 1.2e-6 $), and `usdPerAction` per Temporal action.
 */
export const FUSION_PRICES = { requestUsd: 2e-7, memoryMb: [1024, 2048, 1024], durationUsd: [1e-6, 4e-6, 1e-6] };

export function withFusionPrices(c: CompiledAutoscalerConfig, usdPerAction: number): CompiledAutoscalerConfig {
  const { requestUsd, memoryMb, durationUsd } = FUSION_PRICES;
  return {
    ...c,
    usdPerAction,
    stages: c.stages.map((s, i) => ({
      ...s,
      faasMemoryMb: memoryMb[i]!,
      faasRequestUsd: requestUsd,
      faasCostPerInvocationUsd: durationUsd[i]! + requestUsd,
    })),
  };
}

/**
 * One tick's observation at `now`: per stage, its arrivals over `windowMs` (1 s by default, so arrivals = q/s)
 * and its pool as [ready, booting] (empty when not given).
 */
export function obs(now: number, arrivals: number[], pools: Array<[number, number]> = [], windowMs = SEC): Observation {
  return {
    now,
    model: 'test',
    windowMs,
    stages: arrivals.map((a, i) => ({ stage: i + 1, arrivals: a, exits: 0, vmExecutions: 0, faasExecutions: 0 })),
    pools: arrivals.map((_, i) => ({
      stage: i + 1,
      vmsReady: pools[i]?.[0] ?? 0,
      vmsBooting: pools[i]?.[1] ?? 0,
      vmsDraining: 0,
    })),
  };
}

/** Floats compared to 1e-9 (the hand values are exact decimals, the code's binary floats). */
export function near(actual: number | undefined, expected: number): boolean {
  return actual !== undefined && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

/** One tick of a policy timeline and what its decision must say (unset fields are not checked). */
export interface Step {
  at: number;
  arrivals: number[];
  pools?: Array<[number, number]>;
  want: { desiredVms?: number[]; vmShare?: number[]; overflowAfterMs?: Array<number | undefined> };
}

/** Run the steps in order from a fresh state, checking each decision; returns the last decision and state. */
export function runTimeline<S>(
  policy: Policy<CompiledAutoscalerConfig, S>,
  config: CompiledAutoscalerConfig,
  steps: Step[],
): { decision?: Decision; state: S } {
  let state = policy.initialState(config);
  let decision: Decision | undefined;
  for (const s of steps) {
    ({ decision, state } = policy.decide(obs(s.at, s.arrivals, s.pools), config, state, s.at));
    const where = `${policy.name} at ${s.at / SEC} s: ${decision.reason} | ${decision.stages.map((d) => d.reason).join(' | ')}`;
    assert.equal(decision.valid, true, where);
    if (s.want.desiredVms)
      assert.deepEqual(
        decision.stages.map((d) => d.desiredVms),
        s.want.desiredVms,
        where,
      );
    if (s.want.vmShare) {
      decision.stages.forEach((d, i) =>
        assert.ok(near(d.vmShare, s.want.vmShare?.[i] ?? NaN), `${where}: vmShare ${d.vmShare}`),
      );
    }
    if (s.want.overflowAfterMs) {
      assert.deepEqual(
        decision.stages.map((d) => d.overflowAfterMs),
        s.want.overflowAfterMs,
        where,
      );
    }
  }
  return { decision, state };
}
