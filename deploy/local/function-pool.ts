/**
 * The instance pool of the local serverless platform: a pure state machine of `(state, event, now)` that decides
 * warm / cold / throttled and which idle instances the keep-alive reclaims. No clock, process or NATS inside, so it
 * is tested table-driven on virtual time; `serverless-platform.ts` applies its decisions.
 */
import { UnknownStageError } from '../../common/errors';
import type { FunctionInstanceInfo, FunctionRef } from '../../infra/providers';

/** All function instances of the platform. Never mutated: every transition returns a new state. */
export interface PoolState {
  readonly instances: readonly FunctionInstanceInfo[];
}

export const EMPTY_POOL: PoolState = { instances: [] };

/** Limits of the pool, wall-clock (already divided by the time scale). */
export interface PoolLimits {
  /** Executions in flight (busy instances + instances starting for a request) across all functions. */
  accountConcurrency: number;
  /** An instance idle this long (wall ms) is reclaimed. */
  keepAliveWallMs: number;
}

export type AcquireDecision =
  | { kind: 'warm'; instanceId: string }
  | { kind: 'cold'; instanceId: string }
  | { kind: 'throttled'; concurrency: number };

/**
 * Executions in flight, as Lambda counts concurrency: instances busy with a request plus instances starting
 * for one. Idle warm instances do not count.
 */
export function inFlight(state: PoolState): number {
  return state.instances.filter((i) => i.state !== 'idle').length;
}

/** Last stage a function holds: its `lastStage` for a fused function, else its one stage. */
export const lastStageOf = (fn: Pick<FunctionRef, 'stage' | 'lastStage'>): number => fn.lastStage ?? fn.stage;

/** Whether `fn` is a fused function (holds more than one stage). */
export const isFused = (fn: Pick<FunctionRef, 'stage' | 'lastStage'>): boolean => lastStageOf(fn) !== fn.stage;

/** The function as messages name it: `mnist-ee stage 2`, or `mnist-ee stages 1-4` for a fused one. */
export function functionName(fn: FunctionRef): string {
  return isFused(fn) ? `${fn.model} stages ${fn.stage}-${lastStageOf(fn)}` : `${fn.model} stage ${fn.stage}`;
}

/**
 * Check that `fn` names a function of a model with stages 1..`stages`: its stage, and for a fused function its last
 * stage after it. Throws UnknownStageError (non-retryable: the caller's mistake) naming the bad field.
 */
export function checkFunctionRef(fn: FunctionRef, stages: number): void {
  if (!Number.isInteger(fn.stage) || fn.stage < 1 || fn.stage > stages) {
    throw new UnknownStageError(`${fn.model} has stages 1..${stages}; there is no function for stage ${fn.stage}`);
  }
  const last: unknown = fn.lastStage;
  if (last === undefined) return;
  if (typeof last !== 'number' || !Number.isInteger(last) || last < fn.stage || last > stages) {
    throw new UnknownStageError(
      `${fn.model} has stages 1..${stages}; a fused function from stage ${fn.stage} cannot end at lastStage ${JSON.stringify(last)} (expected ${fn.stage}..${stages})`,
    );
  }
}

/**
 * Configured memory of a function, MB: a stage's `faas.stageMemoryMb[k] ?? faas.memoryMb`; a fused function's is the
 * largest of its stages' (it holds them all and runs each in turn, so it needs the memory of the hungriest).
 */
export function functionMemoryMb(
  fn: Pick<FunctionRef, 'stage' | 'lastStage'>,
  faas: { memoryMb: number; stageMemoryMb: Readonly<Record<string, number>> },
): number {
  let memoryMb = 0;
  for (let k = fn.stage; k <= lastStageOf(fn); k++) {
    memoryMb = Math.max(memoryMb, faas.stageMemoryMb[String(k)] ?? faas.memoryMb);
  }
  return memoryMb;
}

/** Same deployment: a fused function's instances serve only calls of that same run, never of its stages alone. */
const sameFunction = (i: FunctionInstanceInfo, fn: FunctionRef) =>
  i.model === fn.model && i.stage === fn.stage && lastStageOf(i) === lastStageOf(fn);

