/**
 * Checks of a query's model descriptor (`InferenceQuery.descriptor`) and of the query's threshold and stage cap
 * against the model. A descriptor arrives with the workflow input, and anyone who can start a workflow can send
 * one, so the workflow checks it before trusting its timeouts, attempts and plan; the client runs the same
 * checks before it starts a query, and the model lookup (models/descriptor.ts) the range checks.
 * Pure and sandbox-safe: workflow code imports this file. Throws our typed errors; the workflow turns them into
 * non-retryable ApplicationFailures of the same type.
 */
import type { InferenceQuery, ModelDescriptor } from './contracts';
import { InvalidInputError, UnknownStageError } from './errors';
import { InvalidRoutingPlanError, ROUTING_PLAN_VERSION, validateRoutingPlan } from './routing';
import { MAX_TENSOR_RANK } from './tensor-codec';

/** Most stages a descriptor may declare: far above any early-exit model, low enough to bound a bad payload. */
export const MAX_DESCRIPTOR_STAGES = 100;

/** The threshold and stage cap of a query against a model of `stages` stages. */
export function checkQueryRanges(
  query: Pick<InferenceQuery, 'model' | 'maxStage' | 'threshold'>,
  stages: number,
): void {
  if (
    query.maxStage !== undefined &&
    !(Number.isInteger(query.maxStage) && query.maxStage >= 1 && query.maxStage <= stages)
  ) {
    throw new UnknownStageError(
      `maxStage ${query.maxStage} is out of range: model ${query.model} has stages 1..${stages}`,
    );
  }
  if (query.threshold !== undefined && !(query.threshold > 0 && query.threshold <= 1)) {
    throw new InvalidInputError(`threshold ${query.threshold} is out of range (0, 1]`);
  }
}

/** `field: expected <what>, got <value>` as an InvalidInputError. */
export function fieldError(field: string, what: string, value: unknown): InvalidInputError {
  return new InvalidInputError(`${field}: expected ${what}, got ${show(value)}`);
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Check `obj[key]` with `ok`; throws `<where>.<key>: expected <what>, got ...`. */
function need(obj: Record<string, unknown>, where: string, key: string, what: string, ok: (v: unknown) => boolean) {
  if (!ok(obj[key])) throw fieldError(`${where}.${key}`, what, obj[key]);
}

const positiveInteger = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
const nonNegativeInteger = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const positiveNumber = (v: unknown) => isFiniteNumber(v) && v > 0;

/** Input dims as a descriptor gives them: fixed sizes, and -1 for a free dimension (any size). */
export function isInputDims(v: unknown): v is number[] {
  return (
    Array.isArray(v) &&
    v.length >= 1 &&
    v.length <= MAX_TENSOR_RANK &&
    v.every((d) => Number.isInteger(d) && ((d as number) >= 1 || d === -1))
  );
}

/**
 * `value` as the descriptor of a query for `model`: its structure, types and ranges, and its routing plan
 * against its stage count. Unknown extra fields are left alone (a newer client may send more).
 * @throws InvalidInputError naming the field: `descriptor.stageMaxAttempts: expected an integer >= 1, got 0`
 */
export function checkDescriptor(value: unknown, model: string): ModelDescriptor {
  const where = 'descriptor';
  if (!isRecord(value)) throw fieldError(where, 'an object', value);
  need(value, where, 'model', JSON.stringify(model), (v) => v === model);
  need(value, where, 'stages', `an integer in 1..${MAX_DESCRIPTOR_STAGES}`, (v) => {
    return positiveInteger(v) && (v as number) <= MAX_DESCRIPTOR_STAGES;
  });
  need(value, where, 'defaultThreshold', 'a number in [0, 1]', (v) => isFiniteNumber(v) && v >= 0 && v <= 1);
  need(value, where, 'inputDims', `1..${MAX_TENSOR_RANK} dims, each >= 1 or -1 (free)`, isInputDims);
  need(value, where, 'inlineActivationMaxBytes', 'an integer >= 0', nonNegativeInteger);
  need(value, where, 'stageTimeoutMs', 'a positive number of ms', positiveNumber);
  need(value, where, 'stageMaxAttempts', 'an integer >= 1', positiveInteger);
  // 0 = no heartbeat timeout (workflows/activity-options.ts sets none), as in histories from before heartbeats.
  need(value, where, 'stageHeartbeatTimeoutMs', 'a number of ms >= 0', (v) => isFiniteNumber(v) && v >= 0);
  need(value, where, 'faasStageTimeoutMs', 'a positive number of ms', positiveNumber);
  need(value, where, 'faasStageMaxAttempts', 'an integer >= 1', positiveInteger);
  if (value.stageQueueTimeoutMs !== undefined) {
    need(value, where, 'stageQueueTimeoutMs', 'a positive number of ms', positiveNumber);
  }
  checkRouting(value.routing, value.stages as number);
  return value as unknown as ModelDescriptor;
}

/**
 * The routing plan's structure here, its stage numbers, shares and overflow values by `validateRoutingPlan`. Only
 * what the workflow reads is checked: its `model`, `source` and `updatedAt` are for people and are left alone.
 */
function checkRouting(plan: unknown, stages: number): void {
  const where = 'descriptor.routing';
  if (!isRecord(plan)) throw fieldError(where, 'a routing plan object', plan);
  need(plan, where, 'v', String(ROUTING_PLAN_VERSION), (v) => v === ROUTING_PLAN_VERSION);
  need(plan, where, 'stages', `a list of at most ${stages} stage routes`, (v) => {
    return Array.isArray(v) && v.length <= stages;
  });
  (plan.stages as unknown[]).forEach((route, i) => {
    const at = `${where}.stages[${i}]`;
    if (!isRecord(route)) throw fieldError(at, 'a stage route object', route);
    need(route, at, 'stage', 'an integer', (v) => Number.isInteger(v));
    need(route, at, 'vmShare', 'a number in [0, 1]', isFiniteNumber);
    need(route, at, 'overflowAfterMs', 'a positive number of ms or nothing', (v) => {
      return v === undefined || positiveNumber(v);
    });
  });
  try {
    validateRoutingPlan(plan as never, stages);
  } catch (err) {
    if (err instanceof InvalidRoutingPlanError) throw new InvalidInputError(`${where}: ${err.message}`);
    throw err;
  }
}
