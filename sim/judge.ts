/**
 * `serflow judge`'s runs: every policy on every trace of the judgement (the family members of
 * eval/workload/family.ts and the shared traces) for every profile and orchestration pricing, in the simulator
 * (compare.ts), reduced to the figures the judgement reads (eval/report/judge.ts). Pure apart from the progress
 * callback; the CLI loads the configuration and writes the files.
 */
import type { PolicyName } from '../autoscaler/types';
import type { SerflowConfig } from '../common/config';
import type { JudgeCaseInfo, JudgePolicyFigures, JudgePricing, JudgeRun } from '../eval/report/judge';
import { traceStats, type Trace } from '../eval/workload/traces';
import { runSimComparison } from './compare';
import { setupFromConfig, type SimSetup } from './setup';

/** A profile judged, with the SLO it is judged at. */
export interface JudgeProfile {
  model: string;
  sloMs: number;
}

/**
 * The profiles of the README's evaluation, each at 1.5 × the p99 of running every stage on a warm VM (VM-max's p99
 * in the simulator): 134 ms → 200 ms for the default model, 185 ms → 280 ms for the heavy one.
 */
export const JUDGE_PROFILES: readonly JudgeProfile[] = [
  { model: 'mnist-ee', sloMs: 200 },
  { model: 'mnist-ee-heavy', sloMs: 280 },
];

/** A trace to judge on: a family member or a shared trace. */
export interface JudgeCase {
  /** Member id or shared trace name. */
  id: string;
  /** The member's shape, or 'shared'. */
  group: string;
  /** The member's base rate, q/s (none for a shared trace). */
  baseRate?: number;
  trace: Trace;
}

export interface JudgeOptions {
  config: SerflowConfig;
  cases: readonly JudgeCase[];
  profiles: readonly JudgeProfile[];
  pricings: readonly JudgePricing[];
  policies: readonly PolicyName[];
  /** Seed of arrival placement, exits and service times (the same for every policy, trace and profile). */
  seed: number;
  command: string;
  /**
   * Called after each comparison: which one, how many are done of how many, the simulated queries done of all (the
   * work: a comparison's time grows with its queries), and its wall time.
   */
  onProgress?: (p: {
    done: number;
    total: number;
    queriesDone: number;
    queriesTotal: number;
    case: string;
    profile: string;
    pricing: JudgePricing;
    wallMs: number;
  }) => void;
  /** Builds a setup (tests pass a cheaper one); default `setupFromConfig`. */
  setup?: (config: SerflowConfig, profile: JudgeProfile, pricing: JudgePricing) => SimSetup;
}

export interface JudgeResult {
  cases: JudgeCaseInfo[];
  runs: JudgeRun[];
  /** Notes of the setups, once per profile and pricing. */
  setupNotes: Record<string, string[]>;
  /** Orchestration price per action of each pricing, USD. */
  usdPerAction: Partial<Record<JudgePricing, number>>;
}

function defaultSetup(config: SerflowConfig, profile: JudgeProfile, pricing: JudgePricing): SimSetup {
  return setupFromConfig(config, profile.model, { sloMs: profile.sloMs, orchestrationPricing: pricing });
}

/** Runs every comparison (case × profile × pricing, in that nesting) and keeps the judged figures of each. */
export function runJudge(o: JudgeOptions): JudgeResult {
  const makeSetup = o.setup ?? defaultSetup;
  const setups = new Map<string, SimSetup>();
  const setupNotes: Record<string, string[]> = {};
  const usdPerAction: Partial<Record<JudgePricing, number>> = {};
  for (const profile of o.profiles) {
    for (const pricing of o.pricings) {
      const s = makeSetup(o.config, profile, pricing);
      setups.set(`${profile.model}|${pricing}`, s);
      setupNotes[`${profile.model}, ${pricing}`] = s.notes;
      usdPerAction[pricing] = s.orchestration.usdPerAction;
    }
  }
  const total = o.cases.length * o.profiles.length * o.pricings.length;
  const queriesOf = (t: Trace) => t.counts.reduce((sum, n) => sum + n, 0);
  const queriesTotal = o.cases.reduce((sum, c) => sum + queriesOf(c.trace), 0) * o.profiles.length * o.pricings.length;
  const runs: JudgeRun[] = [];
  let done = 0;
  let queriesDone = 0;
  for (const c of o.cases) {
    for (const profile of o.profiles) {
      for (const pricing of o.pricings) {
        const started = Date.now();
        const setup = setups.get(`${profile.model}|${pricing}`) as SimSetup;
        const { report } = runSimComparison({
          setup,
          trace: c.trace,
          rateFactor: 1,
          startS: 0,
          policies: [...o.policies],
          seed: o.seed,
          command: o.command,
        });
        const policies: Record<string, JudgePolicyFigures> = {};
        for (const [name, f] of Object.entries(report.policies)) {
          policies[name] = {
            totalUsd: f.totalUsd,
            vmUsd: f.vmUsd,
            serverlessUsd: f.serverlessUsd,
            orchestrationUsd: f.orchestrationUsd,
            computeUsd: f.vmUsd + f.serverlessUsd,
            sloAttainment: f.sloAttainment,
          };
        }
        runs.push({
          member: c.id,
          group: c.group,
          profile: profile.model,
          pricing,
          policies,
          bound: report.bound
            ? { totalUsd: report.bound.totalUsd, computeUsd: report.bound.totalUsd - report.bound.orchestrationUsd }
            : null,
        });
        done++;
        queriesDone += queriesOf(c.trace);
        o.onProgress?.({
          done,
          total,
          queriesDone,
          queriesTotal,
          case: c.id,
          profile: profile.model,
          pricing,
          wallMs: Date.now() - started,
        });
      }
    }
  }
  const cases = o.cases.map((c) => {
    const st = traceStats(c.trace);
    return {
      id: c.id,
      group: c.group,
      baseRate: c.baseRate ?? null,
      source: c.trace.source,
      durationS: st.durationS,
      queries: st.queries,
      meanRate: st.meanRate,
      peakRate: st.peakRate,
    };
  });
  return { cases, runs, setupNotes, usdPerAction };
}
