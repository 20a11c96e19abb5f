/** common/tensor-codec.ts: the inline float32 encoding, its size estimate, and input validation. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToFloat32,
  decodeInline,
  elementCount,
  float32ToBytes,
  inlineEncodedBytes,
  inlineTensor,
  validateTensor,
} from '../../../common/tensor-codec';
import { InvalidInputError } from '../../../common/errors';

const MNIST_INPUT: readonly number[] = [-1, 1, 28, 28];
const WHERE = 'query q-7, mnist-ee stage 1 input';

/** Assert that `fn` throws an InvalidInputError whose message contains every one of `parts`. */
function assertInvalidInput(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    assert.equal(err.name, 'InvalidInputError');
    for (const part of parts)
      assert.ok(err.message.includes(part), `message ${JSON.stringify(err.message)} lacks ${part}`);
    return true;
  });
}

/** The bit patterns of a Float32Array, so -0, NaN payloads and subnormals compare exactly. */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('inline encoding', () => {
  test('an inline round trip is bit-exact, including -0, subnormals, extremes and NaN payloads', () => {
    const raw = new Uint32Array([
      0x00000000, // +0
      0x80000000, // -0
      0x00000001, // smallest positive subnormal
      0x807fffff, // largest negative subnormal
      0x00800000, // smallest normal
      0x7f7fffff, // largest finite
      0xff7fffff, // most negative finite
      0x7f800000, // +Infinity
      0xff800000, // -Infinity
      0x7fc00001, // quiet NaN with a payload
      0x3eaaaaab, // ~1/3
    ]);
    const data = new Float32Array(raw.buffer);
    const ref = inlineTensor(data, [1, data.length]);
    assert.ok(ref.kind === 'inline');
    assert.deepEqual(ref.dims, [1, data.length]);
    const back = decodeInline(ref, WHERE);
    assert.deepEqual(bits(back), Array.from(raw));
    assert.ok(Object.is(back[1], -0), 'negative zero keeps its sign');
    assert.ok(back[2]! > 0 && back[2]! < 1.2e-38, 'subnormal stays subnormal');
  });

  test('an inline round trip of a view into a larger buffer encodes only the view', () => {
    const whole = new Float32Array([9, 1.5, -2.25, 3, 9]);
    const view = whole.subarray(1, 4);
    const ref = inlineTensor(view, [3]);
    assert.ok(ref.kind === 'inline');
    const back = decodeInline(ref, WHERE);
    assert.deepEqual(Array.from(back), [1.5, -2.25, 3]);
  });

  test('the encoded bytes are little-endian float32', () => {
    const ref = inlineTensor(new Float32Array([1]), [1]);
    assert.ok(ref.kind === 'inline');
    assert.deepEqual([...Buffer.from(ref.dataBase64, 'base64')], [0x00, 0x00, 0x80, 0x3f]);
  });

  for (const elements of [0, 1, 2, 3, 4, 5, 6, 7, 100, 784, 1568, 4096]) {
    test(`inlineEncodedBytes(${elements}) equals the real base64 length`, () => {
      const ref = inlineTensor(new Float32Array(elements).fill(0.5), [elements]);
      assert.ok(ref.kind === 'inline');
      assert.equal(inlineEncodedBytes(elements), ref.dataBase64.length);
    });
  }
});

describe('bytesToFloat32', () => {
  for (const n of [1, 2, 3, 5, 6, 7, 3137]) {
    test(`${n} bytes is rejected as not a whole number of float32 values`, () => {
      assertInvalidInput(() => bytesToFloat32(new Uint8Array(n), WHERE), WHERE, `${n} bytes`, 'float32');
    });
  }

  test('a whole number of float32 values is decoded from an unaligned view into an aligned copy', () => {
    const src = float32ToBytes(new Float32Array([1.25, -7]));
    const unaligned = new Uint8Array(src.length + 1);
    unaligned.set(src, 1);
    const out = bytesToFloat32(unaligned.subarray(1), WHERE);
    assert.deepEqual(Array.from(out), [1.25, -7]);
    unaligned.fill(0);
    assert.deepEqual(Array.from(out), [1.25, -7], 'the result is a copy');
  });

  test('zero bytes decode to an empty tensor', () => {
    assert.equal(bytesToFloat32(new Uint8Array(0), WHERE).length, 0);
  });

  test('a truncated base64 payload is rejected when decoded', () => {
    assertInvalidInput(() => decodeInline({ kind: 'inline', dims: [1], dataBase64: 'AACA' }, WHERE), WHERE, '3 bytes');
  });
});

