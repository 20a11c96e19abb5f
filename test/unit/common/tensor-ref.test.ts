/** checkTensorRef: a reference whose data size disagrees with its dims is named before any data is read. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '../../../common/errors';
import { checkTensorRef, inlineTensor } from '../../../common/tensor-codec';

const dims = [1, 1, 28, 28];
const good = inlineTensor(new Float32Array(784), dims);

describe('checkTensorRef: sizes', () => {
  test('references the codec writes pass', () => {
    assert.equal(checkTensorRef(good, 'in'), good);
    const object = { kind: 'object', dims, bucket: 'serflow-activations', key: 'k', bytes: 784 * 4 };
    assert.equal(checkTensorRef(object, 'in'), object);
  });

  const cases: [string, unknown, RegExp][] = [
    [
      'inline data of another length',
      { kind: 'inline', dims, dataBase64: 'AAAA' },
      /^in: dataBase64: expected 4184 base64 characters for dims \[1, 1, 28, 28\] \(784 float32 values\), got 4$/,
    ],
    [
      'inline data of the length of other dims',
      { ...good, dims: [1, 3, 28, 28] },
      /dataBase64: expected 12544 base64 characters for dims \[1, 3, 28, 28\] \(2352 float32 values\), got 4184/,
    ],
    [
      'an object of another byte count',
      { kind: 'object', dims, bucket: 'serflow-activations', key: 'k', bytes: 7 },
      /^in: bytes: expected 3136 for dims \[1, 1, 28, 28\] \(float32 values\), got 7$/,
    ],
    [
      'an object without a byte count',
      { kind: 'object', dims, bucket: 'b', key: 'k' },
      /bytes: expected 3136.*got nothing/,
    ],
  ];
  for (const [what, ref, message] of cases) {
    test(`${what} is an InvalidInputError naming the field`, () => {
      assert.throws(
        () => checkTensorRef(ref, 'in'),
        (err: unknown) => err instanceof InvalidInputError && message.test(err.message),
      );
    });
  }
});
