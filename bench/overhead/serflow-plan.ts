/**
 * The plan SERFLOW picks for the benchmark's load: the real SERFLOW policy (autoscaler/policies/serflow.ts, with
 * the stack's config and the model's committed profile) fed a steady load of `qps` queries/s at stage 1 and the
 * profile's reach probabilities deeper, tick after tick, with the pools it asks for ready at once (the benchmark's
 * VMs boot in 0 s), until its decision repeats. What it decides (pools, shares, fused runs) is what step 5 measures
 * as the `serflow` plan.
 */
import { planFromDecision } from '../../autoscaler/controller';
import { serflowPolicy, type SerflowState } from '../../autoscaler/policies';
import { compileForModel } from '../../autoscaler/service';
import type { Decision, Observation } from '../../autoscaler/types';
import type { SerflowConfig } from '../../common/config';
import type { RoutingPlan } from '../../common/routing';

/** Ticks the policy gets to settle: a re-size, then the decision must repeat. Ample: it settles in two. */
const MAX_TICKS = 20;

export interface SerflowBenchPlan {
  decision: Decision;
  plan: RoutingPlan;
  /** VMs per pool: 0 = the whole-model pool, k = stage k. */
  pools: Array<{ stage: number; vms: number }>;
  /** Ticks the policy took until its decision repeated. */
  ticks: number;
}

export function serflowPlanFor(config: SerflowConfig, model: string, qps: number, now = Date.now()): SerflowBenchPlan {
  if (!(qps > 0)) throw new Error(`serflow plan: the load must be a positive rate, got ${qps} q/s`);
  const compiled = compileForModel(config, model, 'serflow');
  const K = compiled.stages.length;
  const windowMs = compiled.updateIntervalMs / compiled.timeScale;
  let state: SerflowState = serflowPolicy.initialState(compiled);
  let vms = new Array<number>(K + 1).fill(0);
  let last = '';
  for (let tick = 1; tick <= MAX_TICKS; tick++) {
    const at = tick * compiled.updateIntervalMs;
    const observation: Observation = {
      now: at,
      model,
      windowMs,
      stages: compiled.stages.map((s) => ({
        stage: s.stage,
        arrivals: (qps * s.reachProbability * windowMs) / 1000,
        exits: 0,
        vmExecutions: 0,
        faasExecutions: 0,
      })),
      pools: vms.map((n, stage) => ({ stage, vmsReady: n, vmsBooting: 0, vmsDraining: 0 })),
    };
    const r = serflowPolicy.decide(observation, compiled, state, at);
    state = r.state;
    const d = r.decision;
    if (!d.valid) continue;
    vms = [d.wholeModelVms ?? vms[0] ?? 0, ...d.stages.map((s) => s.desiredVms)];
    const key = JSON.stringify({ vms, stages: d.stages.map((s) => [s.vmShare, s.overflowAfterMs]), fused: d.fused });
    if (key === last) {
      return {
        decision: d,
        plan: planFromDecision(model, d, 'serflow', now),
        pools: vms.map((n, stage) => ({ stage, vms: n })),
        ticks: tick,
      };
    }
    last = key;
  }
  throw new Error(`serflow plan: the policy did not settle within ${MAX_TICKS} ticks at ${qps} q/s`);
}
