/**
 * Simulator versus live: after a `serflow bench` run, the simulator replays the same trace window, seed and
 * placement with the same policies on a model of this machine's stack (`--platform local`: its VM and function
 * limits, the measured hand-off, the same time scale), and each policy's cost and SLO attainment are compared with
 * the live ones. They must agree within AGREEMENT_TOLERANCE (10 %). The exits are the live run's: the
 * replay's images exit where the model says (the same images for every policy), which differs from the profile's
 * calibration split by a few points per stage; comparing the system model, not the two image samples, the simulator
 * is given the exit shares the live run observed. Cost is compared without orchestration: both sides model a query's
 * actions from the stages it ran, so on a bill dominated by actions the comparison would check the exits, not the
 * system model; the actions per query of both are stated in the note.
 */
import type { PolicyName } from '../../autoscaler/types';
import type { OrchestrationPricing } from '../../billing/orchestration-pricing';
import type { SerflowConfig } from '../../common/config';
import { runSimComparison } from '../../sim/compare';
import { setupFromConfig } from '../../sim/setup';
import type { PolicyFigures, TargetCheck } from '../../eval/report/types';
import type { Placement, Trace } from '../../eval/workload/traces';

/** Relative agreement required between the simulator and a live run. */
export const AGREEMENT_TOLERANCE = 0.1;

export interface AgreementInput {
  config: SerflowConfig;
  model: string;
  trace: Trace;
  rateFactor: number;
  startS: number;
  policies: PolicyName[];
  sloMs: number;
  timeScale: number;
  seed: number;
  placement: Placement;
  /** Orchestration pricing of the live run (so both sides price actions alike). */
  orchestrationPricing?: OrchestrationPricing;
  live: Record<string, PolicyFigures>;
}

/** VM + serverless: what the system model decides (orchestration follows from the stages run). */
const computeUsd = (f: PolicyFigures) => f.vmUsd + f.serverlessUsd;

/** Relative difference of `sim` from `live` (0 when both are 0). */
function relative(sim: number, live: number): number {
  if (live === 0) return sim === 0 ? 0 : Infinity;
  return (sim - live) / live;
}

/** Exit shares per stage observed in a live run: (executions of stage k − of stage k+1) / queries. */
export function observedExitShares(f: PolicyFigures): number[] | undefined {
  const runs = f.stageExecutions.map((s) => s.vm + s.serverless);
  const total = runs[0] ?? 0;
  if (total <= 0) return undefined;
  return runs.map((n, k) => Math.max(0, n - (runs[k + 1] ?? 0)) / total);
}

/** One check per policy and measure (total cost, SLO attainment), and a note with the simulated figures. */
export function simAgreement(i: AgreementInput): { targets: TargetCheck[]; note: string } {
  const setup = setupFromConfig(i.config, i.model, {
    platform: 'local',
    timeScale: i.timeScale,
    sloMs: i.sloMs,
    placement: i.placement,
    ...(i.orchestrationPricing ? { orchestrationPricing: i.orchestrationPricing } : {}),
  });
  const first = i.policies.map((p) => i.live[p]).find((f) => f !== undefined);
  const shares = first ? observedExitShares(first) : undefined;
  const { report } = runSimComparison({
    setup,
    trace: i.trace,
    rateFactor: i.rateFactor,
    startS: i.startS,
    policies: i.policies,
    seed: i.seed,
    bound: false,
    ...(shares ? { exitSchedule: [{ atS: 0, exitShares: shares }] } : {}),
    command: 'bench agreement',
  });
  const targets: TargetCheck[] = [];
  const parts: string[] = [];
  for (const policy of i.policies) {
    const live = i.live[policy];
    const sim = report.policies[policy];
    if (!live || !sim) continue;
    const measures: Array<[string, number, number, (x: number) => string]> = [
      ['compute cost (VM + serverless)', computeUsd(sim), computeUsd(live), (x) => `$${x.toPrecision(4)}`],
      ['SLO attainment', sim.sloAttainment, live.sloAttainment, (x) => `${(x * 100).toFixed(2)} %`],
    ];
    for (const [label, s, l, fmt] of measures) {
      const d = relative(s, l);
      targets.push({
        name: `simulator agrees with live on ${policy} ${label} within ${AGREEMENT_TOLERANCE * 100} %`,
        met: Math.abs(d) <= AGREEMENT_TOLERANCE,
        detail: `simulated ${fmt(s)} vs live ${fmt(l)} (${(d * 100).toFixed(1)} %)`,
      });
    }
    parts.push(
      `${policy} $${computeUsd(sim).toPrecision(4)} compute, ${(sim.sloAttainment * 100).toFixed(2)} %, ` +
        `${sim.actionsPerQuery.toFixed(2)} actions per query (live ${live.actionsPerQuery.toFixed(2)})`,
    );
  }
  return {
    targets,
    note:
      `simulator on the same window, seed and placement (platform local, time scale ${i.timeScale}, the live exit shares ` +
      `${shares ? shares.map((x) => x.toFixed(3)).join('/') : 'n/a'}): ${parts.join('; ')}`,
  };
}
