/**
 * The shipped early-exit model reproduces, under onnxruntime-node, the evaluation its manifest
 * records (computed by models/tools/train.py with Python onnxruntime on the same ONNX files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { MODELS_DIR } from '../../../common/paths';
import {
  InvalidManifestError,
  UnknownModelError,
  listModels,
  loadManifest,
  loadSplit,
  softmaxMax,
  stageFilePath,
  type ModelManifest,
} from '../../../models';

const MODEL = 'mnist-ee';
const SHIPPED_MODELS = [MODEL, 'mnist-ee-heavy'];
/** Allowed difference per figure, in samples, to absorb float differences between runtimes. */
const TOLERANCE_SAMPLES = 2;
const BATCH = 128;

/** Logits per stage, `[stage][sample]`, for all samples, running the stages in a chain. */
async function runAllStages(manifest: ModelManifest, images: Float32Array[]): Promise<Float32Array[][]> {
  const sessions = await Promise.all(
    manifest.stages.map((s) =>
      ort.InferenceSession.create(stageFilePath(manifest, s), { intraOpNumThreads: 1, interOpNumThreads: 1 }),
    ),
  );
  const imageSize = manifest.dataset.imageShape.reduce((a, b) => a * b, 1);
  const C = manifest.numClasses;
  const out: Float32Array[][] = manifest.stages.map(() => []);
  try {
    for (let b = 0; b < images.length; b += BATCH) {
      const batch = images.slice(b, b + BATCH);
      const data = new Float32Array(batch.length * imageSize);
      batch.forEach((img, i) => data.set(img, i * imageSize));
      let x: ort.Tensor = new ort.Tensor('float32', data, [batch.length, ...manifest.dataset.imageShape]);
      for (let k = 0; k < manifest.stages.length; k++) {
        const spec = manifest.stages[k]!;
        const session = sessions[k]!;
        const res = await session.run({ [spec.input.name]: x });
        const logits = res[spec.outputs.logits.name];
        assert.ok(logits, `stage ${spec.index}: no output ${spec.outputs.logits.name}`);
        assert.deepEqual(logits.dims, [batch.length, C]);
        const ld = logits.data as Float32Array;
        for (let i = 0; i < batch.length; i++) out[k]!.push(ld.slice(i * C, (i + 1) * C));
        if (spec.outputs.activation) {
          const act = res[spec.outputs.activation.name];
          assert.ok(act, `stage ${spec.index}: no output ${spec.outputs.activation.name}`);
          assert.deepEqual(act.dims.slice(1), spec.outputs.activation.shape.slice(1));
          x = act;
        }
      }
    }
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  return out;
}

/** The exit rule of the manifest's description (same as models/tools/train.py). */
function decide(logitsPerStage: ArrayLike<number>[], threshold: number): { stage: number; label: number } {
  let best = { k: 0, label: 0, confidence: -1 };
  for (let k = 0; k < logitsPerStage.length; k++) {
    const { label, confidence } = softmaxMax(logitsPerStage[k]!);
    if (confidence >= threshold) return { stage: k + 1, label };
    if (confidence > best.confidence) best = { k, label, confidence };
  }
  return { stage: logitsPerStage.length, label: best.label };
}

// Both shipped models: the default one and the heavy variant the simulator's reports use (models/mnist-ee-heavy):
// listed, stage files as the manifest says, dataset split counts.
for (const MODEL of SHIPPED_MODELS) {
  test(`listModels includes ${MODEL}`, () => {
    assert.ok(listModels().includes(MODEL), `models: ${listModels().join(', ')}`);
  });

  test(`${MODEL}: every stage file matches the manifest sha256 and size`, () => {
    const manifest = loadManifest(MODEL);
    for (const s of manifest.stages) {
      const buf = fs.readFileSync(stageFilePath(manifest, s));
      assert.equal(buf.length, s.bytes, `stage ${s.index} size`);
      assert.equal(crypto.createHash('sha256').update(buf).digest('hex'), s.sha256, `stage ${s.index} sha256`);
    }
  });

  test(`${MODEL}: the dataset split matches the manifest counts`, () => {
    const manifest = loadManifest(MODEL);
    for (const split of ['train', 'calibration', 'test'] as const) {
      const { images, labels } = loadSplit(manifest, split);
      assert.equal(images.length, manifest.dataset.counts[split], split);
      assert.equal(labels.length, images.length);
      assert.equal(
        images[0]!.length,
        manifest.dataset.imageShape.reduce((a, b) => a * b, 1),
      );
    }
    assert.equal(loadSplit(manifest, 'test'), loadSplit(manifest, 'test'), 'cached per process');
  });
}

// The default model only: the heavy one's 9.3 MB of stages take minutes over its test split on this 2-core machine,
// beyond a unit test (its exit profile is checked against its manifest in autoscaler/profile.test.ts).
test(`${MODEL}: onnxruntime-node reproduces the manifest evaluation on the test split`, async () => {
  const manifest = loadManifest(MODEL);
  const ev = manifest.evaluation;
  const { images, labels } = loadSplit(manifest, 'test');
  assert.equal(images.length, ev.samples);
  const logits = await runAllStages(manifest, images);
  const K = manifest.stages.length;
  const threshold = manifest.defaultThreshold;
  assert.equal(ev.threshold, threshold);

  const exitCount = new Array<number>(K).fill(0);
  const correct = new Array<number>(K).fill(0);
  let correctTotal = 0;
  const forcedCorrect = new Array<number>(K).fill(0);
  for (let i = 0; i < images.length; i++) {
    const perStage = logits.map((l) => l[i]!);
    const d = decide(perStage, threshold);
    exitCount[d.stage - 1]! += 1;
    if (d.label === labels[i]) {
      correct[d.stage - 1]! += 1;
      correctTotal += 1;
    }
    perStage.forEach((l, k) => {
      if (softmaxMax(l).label === labels[i]) forcedCorrect[k]! += 1;
    });
  }

  const n = images.length;
  console.log(`model ${manifest.name}, ${n} test samples, threshold ${threshold}`);
  console.log(
    `overall accuracy: ort-node ${(correctTotal / n).toFixed(4)} vs manifest ${ev.overallAccuracy.toFixed(4)}`,
  );
  // expected correct counts from the manifest's accuracies (exact integers up to float rounding)
  const close = (actual: number, expected: number, what: string): void => {
    assert.ok(
      Math.abs(actual - expected) <= TOLERANCE_SAMPLES,
      `${what}: ort-node ${actual} vs manifest ${expected} (tolerance ${TOLERANCE_SAMPLES} samples)`,
    );
  };
  close(correctTotal, Math.round(ev.overallAccuracy * n), 'overall correct count');
  for (let k = 0; k < K; k++) {
    const pe = ev.perExit[k]!;
    const acc = exitCount[k]! > 0 ? correct[k]! / exitCount[k]! : null;
    console.log(
      `stage ${k + 1}: exits ${exitCount[k]} (manifest ${pe.exitCount}), share ${(exitCount[k]! / n).toFixed(3)}, ` +
        `accuracy ${acc === null ? 'n/a' : acc.toFixed(4)} (manifest ${pe.accuracy === null ? 'n/a' : pe.accuracy.toFixed(4)}), ` +
        `forced-exit accuracy ${(forcedCorrect[k]! / n).toFixed(4)} (manifest ${ev.forcedExitAccuracy[k]!.toFixed(4)})`,
    );
    assert.equal(pe.stage, k + 1);
    close(exitCount[k]!, pe.exitCount, `stage ${k + 1} exit count`);
    const expectedCorrect = pe.accuracy === null ? 0 : Math.round(pe.accuracy * pe.exitCount);
    close(correct[k]!, expectedCorrect, `stage ${k + 1} correct exits`);
    close(forcedCorrect[k]!, Math.round(ev.forcedExitAccuracy[k]! * n), `stage ${k + 1} forced-exit correct count`);
  }
});

test('a manifest with a broken field gives a field-named error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-manifest-'));
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, MODEL, 'manifest.json'), 'utf8')) as {
      stages: Array<Record<string, unknown>>;
    };
    raw.stages[2]!.file = 42;
    fs.mkdirSync(path.join(dir, MODEL));
    const file = path.join(dir, MODEL, 'manifest.json');
    fs.writeFileSync(file, JSON.stringify(raw));
    assert.throws(
      () => loadManifest(MODEL, dir),
      (err: unknown) => {
        assert.ok(err instanceof InvalidManifestError);
        assert.equal(err.name, 'InvalidManifestError');
        assert.ok(err.message.includes(`manifest ${file}: stages[2].file: expected string`), `message: ${err.message}`);
        return true;
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown model gives UnknownModelError listing the available models', () => {
  assert.throws(
    () => loadManifest('no-such-model'),
    (err: unknown) => {
      assert.ok(err instanceof UnknownModelError);
      assert.equal(err.name, 'UnknownModelError');
      assert.match(err.message, /no-such-model/);
      assert.match(err.message, new RegExp(`available models: .*${MODEL}`));
      return true;
    },
  );
  assert.throws(() => loadManifest('../models'), UnknownModelError);
});

test('softmaxMax is numerically stable and picks the first maximum', () => {
  assert.deepEqual(softmaxMax([1000, 1000]), { label: 0, confidence: 0.5 });
  const r = softmaxMax(new Float32Array([-1e4, 3, 1e4]));
  assert.equal(r.label, 2);
  assert.equal(r.confidence, 1);
  assert.ok(Math.abs(softmaxMax([0, Math.log(3)]).confidence - 0.75) < 1e-12);
  assert.throws(() => softmaxMax([]), RangeError);
});