/**
 * Decide where a call to `fn` runs, at wall time `now`:
 * 1. at the concurrency limit: throttled (even if an idle instance exists: on Lambda the limit caps concurrent
 *    executions, and running on a warm instance is one);
 * 2. an idle instance of `fn` (the same function: a fused function's instances are its own): warm, on the most recently used one (the least recently used ones stay idle and
 *    are the first the keep-alive reclaims, so a shrinking load frees instances instead of keeping all warm);
 * 3. else cold: a new instance `newInstanceId` in state `starting`, which counts against the limit at once.
 */
export function acquireInstance(
  state: PoolState,
  fn: FunctionRef & { memoryMb: number },
  now: number,
  newInstanceId: string,
  limits: Pick<PoolLimits, 'accountConcurrency'>,
): { state: PoolState; decision: AcquireDecision } {
  const concurrency = inFlight(state);
  if (concurrency >= limits.accountConcurrency) return { state, decision: { kind: 'throttled', concurrency } };
  let pick: FunctionInstanceInfo | undefined;
  for (const i of state.instances) {
    if (i.state === 'idle' && sameFunction(i, fn) && (!pick || (i.lastUsedAt ?? 0) > (pick.lastUsedAt ?? 0))) pick = i;
  }
  if (pick) {
    const id = pick.instanceId;
    return {
      state: { instances: state.instances.map((i) => (i.instanceId === id ? { ...i, state: 'busy' } : i)) },
      decision: { kind: 'warm', instanceId: id },
    };
  }
  const created: FunctionInstanceInfo = {
    instanceId: newInstanceId,
    model: fn.model,
    stage: fn.stage,
    ...(isFused(fn) ? { lastStage: lastStageOf(fn) } : {}),
    memoryMb: fn.memoryMb,
    state: 'starting',
    startedAt: now,
    invocations: 0,
  };
  return { state: { instances: [...state.instances, created] }, decision: { kind: 'cold', instanceId: newInstanceId } };
}

function update(state: PoolState, id: string, f: (i: FunctionInstanceInfo) => FunctionInstanceInfo): PoolState {
  return { instances: state.instances.map((i) => (i.instanceId === id ? f(i) : i)) };
}

/** A starting instance is ready: it now runs the request it was started for. */
export function markReady(state: PoolState, instanceId: string): PoolState {
  return update(state, instanceId, (i) => (i.state === 'starting' ? { ...i, state: 'busy' } : i));
}

/** An invocation on `instanceId` ended at `now`: the instance is idle and its keep-alive starts over. */
export function releaseInstance(state: PoolState, instanceId: string, now: number): PoolState {
  return update(state, instanceId, (i) => ({ ...i, state: 'idle', lastUsedAt: now, invocations: i.invocations + 1 }));
}

/** The instance is gone (crashed, failed to start, stopped). */
export function removeInstance(state: PoolState, instanceId: string): PoolState {
  return { instances: state.instances.filter((i) => i.instanceId !== instanceId) };
}

/** When the next idle instance expires (wall ms), or undefined when none is idle. */
export function nextExpiryAt(state: PoolState, keepAliveWallMs: number): number | undefined {
  let at: number | undefined;
  for (const i of state.instances) {
    if (i.state !== 'idle') continue;
    const t = (i.lastUsedAt ?? i.startedAt) + keepAliveWallMs;
    if (at === undefined || t < at) at = t;
  }
  return at;
}

/** Remove the instances idle for at least the keep-alive at `now`; returns them so they can be stopped. */
export function reclaimExpired(
  state: PoolState,
  now: number,
  keepAliveWallMs: number,
): { state: PoolState; reclaimed: FunctionInstanceInfo[] } {
  const expired = (i: FunctionInstanceInfo) =>
    i.state === 'idle' && now - (i.lastUsedAt ?? i.startedAt) >= keepAliveWallMs;
  const reclaimed = state.instances.filter(expired);
  if (reclaimed.length === 0) return { state, reclaimed };
  return { state: { instances: state.instances.filter((i) => !expired(i)) }, reclaimed };
}
