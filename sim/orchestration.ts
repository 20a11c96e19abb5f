/**
 * Orchestration in the simulator: the Temporal actions of the simulated queries and what they cost. The engine
 * counts the stage activities each query started: one per stage executed on its own, and one per fused run
 * (routing.ts `FusedRun`: stages first..last in one activity, on a whole-model VM or in one function invocation)
 * whatever number of its stages the query ran; an activity that overflowed from a VM queue to a function is one
 * started activity, the VM one never started. The actions of a query follow from that count and the workflow's
 * shape (billing/actions.ts `modelledQueryActions`; a fused run is one attempt, so its heartbeats are one attempt's),
 * so a change of the workflow (no local activity, fewer heartbeats) is a different shape, not a different engine.
 */
import {
  modelledQueryActions,
  NO_ACTIONS,
  totalActions,
  type ActionCounts,
  type WorkflowActionShape,
} from '../billing/actions';

/** How the simulated cloud bills orchestration. */
export interface SimOrchestration {
  /** USD per Temporal action (billing/prices.ts `usdPerAction`; 0 for a setup without a workflow engine). */
  usdPerAction: number;
  /** How the workflow spends actions around its stage activities. */
  shape: Readonly<WorkflowActionShape>;
}

/**
 * `table[n]`: total actions of a query that started n stage activities, n = 0..maxActivities. The engine adds
 * `table[n] − table[n − 1]` as the n-th activity starts, so its running count is exact at every instant whatever
 * the shape (the n = 0 entry is charged at the query's arrival: its workflow start and per-query overhead).
 */
export function actionsTable(maxActivities: number, shape: Readonly<WorkflowActionShape>): Float64Array {
  return Float64Array.from({ length: maxActivities + 1 }, (_, n) => totalActions(modelledQueryActions(n, shape)));
}

/** The actions of a run by kind, from `queriesByActivities[n]` = queries that started n stage activities. */
export function runActionCounts(
  queriesByActivities: ArrayLike<number>,
  shape: Readonly<WorkflowActionShape>,
): ActionCounts {
  const sum: ActionCounts = { ...NO_ACTIONS };
  const kinds = Object.keys(NO_ACTIONS) as Array<keyof ActionCounts>;
  for (let n = 0; n < queriesByActivities.length; n++) {
    const queries = queriesByActivities[n] as number;
    if (queries === 0) continue;
    const one = modelledQueryActions(n, shape);
    for (const k of kinds) sum[k] += one[k] * queries;
  }
  return sum;
}
