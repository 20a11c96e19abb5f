/**
 * models/manifest.ts: the two rules for a stage's input dims. `stageInputDims` says what a stage accepts (a free
 * dim is -1, any size); `concreteInputDims` is for building a real tensor (a free dim is 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concreteInputDims, loadManifest, queryInputDims, stageInputDims, type StageSpec } from '../../../models';

/** A stage of `shape`; only its input matters here. */
function specOf(shape: Array<number | string>): StageSpec {
  const manifest = loadManifest('mnist-ee');
  const first = manifest.stages[0]!;
  return { ...first, input: { name: first.input.name, shape } };
}

test('the batch dimension is 1 in both rules, fixed or free', () => {
  assert.deepEqual(stageInputDims(specOf(['batch', 1, 28, 28])), [1, 1, 28, 28]);
  assert.deepEqual(concreteInputDims(specOf(['batch', 1, 28, 28])), [1, 1, 28, 28]);
  assert.deepEqual(stageInputDims(specOf([4, 8])), [1, 8]);
  assert.deepEqual(concreteInputDims(specOf([4, 8])), [1, 8]);
});

test('another free dimension is -1 where a stage accepts any size, 1 in a tensor built for it', () => {
  const spec = specOf(['batch', 'channels', 28, 28]);
  assert.deepEqual(stageInputDims(spec), [1, -1, 28, 28]);
  assert.deepEqual(concreteInputDims(spec), [1, 1, 28, 28]);
});

test('for the shipped model, the concrete query dims are the accepted ones (no free dim past the batch)', () => {
  const manifest = loadManifest('mnist-ee');
  assert.deepEqual(concreteInputDims(manifest.stages[0]!), queryInputDims(manifest));
});
