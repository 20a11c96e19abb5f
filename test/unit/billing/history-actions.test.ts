/**
 * billing/history-actions.ts: the actions of every recorded workflow history (test/fixtures/histories/, recorded
 * by the code of the time: a heartbeat at every stage attempt's start, no `heartbeats` in stage results), each
 * against a count made by hand from the file, and small hand-made histories for what the recordings lack:
 * retries, local activities sharing a workflow task, reported heartbeats, timers, signals, change-version upserts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { NO_ACTIONS, totalActions, type ActionCounts } from '../../../billing/actions';
import { actionsFromHistory } from '../../../billing/history-actions';
import { PROJECT_ROOT } from '../../../common/paths';
import {
  HISTORIES_DIR,
  historyFromObject,
  historyGenerations,
  LOCAL_ACTIVITY_GENERATION,
  type HistoryIndex,
} from '../../helpers/record-histories';

const root = path.join(PROJECT_ROOT, HISTORIES_DIR);

/** The index of one generation of recorded histories and a reader of its files. */
function generation(name: string) {
  const dir = path.join(root, name);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as HistoryIndex;
  const read = (file: string) => historyFromObject(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
  return { index, read };
}

/** Counts with `workflowStarted` 1 and the given kinds (the rest 0). */
const counts = (c: Partial<ActionCounts>): ActionCounts => ({ ...NO_ACTIONS, workflowStarted: 1, ...c });

/**
 * Hand counts of the histories of the local-activity generation (recorded before stage results carried
 * `heartbeats`). Every one: 1 start, 1 workflow task with the `describeModel` local
 * activity marker, then per stage activity 1 started attempt (attempt 1) and, by the code of the time, 1
 * heartbeat; 1 upsert of the result's attributes (ExitStage, Backends, ExitConfident, LatencyMs) unless it failed.
 */
const EXPECTED: Record<string, { counts: ActionCounts; total: number }> = {
  // stage 1 on a VM, exits: 1 + 1 + 1 + 1 + 1
  'vm-exit-at-1.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 1, heartbeats: 1, searchAttributeUpserts: 1 }),
    total: 5,
  },
  // four VM stages: 3 + 2 × 4
  'vm-all-stages.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 4, heartbeats: 4, searchAttributeUpserts: 1 }),
    total: 11,
  },
  // four serverless stages (the gateway activity heartbeats as a VM stage does): 3 + 2 × 4
  'faas-all-stages.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 4, heartbeats: 4, searchAttributeUpserts: 1 }),
    total: 11,
  },
  // stages 1-2 on VMs, 3-4 serverless: 3 + 2 × 4
  'vm-prefix-2.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 4, heartbeats: 4, searchAttributeUpserts: 1 }),
    total: 11,
  },
  // five stage activities scheduled, but stage 3's VM execution timed out schedule-to-start (event 19) and never
  // started: 0; its serverless overflow did. 4 started attempts: 3 + 2 × 4
  'overflow-stage-3.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 4, heartbeats: 4, searchAttributeUpserts: 1 }),
    total: 11,
  },
  // activations through the claim-check store, four stages: 3 + 2 × 4
  'claim-check.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 4, heartbeats: 4, searchAttributeUpserts: 1 }),
    total: 11,
  },
  // capped at stage 2: 3 + 2 × 2
  'max-stage-2.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 2, heartbeats: 2, searchAttributeUpserts: 1 }),
    total: 7,
  },
  // stage 1 started once and failed non-retryable (event 8), with the heartbeat it sent at its start; the workflow
  // failed (event 12) without upserting: 1 + 1 + 1 + 1
  'invalid-input.json': {
    counts: counts({ localActivityTasks: 1, activityAttempts: 1, heartbeats: 1 }),
    total: 4,
  },
};

describe(`actions of the ${LOCAL_ACTIVITY_GENERATION} histories`, () => {
  const { index, read } = generation(LOCAL_ACTIVITY_GENERATION);

  test('every recorded history has a hand count', () => {
    assert.deepEqual(index.histories.map((h) => h.file).sort(), Object.keys(EXPECTED).sort());
  });

  for (const h of index.histories) {
    test(`${h.file} (${h.what}): ${EXPECTED[h.file]?.total} actions`, () => {
      const want = EXPECTED[h.file];
      assert.ok(want, `no hand count for ${h.file}`);
      const got = actionsFromHistory(read(h.file));
      assert.deepEqual(got, want.counts);
      assert.equal(totalActions(got), want.total);
    });
  }
});

