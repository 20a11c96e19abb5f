/**
 * Routing plans: per stage of a model, where its executions go. Published by the control plane (or set
 * statically by `serflow route set`) in the NATS KV bucket `serflow-routing` under the model's name; the
 * client resolves it into the query's descriptor (or the workflow's model lookup reads it), once per query, so it is
 * in history and replays agree. A plan may also fuse runs of stages into one activity (`FusedRun`).
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

/**
 * A run of consecutive stages executed as ONE activity, with the early exits inside it (stage fusion): one
 * Temporal activity instead of one per stage, and no hop through Temporal between its stages. The run goes where
 * stage `first`'s route sends it: with probability `vmShare` to the whole-model VM pool (its VMs hold every stage;
 * queue `wholeModelQueue(model, 'vm')`), overflowing to functions after `first`'s `overflowAfterMs`; else to one
 * invocation of the run's function (which holds stages first..last; queue `wholeModelQueue(model, 'faas')`).
 * The routes of its later stages are not drawn: a query that reaches them is already inside the run.
 */
export interface FusedRun {
  /** First and last stage of the run, 1-based, first < last. */
  first: number;
  last: number;
}

export interface RoutingPlan {
  v: typeof ROUTING_PLAN_VERSION;
  model: string;
  stages: StageRoute[];
  /**
   * Stage runs executed as one activity each, in stage order, not overlapping. Absent or empty: every stage is its
   * own activity (plans published before fusion existed read the same way).
   */
  fused?: FusedRun[];
  /** Who set it (`static:<name>`, `autoscaler:<policy>`), and when (epoch ms). */
  source: string;
  updatedAt: number;
}

/**
 * A value in the routing bucket that is not a valid plan (any NATS client can write the bucket): it is never put
 * in force; readers report `rejected` and keep the last good plan, or, with none, run every stage serverless.
 */
export interface RejectedPlan {
  model: string;
  rejected: string;
}

/** What the routing bucket holds for a model, as read: a plan, or a value that was rejected. */
export type StoredPlan = RoutingPlan | RejectedPlan;

export function isRejectedPlan(p: StoredPlan | null | undefined): p is RejectedPlan {
  return p !== null && p !== undefined && 'rejected' in p;
}

/** Most stages a stored plan may route: far above any early-exit model, low enough to bound a bad value. */
export const MAX_PLAN_STAGES = 100;

/**
 * The one check of a plan as stored under key `model`, run by every writer before it puts a plan and by every
 * reader on what it gets: the fields every reader relies on (an object for this model, a source and a time) and
 * `validateRoutingPlan`'s ranges, up to MAX_PLAN_STAGES stages (whether the plan fits its model's stage count is
 * checked where the model is known, models/descriptor.ts `usablePlan`). Throws InvalidRoutingPlanError.
 */
export function checkStoredPlan(raw: unknown, model: string): RoutingPlan {
  const where = `plan for ${model}`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidRoutingPlanError(`${where}: expected a plan object, got ${JSON.stringify(raw)?.slice(0, 80)}`);
  }
  const p = raw as Record<string, unknown>;
  if (p.model !== model) {
    throw new InvalidRoutingPlanError(
      `${where}: model: expected ${JSON.stringify(model)}, got ${JSON.stringify(p.model)}`,
    );
  }
  if (typeof p.source !== 'string' || p.source.length === 0) {
    throw new InvalidRoutingPlanError(`${where}: source: expected a non-empty string, got ${JSON.stringify(p.source)}`);
  }
  if (typeof p.updatedAt !== 'number' || !Number.isFinite(p.updatedAt)) {
    throw new InvalidRoutingPlanError(`${where}: updatedAt: expected epoch ms, got ${JSON.stringify(p.updatedAt)}`);
  }
  if (!Array.isArray(p.stages) || p.stages.length > MAX_PLAN_STAGES) {
    throw new InvalidRoutingPlanError(`${where}: stages: expected a list of at most ${MAX_PLAN_STAGES} stage routes`);
  }
  p.stages.forEach((r: unknown, i) => {
    if (r === null || typeof r !== 'object') {
      throw new InvalidRoutingPlanError(
        `${where}: stages[${i}]: expected a stage route object, got ${JSON.stringify(r)}`,
      );
    }
  });
  return validateRoutingPlan(raw as RoutingPlan, MAX_PLAN_STAGES);
}

