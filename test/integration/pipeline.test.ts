/**
 * The pipeline end to end on a real Temporal dev server, a real nats-server and real worker processes:
 * results equal in-process ONNX runs, exits at every stage, one event per executed stage, the claim-check
 * path, bad input failing fast without harming other queries, and search attributes that find queries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InferenceFailedError } from '../../client';
import type { InferenceResult } from '../../common/contracts';
import { SEARCH_ATTRIBUTES, inferenceWorkflowId } from '../../common/naming';
import { inlineTensor } from '../../common/tensor-codec';
import { INFERENCE_TASK_QUEUE } from '../../common/naming';
import { createDirectPipeline, type DirectPipeline, type DirectResult } from '../../models/runtime/direct-pipeline';
import { loadSplit, type DatasetSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { sampleIndices } from '../../common/stats';
import { byQuery, readAllStageEvents } from '../helpers/stage-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const MODEL = 'mnist-ee';

function assertSameAsDirect(result: InferenceResult, direct: DirectResult, what: string): void {
  assert.equal(result.label, direct.label, `${what}: label`);
  assert.equal(result.answerStage, direct.answerStage, `${what}: answer stage`);
  assert.equal(result.exitStage, direct.exitStage, `${what}: exit stage`);
  assert.ok(
    Math.abs(result.confidence - direct.confidence) < 1e-6,
    `${what}: confidence ${result.confidence} vs ${direct.confidence}`,
  );
  assert.equal(result.stages.length, direct.stages.length, `${what}: stages executed`);
  result.stages.forEach((s, i) => {
    const d = direct.stages[i]!;
    assert.equal(s.stage, d.stage);
    assert.equal(s.label, d.label, `${what}: stage ${s.stage} label`);
    assert.ok(Math.abs(s.confidence - d.confidence) < 1e-6, `${what}: stage ${s.stage} confidence`);
  });
}

describe('inference pipeline on the real stack', () => {
  let t: TestStack;
  let direct: DirectPipeline;
  let split: DatasetSplit;

  before(async () => {
    t = await startTestStack();
    direct = await createDirectPipeline(MODEL);
    split = loadSplit(loadManifest(MODEL), 'test');
  });

  after(async () => {
    await direct?.close();
    await t?.stop();
  });

  test('results equal running the ONNX stages in process, for 40 held-out samples at the default threshold', async () => {
    const picks = sampleIndices(split.images.length, 40, 7);
    const results = await Promise.all(picks.map((i) => t.client.infer(split.images[i]!, { model: MODEL })));
    for (const [n, i] of picks.entries()) {
      assertSameAsDirect(results[n]!, await direct.run(split.images[i]!), `sample ${i}`);
      assert.deepEqual(results[n]!.backends, ['vm']);
    }
    const correct = picks.filter((i, n) => results[n]!.label === split.labels[i]).length;
    assert.ok(correct >= 36, `accuracy on 40 samples: ${correct}/40`);
  });

  test('queries exit at every stage, as the threshold decides', async () => {
    // For each stage k, find a sample whose first confident exit at threshold 0.99 is stage k (in process),
    // then check the pipeline exits there too.
    const threshold = 0.99;
    const found = new Map<number, number>();
    for (const i of sampleIndices(split.images.length, 600, 3)) {
      const d = await direct.run(split.images[i]!, threshold);
      if (!found.has(d.exitStage)) found.set(d.exitStage, i);
      if (found.size === 4) break;
    }
    assert.deepEqual([...found.keys()].sort(), [1, 2, 3, 4], 'held-out samples exit at every stage in process');
    for (const [stage, i] of found) {
      const r = await t.client.infer(split.images[i]!, { model: MODEL, threshold });
      assert.equal(r.exitStage, stage, `sample ${i} exits at stage ${stage}`);
      assert.equal(r.stages.length, stage);
      assertSameAsDirect(r, await direct.run(split.images[i]!, threshold), `sample ${i}`);
    }
    // The threshold is the knob: the same sample with a tiny threshold exits at stage 1, with maxStage it stops early.
    const deep = found.get(4)!;
    assert.equal((await t.client.infer(split.images[deep]!, { model: MODEL, threshold: 1e-9 })).exitStage, 1);
    const capped = await t.client.infer(split.images[deep]!, { model: MODEL, threshold, maxStage: 2 });
    assert.equal(capped.exitStage, 2);
  });

  test('every executed stage publishes exactly one event, consistent with the result', async () => {
    const picks = sampleIndices(split.images.length, 12, 11);
    const results = await Promise.all(
      picks.map((i) => t.client.infer(split.images[i]!, { model: MODEL, threshold: 0.999 })),
    );
    const events = byQuery(await readAllStageEvents(t.nc));
    for (const r of results) {
      const list = events.get(r.queryId) ?? [];
      assert.equal(
        list.length,
        r.stages.length,
        `query ${r.queryId}: ${list.length} events for ${r.stages.length} stages`,
      );
      list.forEach((e, n) => {
        const rec = r.stages[n]!;
        const last = n === list.length - 1;
        assert.equal(e.v, 1);
        assert.equal(e.stage, rec.stage);
        assert.equal(e.model, MODEL);
        assert.equal(e.backend, 'vm');
        assert.equal(e.worker, rec.worker);
        assert.equal(e.workflowId, inferenceWorkflowId(MODEL, r.queryId));
        assert.ok(e.startedAt >= e.scheduledAt && e.finishedAt >= e.startedAt, 'timestamps ordered');
        if (e.type === 'stage.failed') return assert.fail(`unexpected failure event ${e.message}`);
        assert.equal(e.type, last ? 'stage.exited' : 'stage.continued');
        assert.equal(e.label, rec.label);
        assert.equal(e.confidence, rec.confidence);
        assert.equal(e.threshold, 0.999);
        if (e.type === 'stage.exited') assert.equal(e.confident, rec.confidence >= 0.999);
      });
    }
  });

  test('large activations travel by claim check and keep workflow history small', async () => {
    const i = sampleIndices(split.images.length, 1, 5)[0]!;
    const image = split.images[i]!;
    // inlineActivationMaxBytes 0: the input and every activation go through the object store.
    const viaStore = await t.client.infer(image, { model: MODEL, threshold: 0.999999, inlineActivationMaxBytes: 0 });
    const inline = await t.client.infer(image, { model: MODEL, threshold: 0.999999 });
    assert.ok(viaStore.stages.length >= 2, 'the sample runs at least two stages');
    assert.ok(
      viaStore.stages.slice(0, -1).every((s) => s.claimCheck),
      'continued stages used the claim check',
    );
    assert.ok(
      inline.stages.every((s) => !s.claimCheck),
      'the default limit keeps these activations inline',
    );
    assert.equal(viaStore.label, inline.label);
    assert.equal(viaStore.confidence, inline.confidence);
    const historyBytes = async (queryId: string) => {
      const h = await t.client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, queryId)).fetchHistory();
      return JSON.stringify(h).length;
    };
    const [storeBytes, inlineBytes] = [await historyBytes(viaStore.queryId), await historyBytes(inline.queryId)];
    assert.ok(storeBytes < inlineBytes / 2, `history with claim checks ${storeBytes} B vs inline ${inlineBytes} B`);
  });

  const badInputs: {
    label: string;
    build: () => Parameters<TestStack['client']['infer']>;
    type: string;
    message: RegExp;
  }[] = [
    {
      label: 'wrong shape',
      build: () => [new Float32Array(28 * 27), { model: MODEL, dims: [1, 1, 28, 27] }],
      type: 'InvalidInputError',
      message: /dimension 3 is 27, expected 28/,
    },
    {
      label: 'wrong rank',
      build: () => [new Float32Array(784), { model: MODEL, dims: [1, 784] }],
      type: 'InvalidInputError',
      message: /expected a tensor of rank 4/,
    },
    {
      label: 'wrong length',
      build: () => [new Float32Array(700), { model: MODEL, dims: [1, 1, 28, 28] }],
      type: 'InvalidInputError',
      message: /needs 784 values, got 700/,
    },
    {
      label: 'NaN',
      build: () => [Float32Array.from({ length: 784 }, (_, k) => (k === 100 ? Number.NaN : 0.5)), { model: MODEL }],
      type: 'InvalidInputError',
      message: /flat index 100 is NaN/,
    },
    {
      label: 'Infinity',
      build: () => [
        Float32Array.from({ length: 784 }, (_, k) => (k === 5 ? Number.POSITIVE_INFINITY : 0)),
        { model: MODEL },
      ],
      type: 'InvalidInputError',
      message: /flat index 5 is Infinity/,
    },
    {
      label: 'unknown model',
      build: () => [new Float32Array(784), { model: 'no-such-model', dims: [1, 1, 28, 28] }],
      type: 'UnknownModelError',
      message: /unknown model "no-such-model".*available models: mnist-ee/,
    },
    {
      label: 'unknown stage',
      build: () => [new Float32Array(784), { model: MODEL, maxStage: 9 }],
      type: 'UnknownStageError',
      message: /maxStage 9 is out of range: model mnist-ee has stages 1\.\.4/,
    },
  ];

  test('bad input fails its query fast with a specific, non-retried error; other queries keep running', async () => {
    const good = sampleIndices(split.images.length, 10, 13);
    const goodRuns = good.map((i) => t.client.infer(split.images[i]!, { model: MODEL }));
    for (const [n, bad] of badInputs.entries()) {
      const [input, options] = bad.build();
      const queryId = `bad-input-${n}`;
      await assert.rejects(
        () => t.client.infer(input, { ...options, queryId }),
        (err: unknown) => {
          assert.ok(err instanceof InferenceFailedError, `${bad.label}: ${String(err)}`);
          assert.equal(err.type, bad.type, `${bad.label}: failure type`);
          assert.match(err.message, bad.message, `${bad.label}: message`);
          return true;
        },
      );
      // Non-retryable: refused before a workflow started, or, if one started, no activity of it ran a second
      // attempt (read from its history, not from how long it took).
      const history = await t.client.temporal.workflow
        .getHandle(inferenceWorkflowId(options?.model ?? MODEL, queryId))
        .fetchHistory()
        // gRPC NOT_FOUND (5): the client refused the query before starting a workflow.
        .catch((err: Error & { code?: number }) =>
          err.name === 'WorkflowNotFoundError' || err.code === 5 ? undefined : Promise.reject(err),
        );
      const attempts = (history?.events ?? []).flatMap((e) =>
        e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : [],
      );
      assert.ok(
        attempts.every((a) => a === 1),
        `${bad.label}: activity attempts ${attempts.join(', ')}`,
      );
    }
    const results = await Promise.all(goodRuns);
    assert.equal(results.length, 10);
    // A raw workflow start with a malformed tensor (e.g. from another SDK) fails the same way.
    const handle = await t.client.temporal.workflow.start('inferenceWorkflow', {
      taskQueue: INFERENCE_TASK_QUEUE,
      workflowId: 'raw-bad-input',
      args: [{ queryId: 'raw-bad-input', model: MODEL, input: { ...inlineTensor(new Float32Array(3), [1, 3]) } }],
    });
    await assert.rejects(
      () => handle.result(),
      (err: Error & { cause?: Error & { cause?: Error & { type?: string } } }) => {
        assert.equal(err.cause?.cause?.type, 'InvalidInputError');
        assert.match(err.cause?.cause?.message ?? '', /expected a tensor of rank 4/);
        return true;
      },
    );
    // Not retried: no activity task of that workflow started a second attempt.
    const raw = (await handle.fetchHistory()).events ?? [];
    const rawAttempts = raw.flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : [],
    );
    assert.ok(
      rawAttempts.every((a) => a === 1),
      `raw bad input: activity attempts ${rawAttempts.join(', ')}`,
    );
  });

  test('queries are findable by exit stage and model through search attributes', async () => {
    const picks = sampleIndices(split.images.length, 16, 17);
    const results = await Promise.all(
      picks.map((i) => t.client.infer(split.images[i]!, { model: MODEL, threshold: 0.99 })),
    );
    const ids = new Set(results.map((r) => inferenceWorkflowId(MODEL, r.queryId)));
    const want = results.filter((r) => r.exitStage === 1).length;
    assert.ok(want > 0 && want < results.length, 'the batch mixes exit stages');
    const query = `${SEARCH_ATTRIBUTES.exitStage.name} = 1 AND ${SEARCH_ATTRIBUTES.model.name} = '${MODEL}' AND ExecutionStatus = 'Completed'`;
    let got = -1;
    for (let attempt = 0; attempt < 50 && got !== want; attempt++) {
      got = 0;
      for await (const wf of t.client.temporal.workflow.list({ query })) if (ids.has(wf.workflowId)) got++;
      if (got !== want) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(got, want, `ExitStage = 1 finds the ${want} queries of this batch that exited at stage 1`);
    const one = results[0]!;
    const desc = await t.client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, one.queryId)).describe();
    assert.equal(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.exitStage), one.exitStage);
    assert.deepEqual(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.backends), ['vm']);
    assert.equal(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.model), MODEL);
    assert.equal(desc.memo?.queryId, one.queryId);
  });
});
