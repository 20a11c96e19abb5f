/**
 * Orchestration on the bill: the Temporal actions a query causes, by Temporal Cloud's published definition of a
 * billable Action (https://docs.temporal.io/cloud/actions), restricted to the kinds a SERFLOW query can cause:
 * - workflow started (client start; a failed start records none);
 * - activity started or retried: every attempt that started on a worker counts, so a retried stage counts again
 *   (an execution that never started, such as a VM execution that overflowed to serverless, counts nothing);
 * - local activities: all local activities of one workflow task count as one action;
 * - activity heartbeats that reached the server (the SDK throttles the rest; they are not in the history);
 * - search-attribute upserts: one per upsert command, however many attributes it sets (attributes given at
 *   start are free);
 * - timers started and signals received.
 * Pure: counts and sums, no I/O. Where the counts come from: `actionsFromHistory` (history-actions.ts) for a
 * query that ran, `modelledQueryActions` for the simulator and the bound.
 */

export interface ActionCounts {
  workflowStarted: number;
  activityAttempts: number;
  localActivityTasks: number;
  heartbeats: number;
  searchAttributeUpserts: number;
  timersStarted: number;
  signals: number;
}

export const NO_ACTIONS: Readonly<ActionCounts> = Object.freeze({
  workflowStarted: 0,
  activityAttempts: 0,
  localActivityTasks: 0,
  heartbeats: 0,
  searchAttributeUpserts: 0,
  timersStarted: 0,
  signals: 0,
});

/** Billable actions in `counts`: every kind costs one action each. */
export function totalActions(counts: Readonly<ActionCounts>): number {
  return (
    counts.workflowStarted +
    counts.activityAttempts +
    counts.localActivityTasks +
    counts.heartbeats +
    counts.searchAttributeUpserts +
    counts.timersStarted +
    counts.signals
  );
}

/** `a + b`, kind by kind. */
export function addActions(a: Readonly<ActionCounts>, b: Readonly<ActionCounts>): ActionCounts {
  return {
    workflowStarted: a.workflowStarted + b.workflowStarted,
    activityAttempts: a.activityAttempts + b.activityAttempts,
    localActivityTasks: a.localActivityTasks + b.localActivityTasks,
    heartbeats: a.heartbeats + b.heartbeats,
    searchAttributeUpserts: a.searchAttributeUpserts + b.searchAttributeUpserts,
    timersStarted: a.timersStarted + b.timersStarted,
    signals: a.signals + b.signals,
  };
}

/** How the inference workflow spends actions around its stage activities (what today's code does). */
export interface WorkflowActionShape {
  /** Local-activity workflow tasks per query (the model lookup). */
  localActivityTasks: number;
  /** Search-attribute upserts per query (the result's attributes at the end). */
  searchAttributeUpserts: number;
  /** Heartbeats that reach the server per stage activity attempt. */
  heartbeatsPerAttempt: number;
}

/**
 * The shape of today's workflow for a query started by the SDK: the client hands the workflow its model descriptor
 * (no `describeModel` local activity), one upsert of the result's search attributes at the end, and no heartbeat
 * from a stage attempt far shorter than the heartbeat timeout (activities/heartbeat.ts sends none at the start).
 * A query exiting at stage k costs 2 + k actions.
 */
export const CURRENT_WORKFLOW_SHAPE: Readonly<WorkflowActionShape> = Object.freeze({
  localActivityTasks: 0,
  searchAttributeUpserts: 1,
  heartbeatsPerAttempt: 0,
});

/**
 * The shape before SERFLOW cut the actions per query (no local activity, no heartbeats), as the recorded histories
 * of test/fixtures/histories/local-activity/ show it: one local activity per query and one heartbeat per stage
 * attempt (3 + 2k actions).
 */
export const LOCAL_ACTIVITY_WORKFLOW_SHAPE: Readonly<WorkflowActionShape> = Object.freeze({
  localActivityTasks: 1,
  searchAttributeUpserts: 1,
  heartbeatsPerAttempt: 1,
});

/**
 * The actions of one query that ran `activities` stage activities (each started once: the simulator does not
 * model lost workers), in a workflow of `shape`: with one activity per stage, a query exiting at stage k costs
 * 2 + k actions in today's shape and 3 + 2k in the local-activity one; served by one fused activity, 3.
 */
export function modelledQueryActions(activities: number, shape: Readonly<WorkflowActionShape>): ActionCounts {
  return {
    ...NO_ACTIONS,
    workflowStarted: 1,
    activityAttempts: activities,
    localActivityTasks: shape.localActivityTasks,
    heartbeats: activities * shape.heartbeatsPerAttempt,
    searchAttributeUpserts: shape.searchAttributeUpserts,
  };
}

/**
 * The fewest actions any query can cost: its workflow start, one activity that runs it, and the upsert that
 * makes it findable by its result (the clairvoyant bound's orchestration).
 */
export const LEAST_QUERY_ACTIONS = 3;
