/**
 * Routing plans: per stage of a model, where its executions go. Published by the control plane (or set
 * statically by `serflow route set`) in the NATS KV bucket `serflow-routing` under the model's name; the
 * workflow reads the plan once per query (a local activity, so the choice is in history and replays agree).
 * Sandbox-safe: workflow code imports this file.
 */
import type { Backend } from './naming';

export const ROUTING_PLAN_VERSION = 1;

/** Where one stage's executions go. */
export interface StageRoute {
  stage: number;
  /**
   * Share of this stage's executions sent to its VM pool (0..1); the rest go serverless.
   * 1 = all VM, 0 = all serverless (a stage without VMs).
   */
  vmShare: number;
  /**
   * VM executions not started within this long (ms) are taken back and sent serverless instead: overflow
   * when the pool is saturated or has no ready VM. Unset = wait for the VM pool.
   */
  overflowAfterMs?: number;
}

export interface RoutingPlan {
  v: typeof ROUTING_PLAN_VERSION;
  model: string;
  stages: StageRoute[];
  /** Who set it (`static:<name>`, `autoscaler:<policy>`), and when (epoch ms). */
  source: string;
  updatedAt: number;
}

/** The plan used when none is published: every stage on its VM pool (the foundation's behaviour). */
export function allVmPlan(model: string, stages: number, now = 0): RoutingPlan {
  return {
    v: ROUTING_PLAN_VERSION,
    model,
    stages: Array.from({ length: stages }, (_, i) => ({ stage: i + 1, vmShare: 1 })),
    source: 'default:all-vm',
    updatedAt: now,
  };
}

/**
 * The backend for one execution of `stage`. `u` is a uniform draw in [0, 1) made by the caller (in workflows,
 * Temporal's deterministic `Math.random()`), so a share is honoured on average and replays decide the same.
 */
export function chooseBackend(plan: RoutingPlan, stage: number, u: number): Backend {
  const route = plan.stages.find((r) => r.stage === stage);
  const share = route?.vmShare ?? 1;
  return u < share ? 'vm' : 'faas';
}
