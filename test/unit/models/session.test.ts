/**
 * models/runtime/session.ts and the runners built on it, on the real mnist-ee stage models: what a run returns,
 * the warm-up, a manifest out of step with its model, and that every runner computes what a bare ORT session with
 * the same options computes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import {
  concreteInputDims,
  loadManifest,
  loadSplit,
  stageFilePath,
  stageInputDims,
  type ModelManifest,
  type StageSpec,
} from '../../../models';
import { createInferencePool } from '../../../models/runtime/inference-pool';
import { createMainThreadRunner } from '../../../models/runtime/main-thread-runner';
import {
  createStageSession,
  ortSessionOptions,
  warmUpInput,
  type StageRunResult,
  type StageSession,
} from '../../../models/runtime/session';
import { stageRunnerOptions } from '../../../models/runtime/stage-runner';

const MODEL = 'mnist-ee';

let manifest: ModelManifest;
let image: Float32Array;
const sessions: StageSession[] = [];

const stage = (k: number): StageSpec => manifest.stages[k - 1]!;
const sizeOf = (dims: readonly number[]) => dims.reduce((n, d) => n * d, 1);

/** Load stage `k` with one intra-op thread; closed after all tests. */
async function load(k: number): Promise<StageSession> {
  const session = await createStageSession(stageRunnerOptions(manifest, stage(k), undefined, 1));
  sessions.push(session);
  return session;
}

before(() => {
  manifest = loadManifest(MODEL);
  image = new Float32Array(loadSplit(manifest, 'test').images[0]!);
});

after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
});

describe('stageRunnerOptions', () => {
  test('takes the file and the tensor names from the manifest, the threads from the caller', () => {
    const first = stage(1);
    assert.deepEqual(stageRunnerOptions(manifest, first, undefined, 3), {
      modelPath: stageFilePath(manifest, first),
      inputName: first.input.name,
      activationName: first.outputs.activation!.name,
      logitsName: first.outputs.logits.name,
      intraOpThreads: 3,
    });
  });

  test('the last stage hands no activation on', () => {
    const last = manifest.stages[manifest.stages.length - 1]!;
    assert.equal(stageRunnerOptions(manifest, last, undefined, 1).activationName, null);
  });

  test('the model file is looked up under the given models folder', () => {
    const options = stageRunnerOptions(manifest, stage(2), '/elsewhere', 1);
    assert.equal(options.modelPath, stageFilePath(manifest, stage(2), '/elsewhere'));
  });
});

describe('stage session', () => {
  test('ORT options: one inter-op thread, sequential, all graph optimisations, the given intra-op threads', () => {
    assert.deepEqual(ortSessionOptions(2), {
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  });

  test("a run returns the manifest's number of logits and an activation of the next stage's input shape", async () => {
    const session = await load(1);
    const out = await session.run(new Float32Array(image), concreteInputDims(stage(1)));
    assert.equal(out.logits.length, manifest.numClasses);
    assert.deepEqual(out.activationDims, concreteInputDims(stage(2)));
    assert.equal(out.activation?.length, sizeOf(concreteInputDims(stage(2))));
    assert.ok(out.serviceMs >= 0);

    // The activation is the next stage's input as it is.
    const next = await (await load(2)).run(out.activation, out.activationDims);
    assert.equal(next.logits.length, manifest.numClasses);
  });

  test('the last stage returns logits and no activation', async () => {
    const K = manifest.stages.length;
    const session = await load(K);
    const dims = concreteInputDims(stage(K));
    const out = await session.run(new Float32Array(sizeOf(dims)), dims);
    assert.equal(out.logits.length, manifest.numClasses);
    assert.equal(out.activation, null);
    assert.equal(out.activationDims, null);
  });

  test('computes what a bare ORT session with the same options computes', async () => {
    const spec = stage(1);
    const dims = concreteInputDims(spec);
    const bare = await ort.InferenceSession.create(stageFilePath(manifest, spec), ortSessionOptions(1));
    try {
      const expected = await bare.run({ [spec.input.name]: new ort.Tensor('float32', new Float32Array(image), dims) });
      const out = await (await load(1)).run(new Float32Array(image), dims);
      assert.deepEqual(out.logits, expected[spec.outputs.logits.name]!.data);
      assert.deepEqual(out.activation, expected[spec.outputs.activation!.name]!.data);
    } finally {
      await bare.release();
    }
  });

  test('warms up on the dims a stage accepts', async () => {
    const session = await load(2);
    await session.warmUp(stageInputDims(stage(2)));
    // A free dim (-1) is run as 1: the model's batch dimension is free.
    await session.warmUp([-1, ...stageInputDims(stage(2)).slice(1)]);
  });

  test('the warm-up input is zeros, free dims taken as 1', () => {
    const input = warmUpInput([-1, 8, 14, 14]);
    assert.deepEqual(input.dims, [1, 8, 14, 14]);
    assert.equal(input.data.length, 8 * 14 * 14);
    assert.ok(input.data.every((v) => v === 0));
  });

  test('a wrong input name fails at load, naming the model and its inputs', async () => {
    const options = { ...stageRunnerOptions(manifest, stage(1), undefined, 1), inputName: 'pixels' };
    await assert.rejects(createStageSession(options), (err: Error) => {
      assert.match(err.message, /no input named "pixels" \(inputs: input\)/);
      assert.ok(err.message.includes(options.modelPath), err.message);
      return true;
    });
  });

  test('a wrong output name fails at load, naming the outputs', async () => {
    const options = { ...stageRunnerOptions(manifest, stage(1), undefined, 1), logitsName: 'scores' };
    await assert.rejects(createStageSession(options), /no output named "scores" \(outputs: activation, logits\)/);
  });

  test('a missing model file fails at load', async () => {
    const options = { ...stageRunnerOptions(manifest, stage(1), undefined, 1), modelPath: '/nonexistent/stage.onnx' };
    await assert.rejects(createStageSession(options));
  });
});

describe('runners', () => {
  /** What the session computes for `image` at stage 1. */
  let expected: StageRunResult;

  before(async () => {
    expected = await (await load(1)).run(new Float32Array(image), concreteInputDims(stage(1)));
  });

  const sameNumbers = (out: StageRunResult) => {
    assert.deepEqual(out.logits, expected.logits);
    assert.deepEqual(out.activation, expected.activation);
    assert.deepEqual(out.activationDims, expected.activationDims);
  };

  test('the main-thread runner computes what the session computes', async () => {
    const runner = await createMainThreadRunner(stageRunnerOptions(manifest, stage(1), undefined, 1));
    try {
      await runner.warmUp(stageInputDims(stage(1)));
      sameNumbers(await runner.run(new Float32Array(image), concreteInputDims(stage(1))));
    } finally {
      await runner.close();
    }
  });

  test('the inference pool computes what the session computes, on its own thread', async () => {
    const runner = createInferencePool({ ...stageRunnerOptions(manifest, stage(1), undefined, 1), threads: 1 });
    try {
      await runner.warmUp(stageInputDims(stage(1)));
      sameNumbers(await runner.run(new Float32Array(image), concreteInputDims(stage(1))));
    } finally {
      await runner.close();
    }
  });

  test('an inference pool with a wrong input name fails its runs with the load error', async () => {
    const options = { ...stageRunnerOptions(manifest, stage(1), undefined, 1), inputName: 'pixels' };
    const runner = createInferencePool({ ...options, threads: 1 });
    try {
      await assert.rejects(runner.warmUp(stageInputDims(stage(1))), /no input named "pixels"/);
    } finally {
      await runner.close();
    }
  });
});
