/**
 * Encoding of float32 tensors for Temporal payloads and the claim-check store.
 * Bytes are little-endian float32 (the layout of Float32Array on every platform Node supports).
 */
import type { TensorRef } from './contracts';
import { InvalidInputError } from './errors';

/** Number of elements of a tensor with these dims. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** Raw bytes of a Float32Array (a view, no copy). */
export function float32ToBytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Float32Array over a copy of `bytes` (copied so the result is 4-byte aligned). */
export function bytesToFloat32(bytes: Uint8Array, where: string): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new InvalidInputError(`${where}: ${bytes.byteLength} bytes is not a whole number of float32 values`);
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/** Size in bytes the inline encoding of `elements` float32 values takes in a payload (base64 of 4 bytes each). */
export function inlineEncodedBytes(elements: number): number {
  return Math.ceil((elements * 4) / 3) * 4;
}

/** An inline tensor reference. */
export function inlineTensor(data: Float32Array, dims: number[]): TensorRef {
  return { kind: 'inline', dims, dataBase64: Buffer.from(float32ToBytes(data)).toString('base64') };
}

/** Highest tensor rank a reference or a model's input may claim: far above any stage input, low enough to bound a bad payload. */
export const MAX_TENSOR_RANK = 8;

/** A list of 1..MAX_TENSOR_RANK positive integers (a tensor reference's dims, a query's). */
export function isTensorDims(v: unknown): v is number[] {
  return (
    Array.isArray(v) &&
    v.length >= 1 &&
    v.length <= MAX_TENSOR_RANK &&
    v.every((d) => Number.isInteger(d) && (d as number) >= 1)
  );
}

/**
 * The shape of a tensor reference as it arrives in a payload (any client or SDK can write one): an object of kind
 * `inline` (dims, base64 data) or `object` (dims, bucket, key, bytes), dims a list of 1..MAX_TENSOR_RANK positive
 * integers. Throws InvalidInputError naming the field, so bad input fails its query at once instead of being retried.
 */
export function checkTensorRef(ref: unknown, where: string): TensorRef {
  const bad = (what: string, got: unknown) =>
    new InvalidInputError(
      `${where}: ${what}, got ${got === undefined ? 'nothing' : (JSON.stringify(got)?.slice(0, 80) ?? typeof got)}`,
    );
  if (ref === null || typeof ref !== 'object' || Array.isArray(ref))
    throw bad('expected a tensor reference object', ref);
  const r = ref as Record<string, unknown>;
  const dims = r.dims;
  if (!isTensorDims(dims)) throw bad(`dims: expected 1..${MAX_TENSOR_RANK} positive integers`, dims);
  // The data's size follows from the dims: a reference whose size disagrees is named here, before its data is read
  // (an object that does not exist, or bytes that decode to a tensor of another shape).
  const elements = elementCount(dims);
  const shape = `dims [${dims.join(', ')}]`;
  if (r.kind === 'inline') {
    if (typeof r.dataBase64 !== 'string') throw bad('dataBase64: expected a base64 string', r.dataBase64);
    const want = inlineEncodedBytes(elements);
    if (r.dataBase64.length !== want) {
      throw new InvalidInputError(
        `${where}: dataBase64: expected ${want} base64 characters for ${shape} (${elements} float32 values), got ${r.dataBase64.length}`,
      );
    }
  } else if (r.kind === 'object') {
    if (typeof r.bucket !== 'string' || r.bucket.length === 0) throw bad('bucket: expected a name', r.bucket);
    if (typeof r.key !== 'string' || r.key.length === 0) throw bad('key: expected an object key', r.key);
    if (r.bytes !== elements * 4) throw bad(`bytes: expected ${elements * 4} for ${shape} (float32 values)`, r.bytes);
  } else {
    throw bad('kind: expected "inline" or "object"', r.kind);
  }
  return ref as TensorRef;
}

/** Decode an inline tensor's data (claim-checked tensors are fetched by the activation store). */
export function decodeInline(ref: Extract<TensorRef, { kind: 'inline' }>, where: string): Float32Array {
  return bytesToFloat32(Buffer.from(ref.dataBase64, 'base64'), where);
}

/**
 * Check a decoded tensor against the dims it claims and the dims the stage expects.
 * `expected` may contain -1 (or a string dim name from the manifest, passed as -1) for the batch dimension.
 * Throws InvalidInputError naming what was wrong and where.
 */
export function validateTensor(
  data: Float32Array,
  dims: readonly number[],
  expected: readonly number[],
  where: string,
): void {
  if (dims.length !== expected.length) {
    throw new InvalidInputError(
      `${where}: expected a tensor of rank ${expected.length} with shape [${expected.join(', ')}], got shape [${dims.join(', ')}]`,
    );
  }
  dims.forEach((d, i) => {
    const want = expected[i] ?? -1;
    if (!Number.isInteger(d) || d <= 0 || (want > 0 && d !== want)) {
      throw new InvalidInputError(
        `${where}: dimension ${i} is ${d}, expected ${want > 0 ? want : 'a positive integer'} (shape [${expected.join(', ')}], got [${dims.join(', ')}])`,
      );
    }
  });
  const want = elementCount(dims);
  if (data.length !== want) {
    throw new InvalidInputError(`${where}: shape [${dims.join(', ')}] needs ${want} values, got ${data.length}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) {
      throw new InvalidInputError(`${where}: value at flat index ${i} is ${v}; inputs must be finite numbers`);
    }
  }
}
