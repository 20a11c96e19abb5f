/**
 * The orchestration of a live run: the Temporal actions its queries caused. Each query's actions are counted from
 * its workflow history (bench/live/histories.ts); a query whose history could not be read is modelled as the
 * simulator models one (billing/actions.ts `modelledQueryActions`) from what it was seen to run: its stage
 * activity attempts, one per distinct (stage, attempt) among its stage events, so a retried stage counts again
 * (attempts that published no stage event, such as a function call throttled before it ran, are not seen). Pure.
 */
import {
  addActions,
  modelledQueryActions,
  NO_ACTIONS,
  totalActions,
  type ActionCounts,
  type WorkflowActionShape,
} from '../../billing/actions';
import type { StageEvent } from '../../common/events';
import type { ReplayResult } from './replay';

/**
 * Stage activity attempts of each replayed query (index n = query n, id `queryId(n)`): its distinct
 * (stage, attempt) stage events; a query with a result but no event (none published) counts its result's stages.
 */
export function observedActivities(
  replay: Pick<ReplayResult, 'queries'>,
  stages: readonly Pick<StageEvent, 'queryId' | 'stage' | 'attempt'>[],
  queryId: (n: number) => string,
): number[] {
  const attempts = new Map<string, Set<string>>();
  for (const e of stages) {
    let seen = attempts.get(e.queryId);
    if (!seen) attempts.set(e.queryId, (seen = new Set()));
    seen.add(`${e.stage}:${e.attempt}`);
  }
  return replay.queries.map((q) => attempts.get(queryId(q.n))?.size ?? q.result?.stages.length ?? 0);
}

/** A run's actions. */
export interface LiveActions {
  /** All the run's actions, by kind. */
  actions: ActionCounts;
  /** Total actions of each query, in query order. */
  perQuery: number[];
  /** Queries whose actions were counted from their history / modelled from their observed activities. */
  counted: number;
  modelled: number;
}

/**
 * Per query: `counted[n]` (from its history) where there is one, else `modelledQueryActions(activities[n], shape)`.
 * Without any history (`counted` empty), every query is modelled.
 */
export function liveActions(
  counted: ReadonlyArray<ActionCounts | undefined>,
  activities: readonly number[],
  shape: Readonly<WorkflowActionShape>,
): LiveActions {
  let actions: ActionCounts = { ...NO_ACTIONS };
  let fromHistory = 0;
  const perQuery = activities.map((n, q) => {
    const history = counted[q];
    if (history) fromHistory++;
    const one = history ?? modelledQueryActions(n, shape);
    actions = addActions(actions, one);
    return totalActions(one);
  });
  return { actions, perQuery, counted: fromHistory, modelled: perQuery.length - fromHistory };
}