/** Every stage serverless: what queries run on when the stored value was rejected and no good plan was seen. */
export function allServerlessPlan(model: string, stages: number, source: string, now = 0): RoutingPlan {
  return {
    v: ROUTING_PLAN_VERSION,
    model,
    stages: Array.from({ length: stages }, (_, i) => ({ stage: i + 1, vmShare: 0 })),
    source,
    updatedAt: now,
  };
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

/** The fused run that starts at `stage`, if any (a stage inside a run but not its first is never asked for). */
export function fusedRunAt(plan: RoutingPlan, stage: number): FusedRun | undefined {
  return plan.fused?.find((r) => r.first === stage);
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
  checkFusedRuns(plan, stages);
  return plan;
}

function checkFusedRuns(plan: RoutingPlan, stages: number): void {
  const runs: unknown = plan.fused;
  if (runs === undefined) return;
  if (!Array.isArray(runs))
    throw new InvalidRoutingPlanError(`plan for ${plan.model}: fused: expected an array of runs`);
  let after = 0;
  (runs as FusedRun[]).forEach((r, i) => {
    const where = `plan for ${plan.model}: fused[${i}]`;
    if (!Number.isInteger(r?.first) || !Number.isInteger(r?.last) || r.first < 1 || r.last > stages) {
      throw new InvalidRoutingPlanError(
        `${where}: ${JSON.stringify(r)} must name stages first..last of ${plan.model} (1..${stages})`,
      );
    }
    if (r.first >= r.last) throw new InvalidRoutingPlanError(`${where}: first ${r.first} must be below last ${r.last}`);
    if (r.first <= after) {
      throw new InvalidRoutingPlanError(
        `${where}: starts at stage ${r.first}, inside or before the run ending at ${after}`,
      );
    }
    after = r.last;
  });
}

/** A plan spec could not be understood; the message says which part and what is accepted. */
export class InvalidPlanSpecError extends Error {
  override readonly name = 'InvalidPlanSpecError';
}

/** The spec forms `serflow route set` and the config accept. */
export const PLAN_SPEC_FORMS =
  'all-vm | all-faas | vm-prefix:K | shares:s1,s2,...,sK (VM share per stage, 0..1), ' +
  'each optionally followed by +fuse:A-B (stages A..B as one activity; repeatable)';

/** A plan spec's share part, parsed without the model (`parsePlanSpec`). */
export type PlanSpecShares =
  { kind: 'all-vm' } | { kind: 'all-faas' } | { kind: 'vm-prefix'; k: number } | { kind: 'shares'; values: number[] };

/** A plan spec as written, before the model's stage count is known. */
export interface PlanSpecSyntax {
  shares: PlanSpecShares;
  fused: FusedRun[];
}

/** A whole number, and a decimal such as `1`, `0.5`, `.5` or `1.` (what `Number` reads, but never empty). */
const WHOLE_NUMBER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

/**
 * The syntax of a plan spec, without the model (`planFromSpec` then checks it against the model's stages). The
 * config's `routing.plan` is checked with this, so a typo fails when the configuration is read, not when the stack
 * publishes it, and both read one grammar.
 */
export function parsePlanSpec(spec: string, model?: { name: string; stages: number }): PlanSpecSyntax {
  const bound = model ? ` <= ${model.stages} (${model.name} has ${model.stages} stages)` : '';
  const [shareSpec = '', ...fuseParts] = spec.split('+');
  const fused = fuseParts.map((part) => {
    const m = /^fuse:(\d+)-(\d+)$/.exec(part);
    const first = Number(m?.[1]);
    const last = Number(m?.[2]);
    if (!m || first < 1 || first >= last || (model && last > model.stages)) {
      throw new InvalidPlanSpecError(`${spec}: ${JSON.stringify(part)} must be fuse:A-B with 1 <= A < B${bound}`);
    }
    return { first, last };
  });
  const colon = shareSpec.indexOf(':');
  const kind = colon < 0 ? shareSpec : shareSpec.slice(0, colon);
  const arg = colon < 0 ? undefined : shareSpec.slice(colon + 1);
  if ((kind === 'all-vm' || kind === 'all-faas') && arg === undefined) return { shares: { kind }, fused };
  if (kind === 'vm-prefix') {
    if (arg === undefined || !WHOLE_NUMBER.test(arg)) {
      throw new InvalidPlanSpecError(`${spec}: vm-prefix:K needs a whole number K`);
    }
    return { shares: { kind, k: Number(arg) }, fused };
  }
  if (kind === 'shares') {
    const parts = (arg ?? '').split(',');
    const bad = parts.find((x) => !DECIMAL.test(x) || Number(x) > 1);
    if (bad !== undefined) {
      throw new InvalidPlanSpecError(
        `${spec}: ${JSON.stringify(bad)} is not a share in [0, 1]; give one per stage, separated by commas`,
      );
    }
    return { shares: { kind, values: parts.map(Number) }, fused };
  }
  throw new InvalidPlanSpecError(`unknown plan spec ${JSON.stringify(spec)}; expected ${PLAN_SPEC_FORMS}`);
}

/**
 * A static plan from a short spec:
 * - `all-vm`: every stage on its VM pool; `all-faas`: every stage serverless;
 * - `vm-prefix:K`: stages 1..K on VMs, K+1.. serverless (the usual shape: p_k falls with k);
 * - `shares:1,1,0.5,0`: per stage, the share of executions sent to VMs.
 * `overflowAfterMs` (optional) applies to every stage with VMs.
 * Any form may end in `+fuse:A-B` parts (e.g. `all-vm+fuse:1-4`: every query runs as one activity on the
 * whole-model VM pool; `vm-prefix:1+fuse:2-4`: stage 1 on its pool, the rest as one function invocation).
 */
export function planFromSpec(
  spec: string,
  model: string,
  stages: number,
  now: number,
  overflowAfterMs?: number,
): RoutingPlan {
  const parsed = parsePlanSpec(spec, { name: model, stages });
  let shares: number[];
  switch (parsed.shares.kind) {
    case 'all-vm':
      shares = Array<number>(stages).fill(1);
      break;
    case 'all-faas':
      shares = Array<number>(stages).fill(0);
      break;
    case 'vm-prefix': {
      const { k } = parsed.shares;
      if (k > stages) {
        throw new InvalidPlanSpecError(
          `${spec}: K must be a whole number in 0..${stages} (${model} has ${stages} stages)`,
        );
      }
      shares = Array.from({ length: stages }, (_, i) => (i < k ? 1 : 0));
      break;
    }
    case 'shares':
      shares = parsed.shares.values;
      if (shares.length !== stages) {
        throw new InvalidPlanSpecError(
          `${spec}: give ${stages} shares in [0, 1] separated by commas, one per stage of ${model}`,
        );
      }
  }
  return {
    v: ROUTING_PLAN_VERSION,
    model,
    stages: shares.map((vmShare, i) => ({
      stage: i + 1,
      vmShare,
      ...(overflowAfterMs !== undefined && vmShare > 0 ? { overflowAfterMs } : {}),
    })),
    ...(parsed.fused.length > 0 ? { fused: parsed.fused } : {}),
    source: `static:${spec}`,
    updatedAt: now,
  };
}
