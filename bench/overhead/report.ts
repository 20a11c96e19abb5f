/** What the overhead benchmark writes (`--out`, bench/results/overhead.json) and its targets. */
import type { SerflowConfig } from '../../common/config';
import type { LatencySummary } from '../../common/stats';
import type { cpuPerQuery } from './cpu';
import type { LoopDelay } from './event-loop';
import type { historyBreakdown } from './history';
import type { stageTimes } from './pipeline';
import type { PlanMeasure } from './plans';

export const TARGETS = { overheadPerStageP50Ms: 10, throughputQps: 50 } as const;

/**
 * The whole-bill targets of step 5, for the plan SERFLOW picks: mean actions per query,
 * and latency p50 at c = 1, throughput and CPU per query loaded as ratios to the engine's floor.
 */
export const PLAN_TARGETS = { actionsPerQueryMax: 3.2, p50RatioMax: 1.3, qpsRatioMin: 0.8, cpuRatioMax: 1.3 } as const;

/** Each step-5 target for `plan`, with what was measured and whether it was met (null: not measured). */
export function planTargets(plan: PlanMeasure | undefined) {
  const check = (value: number | null | undefined, met: (v: number) => boolean) =>
    value === null || value === undefined ? { value: null, met: null } : { value, met: met(value) };
  return {
    plan: plan?.name ?? null,
    ...PLAN_TARGETS,
    actionsPerQuery: check(plan?.actionsPerQuery, (v) => v <= PLAN_TARGETS.actionsPerQueryMax),
    p50Ratio: check(plan?.ratioToFloor?.p50, (v) => v <= PLAN_TARGETS.p50RatioMax),
    qpsRatio: check(plan?.ratioToFloor?.qps, (v) => v >= PLAN_TARGETS.qpsRatioMin),
    cpuRatio: check(plan?.ratioToFloor?.cpuPerQuery, (v) => v <= PLAN_TARGETS.cpuRatioMax),
  };
}

export interface ThroughputLevel {
  concurrency: number;
  queries: number;
  failed: number;
  durationMs: number;
  qps: number;
  latencyMs: LatencySummary;
  stageTimes: ReturnType<typeof stageTimes>;
  eventLoopDelay: LoopDelay;
  cpu: ReturnType<typeof cpuPerQuery> | null;
  history?: Awaited<ReturnType<typeof historyBreakdown>>;
}

export interface BenchReport {
  /** The command that produced the file. */
  command: string;
  timestamp: string;
  /** The commit the run was made from, and whether the working tree had uncommitted changes (null: no git). */
  git: { commit: string; dirty: boolean } | null;
  machine: { cpus: number; cpuModel: string; totalMemGb: number; platform: string; node: string; onnxruntime: unknown };
  config: {
    model: string;
    stages: number;
    samples: number;
    threshold: number;
    warmup: number;
    concurrency: number[];
    throughputDurationS: number;
    seed: number;
    /** The --dynamic-config values, and the dev server's effective dynamic config (defaults merged). */
    dynamicConfig: Record<string, string | number | boolean>;
    devServerDynamicConfig: SerflowConfig['temporal']['devServerDynamicConfig'];
    workers: SerflowConfig['workers'];
  };
  targets: {
    overheadPerStageP50Ms: number;
    throughputQps: number;
    overheadMet: boolean;
    throughputMet: boolean;
    bestQps: number;
  };
  direct: { latencyMs: LatencySummary; exitHistogram: Record<string, number>; accuracy: number };
  pipeline: {
    latencyMs: LatencySummary;
    workflowLatencyMs: LatencySummary;
    failed: number;
    mismatches: { label: number; exitStage: number; examples: unknown[] };
    stageTimes: ReturnType<typeof stageTimes>;
    history: Awaited<ReturnType<typeof historyBreakdown>>;
  };
  /** Per executed stage, ms; `p99` since the simulator reads it (absent from files written before). */
  overheadPerStageMs: { p50: number | null; p95: number | null; p99?: number | null; mean: number | null };
  throughput: ThroughputLevel[];
  eventLoopDelay: LoopDelay;
  /** Step 5: the engine's floor and the pipeline under each plan, with their ratios to the floor. */
  floor?: PlanMeasure;
  plans?: PlanMeasure[];
  /** What a Temporal action costs a self-hosted deployment (`orchestration.cpuMsPerAction`), from step 5. */
  orchestration?: { cpuMsPerAction: number | null };
  /** Step 5's targets for the plan SERFLOW picks (`serflow`), measured and met or not. */
  planTargets?: ReturnType<typeof planTargets>;
}
