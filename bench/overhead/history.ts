/**
 * Step 4, where the time goes: per-query breakdown from the workflow history (all event times are this host's
 * clock).
 */
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { SerflowClient } from '../../client';
import { inferenceWorkflowId } from '../../common/naming';
import { quantile } from '../../common/stats';
import type { PipelineOutcome } from './pipeline';
import { round } from './round';

interface Breakdown {
  /** client call -> WorkflowExecutionStarted */
  startRpcMs: number;
  /** sum over workflow tasks of scheduled -> started (matching + poller wake-up) */
  workflowTaskQueueMs: number;
  /** sum over workflow tasks of started -> completed (workflow code, local activity, worker round trip) */
  workflowTaskRunMs: number;
  /** sum over stage activities of scheduled -> started */
  activityQueueMs: number;
  /** sum over stage activities of started -> completed (handler + completion RPC) */
  activityRunMs: number;
  /** WorkflowExecutionCompleted -> client has the result */
  resultDeliveryMs: number;
  workflowTasks: number;
  activities: number;
  totalMs: number;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function breakdownOf(events: HistoryEvent[], o: PipelineOutcome): Breakdown {
  const t = (e: HistoryEvent) => tsToMs(e.eventTime);
  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId), e);
  const b: Breakdown = {
    startRpcMs: 0,
    workflowTaskQueueMs: 0,
    workflowTaskRunMs: 0,
    activityQueueMs: 0,
    activityRunMs: 0,
    resultDeliveryMs: 0,
    workflowTasks: 0,
    activities: 0,
    totalMs: o.endedAt - o.startedAt,
  };
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) b.startRpcMs = t(e) - o.startedAt;
    if (e.workflowExecutionCompletedEventAttributes) b.resultDeliveryMs = o.endedAt - t(e);
    const ws = e.workflowTaskStartedEventAttributes;
    if (ws) {
      const sched = byId.get(Number(ws.scheduledEventId));
      if (sched) b.workflowTaskQueueMs += t(e) - t(sched);
    }
    const wc = e.workflowTaskCompletedEventAttributes;
    if (wc) {
      const started = byId.get(Number(wc.startedEventId));
      if (started) b.workflowTaskRunMs += t(e) - t(started);
      b.workflowTasks++;
    }
    const as = e.activityTaskStartedEventAttributes;
    if (as) {
      const sched = byId.get(Number(as.scheduledEventId));
      if (sched) b.activityQueueMs += t(e) - t(sched);
    }
    const ac = e.activityTaskCompletedEventAttributes;
    if (ac) {
      const started = byId.get(Number(ac.startedEventId));
      if (started) b.activityRunMs += t(e) - t(started);
      b.activities++;
    }
  }
  return b;
}

export async function historyBreakdown(client: SerflowClient, model: string, outcomes: PipelineOutcome[]) {
  const rows: Breakdown[] = [];
  for (const o of outcomes) {
    if (!o.result) continue;
    const handle = client.temporal.workflow.getHandle(inferenceWorkflowId(model, o.result.queryId));
    const history = await handle.fetchHistory();
    rows.push(breakdownOf(history.events ?? [], o));
  }
  const keys = [
    'totalMs',
    'startRpcMs',
    'workflowTaskQueueMs',
    'workflowTaskRunMs',
    'activityQueueMs',
    'activityRunMs',
    'resultDeliveryMs',
    'workflowTasks',
    'activities',
  ] as const;
  const p50 = Object.fromEntries(
    keys.map((k) => [
      k,
      round(
        quantile(
          rows.map((r) => r[k]),
          0.5,
        ),
      ),
    ]),
  );
  const mean = Object.fromEntries(keys.map((k) => [k, round(rows.reduce((s, r) => s + r[k], 0) / (rows.length || 1))]));
  // Per workflow task / activity means (sum / count), the figures that compare across queries of different depth.
  const perWorkflowTask = {
    queueMs: round(
      rows.reduce((s, r) => s + r.workflowTaskQueueMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.workflowTasks, 0),
        ),
    ),
    runMs: round(
      rows.reduce((s, r) => s + r.workflowTaskRunMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.workflowTasks, 0),
        ),
    ),
  };
  const perActivity = {
    queueMs: round(
      rows.reduce((s, r) => s + r.activityQueueMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.activities, 0),
        ),
    ),
    runMs: round(
      rows.reduce((s, r) => s + r.activityRunMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.activities, 0),
        ),
    ),
  };
  return { queries: rows.length, p50, mean, perWorkflowTask, perActivity };
}