describe('float32ToBytes and elementCount', () => {
  test('float32ToBytes is a view over the same memory', () => {
    const data = new Float32Array([0]);
    const bytes = float32ToBytes(data);
    bytes[3] = 0x3f;
    bytes[2] = 0x80;
    assert.equal(data[0], 1);
  });

  const counts: Array<[number[], number]> = [
    [[], 1],
    [[5], 5],
    [[1, 1, 28, 28], 784],
    [[2, 8, 14, 14], 3136],
    [[3, 0], 0],
  ];
  for (const [dims, want] of counts) {
    test(`elementCount([${dims.join(', ')}]) is ${want}`, () => {
      assert.equal(elementCount(dims), want);
    });
  }
});

describe('validateTensor', () => {
  const image = (n = 784) => new Float32Array(n).fill(0.5);

  const valid: Array<{ what: string; data: Float32Array; dims: number[]; expected: readonly number[] }> = [
    { what: 'one MNIST image', data: image(), dims: [1, 1, 28, 28], expected: MNIST_INPUT },
    {
      what: 'a batch of 3 on the free batch dimension',
      data: image(3 * 784),
      dims: [3, 1, 28, 28],
      expected: MNIST_INPUT,
    },
    { what: 'a fully fixed shape', data: image(6), dims: [2, 3], expected: [2, 3] },
    {
      what: 'extreme but finite values',
      data: new Float32Array([3.4e38, -3.4e38, 1e-45, -0]),
      dims: [4],
      expected: [-1],
    },
  ];
  for (const { what, data, dims, expected } of valid) {
    test(`${what} is accepted`, () => {
      assert.doesNotThrow(() => validateTensor(data, dims, expected, WHERE));
    });
  }

  const invalidCases: Array<{ what: string; data: Float32Array; dims: number[]; says: string[] }> = [
    {
      what: 'a tensor of the wrong rank',
      data: image(),
      dims: [1, 784],
      says: ['rank 4', '[-1, 1, 28, 28]', 'got shape [1, 784]'],
    },
    { what: 'a tensor of rank 0', data: image(1), dims: [], says: ['rank 4', 'got shape []'] },
    {
      what: 'a wrong fixed dimension',
      data: image(756),
      dims: [1, 1, 28, 27],
      says: ['dimension 3 is 27', 'expected 28'],
    },
    {
      what: 'a wrong channel count',
      data: image(1568),
      dims: [1, 2, 28, 28],
      says: ['dimension 1 is 2', 'expected 1'],
    },
    {
      what: 'a zero batch dimension',
      data: image(0),
      dims: [0, 1, 28, 28],
      says: ['dimension 0 is 0', 'a positive integer'],
    },
    {
      what: 'a negative batch dimension',
      data: image(),
      dims: [-1, 1, 28, 28],
      says: ['dimension 0 is -1', 'a positive integer'],
    },
    { what: 'a fractional batch dimension', data: image(), dims: [1.5, 1, 28, 28], says: ['dimension 0 is 1.5'] },
    {
      what: 'too few values for the shape',
      data: image(783),
      dims: [1, 1, 28, 28],
      says: ['needs 784 values, got 783'],
    },
    {
      what: 'too many values for the shape',
      data: image(785),
      dims: [1, 1, 28, 28],
      says: ['needs 784 values, got 785'],
    },
    {
      what: 'a NaN value',
      data: Object.assign(image(), { 3: Number.NaN }),
      dims: [1, 1, 28, 28],
      says: ['flat index 3', 'NaN', 'finite'],
    },
    {
      what: 'an Infinity value',
      data: Object.assign(image(), { 700: Number.POSITIVE_INFINITY }),
      dims: [1, 1, 28, 28],
      says: ['flat index 700', 'Infinity'],
    },
    {
      what: 'a -Infinity value',
      data: Object.assign(image(), { 0: Number.NEGATIVE_INFINITY }),
      dims: [1, 1, 28, 28],
      says: ['flat index 0', '-Infinity'],
    },
  ];
  for (const { what, data, dims, says } of invalidCases) {
    test(`${what} is an InvalidInputError saying what and where`, () => {
      assertInvalidInput(() => validateTensor(data, dims, MNIST_INPUT, WHERE), `${WHERE}: `, ...says);
    });
  }

  test('the first non-finite value is the one reported', () => {
    const data = image();
    data[10] = Number.POSITIVE_INFINITY;
    data[4] = Number.NaN;
    assertInvalidInput(() => validateTensor(data, [1, 1, 28, 28], MNIST_INPUT, WHERE), 'flat index 4 is NaN');
  });
});