// Generations recorded later have no hand counts here (yet): what holds for every query of any generation.
for (const name of historyGenerations(root).filter((g) => g !== LOCAL_ACTIVITY_GENERATION)) {
  describe(`actions of the ${name} histories (no hand counts: what every query must show)`, () => {
    const { index, read } = generation(name);
    for (const h of index.histories) {
      test(`${h.file} (${h.what})`, () => {
        const got = actionsFromHistory(read(h.file));
        assert.equal(got.workflowStarted, 1, 'one workflow start');
        // One upsert of the result; a query started without its SerflowModel attribute (not by the SDK) also
        // upserts the model first.
        assert.ok(got.searchAttributeUpserts <= 2, 'at most two upserts: the model when missing, the result');
        assert.equal(got.timersStarted + got.signals, 0, 'the workflow sets no timer and takes no signal');
      });
    }
  });
}

// Hand-made histories: protobufjs plain objects, as the recorded files are, read with the same helper.

type EventObject = Record<string, unknown> & { eventType: string };

/** `events` numbered from 1, as a History. */
function history(events: EventObject[]): temporal.api.history.v1.History {
  return historyFromObject({ events: events.map((e, i) => ({ eventId: String(i + 1), ...e })) });
}

/** A JSON payload of `value`, as the default data converter writes it (bytes in base64). */
function jsonPayload(value: unknown) {
  return {
    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
    data: Buffer.from(JSON.stringify(value)).toString('base64'),
  };
}

const started = (): EventObject => ({
  eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
  workflowExecutionStartedEventAttributes: { workflowType: { name: 'inferenceWorkflow' } },
});
const taskCompleted = (): EventObject => ({
  eventType: 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
  workflowTaskCompletedEventAttributes: { scheduledEventId: '2' },
});
const localActivity = (workflowTaskCompletedEventId: number): EventObject => ({
  eventType: 'EVENT_TYPE_MARKER_RECORDED',
  markerRecordedEventAttributes: {
    markerName: 'core_local_activity',
    workflowTaskCompletedEventId: String(workflowTaskCompletedEventId),
  },
});
const scheduled = (): EventObject => ({
  eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
  activityTaskScheduledEventAttributes: { activityType: { name: 'runStage' }, heartbeatTimeout: { seconds: '2' } },
});
const attemptStarted = (scheduledEventId: number, attempt: number): EventObject => ({
  eventType: 'EVENT_TYPE_ACTIVITY_TASK_STARTED',
  activityTaskStartedEventAttributes: { scheduledEventId: String(scheduledEventId), attempt },
});
const completed = (startedEventId: number, result: unknown): EventObject => ({
  eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
  activityTaskCompletedEventAttributes: {
    startedEventId: String(startedEventId),
    result: { payloads: [jsonPayload(result)] },
  },
});
const failed = (startedEventId: number): EventObject => ({
  eventType: 'EVENT_TYPE_ACTIVITY_TASK_FAILED',
  activityTaskFailedEventAttributes: { startedEventId: String(startedEventId), failure: { message: 'bad input' } },
});
const upsert = (...names: string[]): EventObject => ({
  eventType: 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
  upsertWorkflowSearchAttributesEventAttributes: {
    searchAttributes: { indexedFields: Object.fromEntries(names.map((n) => [n, jsonPayload(1)])) },
  },
});

