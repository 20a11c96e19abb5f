/**
 * The Temporal actions one query really caused, counted from its workflow history by Temporal Cloud's definition
 * (billing/actions.ts). Pure: a history in, counts out.
 *
 * What each event counts:
 * - WORKFLOW_EXECUTION_STARTED: 1 workflow started;
 * - ACTIVITY_TASK_STARTED: its `attempt` activity attempts. The history keeps one started event per activity,
 *   for its last attempt, so `attempt` = N means N attempts started (retries count again); an activity that never
 *   started (a VM execution that timed out schedule-to-start and overflowed to serverless) has none and counts 0;
 * - MARKER_RECORDED `core_local_activity`: local activities, 1 per workflow task that ran any (markers grouped by
 *   their `workflowTaskCompletedEventId`);
 * - UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: 1 each, except an upsert that only sets `TemporalChangeVersion` (the SDK's
 *   own bookkeeping of `patched()`);
 * - TIMER_STARTED: 1; WORKFLOW_EXECUTION_SIGNALED: 1.
 *
 * Heartbeats are not in the history. A stage activity reports the heartbeats of its attempt that reached the
 * server in its result (`StageOutput.heartbeats`, JSON in ACTIVITY_TASK_COMPLETED's result), and that figure is
 * taken for the attempt that completed. Any other attempt (an earlier, retried attempt; one that failed or timed
 * out; a result without the field) is counted by the heartbeat code in force when the history was recorded:
 * - current code (activities/heartbeat.ts): no heartbeat at an attempt's start, then one every timeout / 4, so an
 *   attempt shorter than sdk-core's throttle interval (0.8 × the timeout: 1.6 s for the default 2 s) reaches the
 *   server with 0;
 * - earlier code (histories recorded before stage results carried `heartbeats`): a heartbeat at each attempt's
 *   start, which sdk-core sends at once, then one every timeout / 4, all held back by the throttle for the next
 *   1.6 s; stages take about 1 ms, so 1 per started attempt. (An attempt of that code longer than the throttle
 *   interval, such as a function cold start above 1.6 s, sent more than the 1 counted here.)
 * An activity scheduled without a heartbeat timeout sends none (the stage code heartbeats only with one, and other
 * activities, such as the overhead benchmark's floor, never do). The history is of the current code when any of
 * its results carries `heartbeats`. One without any completed
 * stage (a query rejected at its first stage) shows no sign and is counted as earlier code: 1 heartbeat too many
 * per failed attempt if it was recorded by the current code.
 */
import type { temporal } from '@temporalio/proto';
import { NO_ACTIONS, type ActionCounts } from './actions';

type IHistory = temporal.api.history.v1.IHistory;
type IHistoryEvent = temporal.api.history.v1.IHistoryEvent;
type IPayloads = temporal.api.common.v1.IPayloads;

/** Marker name sdk-core records for each local activity's outcome. */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** Search attribute the SDK upserts for `patched()`; not an upsert of the workflow's own. */
export const CHANGE_VERSION_SEARCH_ATTRIBUTE = 'TemporalChangeVersion';

/** Heartbeats an attempt without a reported count sent, by the heartbeat code that recorded the history. */
export const UNREPORTED_ATTEMPT_HEARTBEATS = { current: 0, earlier: 1 } as const;

/** The result of a completed activity as a JSON value, or undefined when it is not one JSON payload. */
function jsonResult(result: IPayloads | null | undefined): unknown {
  const payload = result?.payloads?.[0];
  if (!payload?.data) return undefined;
  const encoding = payload.metadata?.['encoding'];
  if (encoding && new TextDecoder().decode(encoding) !== 'json/plain') return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(payload.data)) as unknown;
  } catch {
    return undefined;
  }
}

/** `heartbeats` a result reports (StageOutput.heartbeats), or undefined. */
function reportedHeartbeats(result: unknown): number | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const value = (result as { heartbeats?: unknown }).heartbeats;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** An upsert the workflow issued (not only the SDK's change-version bookkeeping). */
function isWorkflowUpsert(event: IHistoryEvent): boolean {
  const names = Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
  return names.length === 0 || names.some((name) => name !== CHANGE_VERSION_SEARCH_ATTRIBUTE);
}

/** Whether a protobuf Duration is set and longer than zero. */
function hasDuration(d: { seconds?: unknown; nanos?: number | null } | null | undefined): boolean {
  return !!d && (Number(d.seconds ?? 0) > 0 || (d.nanos ?? 0) > 0);
}

/** An event id (Long, number or string) as a map key. */
const idKey = (id: unknown): string => String(id);

/** The billable actions `history` records (see the module comment for what each event counts). */
export function actionsFromHistory(history: IHistory): ActionCounts {
  const counts: ActionCounts = { ...NO_ACTIONS };
  const events = history.events ?? [];
  const localActivityTasks = new Set<string>();
  /** Attempts started, per activity (by its started event id). */
  const attemptsByStart = new Map<string, number>();
  /** Heartbeats the completed attempt reported, per activity (by its started event id). */
  const reportedByStart = new Map<string, number>();
  /** Scheduled activities that carry a heartbeat timeout (by their scheduled event id). */
  const heartbeatingScheduled = new Set<string>();
  /** Started activities that carry a heartbeat timeout (by their started event id). */
  const heartbeatingStarts = new Set<string>();

  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) counts.workflowStarted += 1;
    else if (e.activityTaskScheduledEventAttributes) {
      if (hasDuration(e.activityTaskScheduledEventAttributes.heartbeatTimeout))
        heartbeatingScheduled.add(idKey(e.eventId));
    } else if (e.activityTaskStartedEventAttributes) {
      const attempts = Math.max(1, e.activityTaskStartedEventAttributes.attempt ?? 1);
      counts.activityAttempts += attempts;
      attemptsByStart.set(idKey(e.eventId), attempts);
      if (heartbeatingScheduled.has(idKey(e.activityTaskStartedEventAttributes.scheduledEventId))) {
        heartbeatingStarts.add(idKey(e.eventId));
      }
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = e.activityTaskCompletedEventAttributes;
      const reported = reportedHeartbeats(jsonResult(a.result));
      if (reported !== undefined) reportedByStart.set(idKey(a.startedEventId), reported);
    } else if (e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
      localActivityTasks.add(idKey(e.markerRecordedEventAttributes.workflowTaskCompletedEventId));
    } else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      if (isWorkflowUpsert(e)) counts.searchAttributeUpserts += 1;
    } else if (e.timerStartedEventAttributes) counts.timersStarted += 1;
    else if (e.workflowExecutionSignaledEventAttributes) counts.signals += 1;
  }
  counts.localActivityTasks = localActivityTasks.size;

  const perUnreported =
    reportedByStart.size > 0 ? UNREPORTED_ATTEMPT_HEARTBEATS.current : UNREPORTED_ATTEMPT_HEARTBEATS.earlier;
  for (const [start, attempts] of attemptsByStart) {
    const reported = reportedByStart.get(start);
    const unreported = heartbeatingStarts.has(start) ? perUnreported : 0;
    counts.heartbeats += reported === undefined ? attempts * unreported : reported + (attempts - 1) * unreported;
  }
  return counts;
}
