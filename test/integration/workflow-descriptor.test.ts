/**
 * The inference workflow's two ways to its model descriptor (workflows/inference.ts `modelOf`), with typed fake
 * activities on Temporal's time-skipping test server (test/helpers/workflow-env.ts): a query that carries a
 * descriptor (as SerflowClient sends it) runs no local activity, so its history has no marker, and gives the same
 * stage records as the same query looked up by the `describeModel` local activity; a query with a bad descriptor
 * fails at once, before any stage, with a non-retryable InvalidInputError naming the field. The file takes a few
 * seconds: server start and workflow bundle in parallel, then a handful of queries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { InferenceQuery, InferenceResult, ModelDescriptor, StageInput, StageRecord } from '../../common/contracts';
import { stageTaskQueue } from '../../common/naming';
import type { inferenceWorkflow } from '../../workflows/inference';
import {
  fakeStage,
  startWorkflowEnv,
  testDescriptor,
  type ModelActivities,
  type WorkflowEnv,
} from '../helpers/workflow-env';

const MODEL = 'descriptor-probe';
const WORKFLOW_QUEUE = 'descriptor-test.inference';
const { EventType } = temporal.api.enums.v1;

/** Stage 1 on its VM pool, stage 2 serverless, stage 3 on VMs: shares of 1 and 0 make every choice certain. */
const DESCRIPTOR: ModelDescriptor = testDescriptor(MODEL, [
  { stage: 1, vmShare: 1 },
  { stage: 2, vmShare: 0 },
  { stage: 3, vmShare: 1 },
]);

/** Confidence per stage of the fake model: stage 2 reaches the default threshold 0.9, so queries exit there. */
const CONFIDENCE = [0.5, 0.95, 0.99];

function query(queryId: string, extra: Partial<InferenceQuery> = {}): InferenceQuery {
  return { queryId, model: MODEL, input: { kind: 'inline', dims: [1, 2], dataBase64: 'AAAAAAAAAAA=' }, ...extra };
}

/** A record without its wall-clock fields, which differ between any two runs. */
function comparable({ startedAt: _s, finishedAt: _f, ...rest }: StageRecord) {
  return rest;
}

