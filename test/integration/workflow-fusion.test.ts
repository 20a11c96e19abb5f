/**
 * Stage fusion in the inference workflow (workflows/inference.ts `executeStep`), with typed fake activities on
 * Temporal's time-skipping test server (test/helpers/workflow-env.ts): a plan fuses stages 1-2 (on VMs) and 3-4
 * (serverless) of a 4-stage model. Each run must be ONE activity on the whole-model queue of its backend, with the
 * early exit inside it, and the result must still carry one record per executed stage, in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import type { InferenceQuery, InferenceResult, StageInput, StageRunInput } from '../../common/contracts';
import { stageTaskQueue, wholeModelQueue } from '../../common/naming';
import { actionsFromHistory } from '../../billing/history-actions';
import type { inferenceWorkflow } from '../../workflows/inference';
import { fakeStage, fakeStageRun, startWorkflowEnv, testDescriptor, type WorkflowEnv } from '../helpers/workflow-env';

const MODEL = 'fusion-probe';
const WORKFLOW_QUEUE = 'fusion-test.inference';
const { EventType } = temporal.api.enums.v1;

/** Stages 1-2 fused on VMs, 3-4 fused serverless (stage 3's share 0 sends the run to functions). */
const DESCRIPTOR = {
  ...testDescriptor(MODEL, [
    { stage: 1, vmShare: 1 },
    { stage: 2, vmShare: 1 },
    { stage: 3, vmShare: 0 },
    { stage: 4, vmShare: 0 },
  ]),
};
DESCRIPTOR.routing = {
  ...DESCRIPTOR.routing,
  fused: [
    { first: 1, last: 2 },
    { first: 3, last: 4 },
  ],
};

/**
 * The fake stages' confidence: 0.8 at stage 2, 0.5 elsewhere. A query with threshold 0.7 exits at stage 2; one
 * with the descriptor's default (0.9) runs to its last stage.
 */
const EARLY_EXIT_STAGE = 2;
const EARLY_CONFIDENCE = 0.8;
const EARLY_THRESHOLD = 0.7;

describe('workflow stage fusion (fake activities, time-skipping test server)', () => {
  let harness: WorkflowEnv;
  const vmRuns: StageRunInput[] = [];
  const faasRuns: StageRunInput[] = [];
  const single: StageInput[] = [];
  const running: Promise<void>[] = [];
  const workers: { shutdown(): void }[] = [];

  const infer = async (queryId: string, extra: Partial<InferenceQuery> = {}) => {
    const handle = await harness.env.client.workflow.start<typeof inferenceWorkflow>('inferenceWorkflow', {
      taskQueue: WORKFLOW_QUEUE,
      workflowId: `fusion-test-${queryId}-${Date.now()}`,
      args: [
        {
          queryId,
          model: MODEL,
          input: { kind: 'inline', dims: [1, 2], dataBase64: 'AAAAAAAAAAA=' },
          descriptor: DESCRIPTOR,
          ...extra,
        },
      ],
    });
    const result: InferenceResult = await handle.result();
    return { result, history: await handle.fetchHistory() };
  };

  before(async () => {
    harness = await startWorkflowEnv();
    const confidence = (stage: number) => (stage === EARLY_EXIT_STAGE ? EARLY_CONFIDENCE : 0.5);
    const created = await Promise.all([
      harness.worker(WORKFLOW_QUEUE, {}, { workflows: true }),
      harness.worker(wholeModelQueue(MODEL, 'vm'), fakeStageRun('vm', vmRuns, confidence)),
      harness.worker(wholeModelQueue(MODEL, 'faas'), fakeStageRun('faas', faasRuns, confidence)),
      // Per-stage queues are polled too: a fused plan must not use them.
      ...[1, 2, 3, 4].flatMap((k) =>
        (['vm', 'faas'] as const).map((b) => harness.worker(stageTaskQueue(MODEL, k, b), fakeStage(b, single))),
      ),
    ]);
    workers.push(...created);
    running.push(...created.map((w) => w.run()));
  });

  after(async () => {
    for (const w of workers) w.shutdown();
    await Promise.allSettled(running);
    await harness?.teardown();
  });

  test('a query exiting inside the first run costs one activity: stages 1 and 2, on the whole-model VM queue', async () => {
    const { result, history } = await infer('early-1', { threshold: EARLY_THRESHOLD });
    assert.deepEqual(
      result.stages.map((s) => [s.stage, s.backend, s.taskQueue]),
      [
        [1, 'vm', wholeModelQueue(MODEL, 'vm')],
        [2, 'vm', wholeModelQueue(MODEL, 'vm')],
      ],
    );
    assert.equal(result.exitStage, 2);
    assert.equal(result.answerStage, 2);
    const actions = actionsFromHistory(history);
    assert.equal(actions.activityAttempts, 1, 'one activity for the two stages');
    assert.equal(actions.localActivityTasks, 0, 'the descriptor came with the query');
    assert.deepEqual(
      vmRuns.filter((r) => r.queryId === 'early-1').map((r) => [r.stage, r.runLast]),
      [[1, 2]],
    );
  });

  test('a query through all four stages costs two activities, one per run, and keeps four records in order', async () => {
    const { result, history } = await infer('deep-1');
    assert.deepEqual(
      result.stages.map((s) => [s.stage, s.backend]),
      [
        [1, 'vm'],
        [2, 'vm'],
        [3, 'faas'],
        [4, 'faas'],
      ],
    );
    const queues = (history.events ?? [])
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .map((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name);
    assert.deepEqual(queues, [wholeModelQueue(MODEL, 'vm'), wholeModelQueue(MODEL, 'faas')]);
    assert.equal(actionsFromHistory(history).activityAttempts, 2);
    assert.deepEqual(
      faasRuns.filter((r) => r.queryId === 'deep-1').map((r) => [r.stage, r.runLast]),
      [[3, 4]],
    );
  });

  test("a run cut to one stage by the query's maxStage runs that stage on its own queue", async () => {
    const { result } = await infer('cut-1', { maxStage: 3 });
    assert.deepEqual(
      result.stages.map((s) => s.stage),
      [1, 2, 3],
    );
    assert.equal(
      faasRuns.filter((r) => r.queryId === 'cut-1').length,
      0,
      'a run cut to one stage is no run: stage 3 goes to its own queue',
    );
    assert.deepEqual(
      single.filter((c) => c.queryId === 'cut-1').map((c) => c.stage),
      [3],
    );
  });

  test('no per-stage queue was used by the fused plan except for a run cut to one stage', () => {
    assert.deepEqual(
      single.map((c) => `${c.queryId}:${c.stage}`),
      ['cut-1:3'],
    );
  });
});
