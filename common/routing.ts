/**
 * Routing plans: per stage of a model, where its executions go. Published by the control plane (or set
 * statically by `serflow route set`) in the NATS KV bucket `serflow-routing` under the model's name; the
 * workflow reads the plan once per query (a local activity, so the choice is in history and replays agree).
 * `validateRoutingPlan` checks a plan against its model (pure, no I/O): the model lookup before using one, and
 * `serflow route set` and the local cloud agent before publishing one.
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

/** A plan that does not fit its model: stage numbers, shares or overflow values out of range. */
export class InvalidRoutingPlanError extends Error {
  override readonly name = 'InvalidRoutingPlanError';
}

/** Check a plan against the model's stage count; throws InvalidRoutingPlanError naming the bad field. */
export function validateRoutingPlan(plan: RoutingPlan, stages: number): RoutingPlan {
  // Plans come from a KV bucket anyone can write: the version is checked at run time, whatever the type says.
  const version: unknown = plan.v;
  if (version !== ROUTING_PLAN_VERSION) {
    throw new InvalidRoutingPlanError(`v: expected ${ROUTING_PLAN_VERSION}, got ${JSON.stringify(version)}`);
  }
  const seen = new Set<number>();
  plan.stages.forEach((r: StageRoute, i) => {
    const where = `plan for ${plan.model}: stages[${i}]`;
    if (!Number.isInteger(r.stage) || r.stage < 1 || r.stage > stages) {
      throw new InvalidRoutingPlanError(`${where}.stage: ${r.stage} is not a stage of ${plan.model} (1..${stages})`);
    }
    if (seen.has(r.stage)) throw new InvalidRoutingPlanError(`${where}.stage: stage ${r.stage} appears twice`);
    seen.add(r.stage);
    if (!(r.vmShare >= 0 && r.vmShare <= 1))
      throw new InvalidRoutingPlanError(`${where}.vmShare: ${r.vmShare} is not in [0, 1]`);
    if (r.overflowAfterMs !== undefined && !(r.overflowAfterMs > 0)) {
      throw new InvalidRoutingPlanError(
        `${where}.overflowAfterMs: ${r.overflowAfterMs} must be a positive number of ms`,
      );
    }
  });
  return plan;
}

/** A plan spec could not be understood; the message says which part and what is accepted. */
export class InvalidPlanSpecError extends Error {
  override readonly name = 'InvalidPlanSpecError';
}

/** The spec forms `serflow route set` and the config accept. */
export const PLAN_SPEC_FORMS = 'all-vm | all-faas | vm-prefix:K | shares:s1,s2,...,sK (VM share per stage, 0..1)';

/**
 * A static plan from a short spec:
 * - `all-vm`: every stage on its VM pool; `all-faas`: every stage serverless;
 * - `vm-prefix:K`: stages 1..K on VMs, K+1.. serverless (the usual shape: p_k falls with k);
 * - `shares:1,1,0.5,0`: per stage, the share of executions sent to VMs.
 * `overflowAfterMs` (optional) applies to every stage with VMs.
 */
export function planFromSpec(
  spec: string,
  model: string,
  stages: number,
  now: number,
  overflowAfterMs?: number,
): RoutingPlan {
  const [kind, arg] = spec.split(':', 2) as [string, string | undefined];
  let shares: number[];
  if (kind === 'all-vm' && arg === undefined) shares = Array<number>(stages).fill(1);
  else if (kind === 'all-faas' && arg === undefined) shares = Array<number>(stages).fill(0);
  else if (kind === 'vm-prefix') {
    const k = Number(arg);
    if (!Number.isInteger(k) || k < 0 || k > stages) {
      throw new InvalidPlanSpecError(
        `${spec}: K must be a whole number in 0..${stages} (${model} has ${stages} stages)`,
      );
    }
    shares = Array.from({ length: stages }, (_, i) => (i < k ? 1 : 0));
  } else if (kind === 'shares') {
    shares = (arg ?? '').split(',').map(Number);
    if (shares.length !== stages || shares.some((x) => !(x >= 0 && x <= 1))) {
      throw new InvalidPlanSpecError(
        `${spec}: give ${stages} shares in [0, 1] separated by commas, one per stage of ${model}`,
      );
    }
  } else {
    throw new InvalidPlanSpecError(`unknown plan spec ${JSON.stringify(spec)}; expected ${PLAN_SPEC_FORMS}`);
  }
  return {
    v: ROUTING_PLAN_VERSION,
    model,
    stages: shares.map((vmShare, i) => ({
      stage: i + 1,
      vmShare,
      ...(overflowAfterMs !== undefined && vmShare > 0 ? { overflowAfterMs } : {}),
    })),
    source: `static:${spec}`,
    updatedAt: now,
  };
}