describe('actions of hand-made histories', () => {
  test('a stage retried twice (attempt 3) counts 3 attempts, and 3 start heartbeats by the earlier code', () => {
    const got = actionsFromHistory(
      history([started(), taskCompleted(), scheduled(), attemptStarted(3, 3), completed(4, { stage: 1 })]),
    );
    assert.deepEqual(got, counts({ activityAttempts: 3, heartbeats: 3 }));
  });

  test('an activity scheduled without a heartbeat timeout (the benchmark floor) sent no heartbeat', () => {
    const noTimeout: EventObject = {
      eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
      activityTaskScheduledEventAttributes: { activityType: { name: 'noop' } },
    };
    const got = actionsFromHistory(
      history([started(), taskCompleted(), noTimeout, attemptStarted(3, 1), completed(4, null)]),
    );
    assert.deepEqual(got, counts({ activityAttempts: 1 }));
  });

  test('two local activities of one workflow task are one action; one in another task is a second', () => {
    const one = actionsFromHistory(history([started(), taskCompleted(), localActivity(2), localActivity(2)]));
    assert.deepEqual(one, counts({ localActivityTasks: 1 }));
    const two = actionsFromHistory(
      history([started(), taskCompleted(), localActivity(2), localActivity(2), taskCompleted(), localActivity(5)]),
    );
    assert.deepEqual(two, counts({ localActivityTasks: 2 }));
  });

  test('a marker other than a local activity counts nothing', () => {
    const got = actionsFromHistory(
      history([
        started(),
        taskCompleted(),
        {
          eventType: 'EVENT_TYPE_MARKER_RECORDED',
          markerRecordedEventAttributes: { markerName: 'core_patch', workflowTaskCompletedEventId: '2' },
        },
      ]),
    );
    assert.deepEqual(got, counts({}));
  });

  test('the heartbeats a stage result reports are taken as they are (current code: 0 for a short stage)', () => {
    const got = actionsFromHistory(
      history([
        started(),
        taskCompleted(),
        scheduled(),
        attemptStarted(3, 1),
        completed(4, { stage: 1, heartbeats: 0 }),
        scheduled(),
        attemptStarted(6, 1),
        completed(7, { stage: 2, heartbeats: 2 }),
      ]),
    );
    assert.deepEqual(got, counts({ activityAttempts: 2, heartbeats: 2 }));
  });

  test('with reported heartbeats, a retried attempt before the reported one and a failed stage add none', () => {
    const got = actionsFromHistory(
      history([
        started(),
        taskCompleted(),
        scheduled(),
        attemptStarted(3, 2),
        completed(4, { stage: 1, heartbeats: 1 }),
        scheduled(),
        attemptStarted(6, 1),
        failed(7),
      ]),
    );
    // 2 + 1 attempts; heartbeats: 1 reported, 0 for the first attempt of stage 1, 0 for stage 2's failed attempt
    assert.deepEqual(got, counts({ activityAttempts: 3, heartbeats: 1 }));
  });

  test('a result that is not JSON or has no usable count falls back to the rule of the code of the time', () => {
    const got = actionsFromHistory(
      history([
        started(),
        taskCompleted(),
        scheduled(),
        attemptStarted(3, 1),
        completed(4, { stage: 1, heartbeats: -1 }),
        scheduled(),
        attemptStarted(6, 1),
        {
          eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
          activityTaskCompletedEventAttributes: {
            startedEventId: '7',
            result: { payloads: [{ metadata: {}, data: Buffer.from('not json').toString('base64') }] },
          },
        },
      ]),
    );
    assert.deepEqual(got, counts({ activityAttempts: 2, heartbeats: 2 }));
  });

  test('an upsert of only TemporalChangeVersion is the SDK’s, not counted; others count once each', () => {
    const got = actionsFromHistory(
      history([started(), upsert('TemporalChangeVersion'), upsert('ExitStage', 'LatencyMs'), upsert('Backends')]),
    );
    assert.deepEqual(got, counts({ searchAttributeUpserts: 2 }));
  });

  test('timers and signals count one each', () => {
    const got = actionsFromHistory(
      history([
        started(),
        { eventType: 'EVENT_TYPE_TIMER_STARTED', timerStartedEventAttributes: { timerId: '1' } },
        { eventType: 'EVENT_TYPE_TIMER_STARTED', timerStartedEventAttributes: { timerId: '2' } },
        {
          eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED',
          workflowExecutionSignaledEventAttributes: { signalName: 'poke' },
        },
      ]),
    );
    assert.deepEqual(got, counts({ timersStarted: 2, signals: 1 }));
  });

  test('an empty history counts nothing', () => {
    assert.deepEqual(actionsFromHistory({ events: [] }), NO_ACTIONS);
    assert.deepEqual(actionsFromHistory({}), NO_ACTIONS);
  });
});