describe('workflow model descriptor: sent with the query, or looked up by the local activity', () => {
  let harness: WorkflowEnv;
  let workers: Worker[] = [];
  let runs: Promise<void>[] = [];
  const lookups: InferenceQuery[] = [];
  const stageCalls: StageInput[] = [];

  before(async () => {
    harness = await startWorkflowEnv();
    const modelActivities: ModelActivities = {
      describeModel: async (q: InferenceQuery) => {
        lookups.push(q);
        return DESCRIPTOR;
      },
    };
    const confidenceAt = (stage: number) => CONFIDENCE[stage - 1] ?? 0;
    workers = await Promise.all([
      harness.worker(WORKFLOW_QUEUE, modelActivities, { workflows: true }),
      ...[1, 2, 3].flatMap((k) =>
        (['vm', 'faas'] as const).map((b) =>
          harness.worker(stageTaskQueue(MODEL, k, b), fakeStage(b, stageCalls, confidenceAt)),
        ),
      ),
    ]);
    runs = workers.map((w) => w.run());
  });

  after(async () => {
    for (const w of workers) w.shutdown();
    await Promise.all(runs);
    await harness?.teardown();
  });

  const start = (q: InferenceQuery) =>
    harness.env.client.workflow.start<typeof inferenceWorkflow>('inferenceWorkflow', {
      taskQueue: WORKFLOW_QUEUE,
      workflowId: `descriptor-test-${q.queryId}`,
      args: [q],
    });

  const eventsOf = async (handle: Awaited<ReturnType<typeof start>>) => (await handle.fetchHistory()).events ?? [];
  const count = (events: temporal.api.history.v1.IHistoryEvent[], type: temporal.api.enums.v1.EventType) =>
    events.filter((e) => e.eventType === type).length;

  test('a query with a descriptor runs no local activity and gives the same stage records as one without', async () => {
    const lookedUp = await start(query('looked-up'));
    const lookedUpResult: InferenceResult = await lookedUp.result();
    assert.equal(lookups.length, 1, 'the query without a descriptor ran describeModel');
    assert.equal(count(await eventsOf(lookedUp), EventType.EVENT_TYPE_MARKER_RECORDED), 1);

    const sent = await start(query('sent', { descriptor: DESCRIPTOR }));
    const sentResult: InferenceResult = await sent.result();
    assert.equal(lookups.length, 1, 'the query with a descriptor did not run describeModel');
    const events = await eventsOf(sent);
    assert.equal(count(events, EventType.EVENT_TYPE_MARKER_RECORDED), 0, 'no local-activity marker in its history');

    assert.deepEqual(sentResult.stages.map(comparable), lookedUpResult.stages.map(comparable));
    assert.deepEqual(
      sentResult.stages.map((s) => ({ stage: s.stage, backend: s.backend, exited: s.exited })),
      [
        { stage: 1, backend: 'vm', exited: false },
        { stage: 2, backend: 'faas', exited: true },
      ],
      'the descriptor plan and threshold were followed',
    );
    assert.equal(sentResult.exitStage, 2);
    assert.equal(sentResult.threshold, DESCRIPTOR.defaultThreshold);
    assert.equal(
      count(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
      2,
      'one activity per stage run, and nothing else',
    );

    // Both paths replay deterministically (the recorded generations are replayed by test/unit/workflows/).
    for (const handle of [lookedUp, sent]) {
      await Worker.runReplayHistory({ workflowBundle: harness.bundle }, await handle.fetchHistory(), handle.workflowId);
    }
  });

  const badDescriptors: { label: string; descriptor: unknown; type: string; message: RegExp }[] = [
    {
      label: 'zero attempts',
      descriptor: { ...DESCRIPTOR, stageMaxAttempts: 0 },
      type: 'InvalidInputError',
      message: /descriptor\.stageMaxAttempts: expected an integer >= 1, got 0/,
    },
    {
      label: 'another model',
      descriptor: { ...DESCRIPTOR, model: 'other' },
      type: 'InvalidInputError',
      message: /descriptor\.model: expected "descriptor-probe", got "other"/,
    },
    {
      label: 'a share out of range',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, stages: [{ stage: 1, vmShare: 2 }] } },
      type: 'InvalidInputError',
      message: /descriptor\.routing: .*stages\[0\]\.vmShare: 2 is not in \[0, 1\]/,
    },
    {
      label: 'no routing plan',
      descriptor: { ...DESCRIPTOR, routing: undefined },
      type: 'InvalidInputError',
      message: /descriptor\.routing: expected a routing plan object, got nothing/,
    },
    {
      label: 'not an object',
      descriptor: 'all-vm',
      type: 'InvalidInputError',
      message: /descriptor: expected an object, got "all-vm"/,
    },
  ];

  for (const bad of badDescriptors) {
    test(`a descriptor with ${bad.label} fails the query at once, naming the field`, async () => {
      const before = { lookups: lookups.length, stages: stageCalls.length };
      const handle = await start(
        query(`bad-${bad.label.replace(/\W+/g, '-')}`, { descriptor: bad.descriptor as ModelDescriptor }),
      );
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        const cause = err.cause;
        assert.ok(cause instanceof ApplicationFailure, String(cause));
        assert.equal(cause.type, bad.type);
        assert.equal(cause.nonRetryable, true);
        assert.match(cause.message, bad.message);
        return true;
      });
      const events = await eventsOf(handle);
      assert.equal(count(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), 0, 'no stage was scheduled');
      assert.equal(count(events, EventType.EVENT_TYPE_MARKER_RECORDED), 0, 'no local activity ran');
      assert.deepEqual({ lookups: lookups.length, stages: stageCalls.length }, before);
    });
  }

  test('a stage cap beyond the descriptor fails as the local activity fails it: UnknownStageError', async () => {
    const handle = await start(query('max-stage-9', { descriptor: DESCRIPTOR, maxStage: 9 }));
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
      assert.equal(err.cause.type, 'UnknownStageError');
      assert.equal(err.cause.nonRetryable, true);
      assert.match(err.cause.message, /maxStage 9 is out of range: model descriptor-probe has stages 1\.\.3/);
      return true;
    });
  });
});
