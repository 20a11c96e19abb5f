/**
 * The whole workflow input of a query, checked where it is built (the client), before a workflow is started:
 * types, sizes and ranges of every field, its descriptor (common/descriptor-checks.ts), and its input against the
 * descriptor's dims. A query that fails here costs no workflow, and its error says which field is wrong instead
 * of surfacing later from a stage (or, for an oversized payload, as an opaque server rejection).
 * Pure; the tensor's values are checked by `validateTensor` (common/tensor-codec.ts) where the data is at hand.
 */
import type { InferenceQuery, TensorRef } from './contracts';
import { checkDescriptor, checkQueryRanges, fieldError, isRecord, MAX_TENSOR_RANK } from './descriptor-checks';
import { InvalidInputError } from './errors';
import { elementCount, inlineEncodedBytes } from './tensor-codec';

/** Longest query id: it is part of the workflow id, which Temporal limits (1,000 bytes by default). */
export const MAX_QUERY_ID_LENGTH = 200;

/**
 * Largest inline input, in encoded bytes: Temporal rejects payloads over 2 MiB (its default blob size limit), and
 * the workflow input also carries the descriptor; larger inputs must go through the claim-check store.
 */
export const MAX_INLINE_INPUT_BYTES = 2 * 1024 * 1024 - 64 * 1024;

const nonEmptyString = (max: number) => (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= max;

/** Check `query` completely; returns it typed, or throws InvalidInputError / UnknownStageError naming the field. */
export function checkQuery(query: unknown): InferenceQuery {
  if (!isRecord(query)) throw fieldError('query', 'an object', query);
  const q = checkQueryFields(query);
  const descriptor = checkDescriptor(q.descriptor, q.model);
  checkQueryRanges(q, descriptor.stages);
  checkInput(q.input, descriptor.inputDims);
  return q;
}

/**
 * Types and sizes of a query's scalar fields (its id, model and options), checked before anything is resolved or
 * uploaded for it; the threshold's and stage cap's ranges depend on the model (`checkQueryRanges`).
 */
export function checkQueryFields(query: Record<string, unknown>): InferenceQuery {
  const field = (key: string, what: string, ok: (v: unknown) => boolean, optional = true) => {
    const v = query[key];
    if (!(optional && v === undefined) && !ok(v)) throw fieldError(key, optional ? `${what} or nothing` : what, v);
  };
  const id = `a string of 1..${MAX_QUERY_ID_LENGTH} characters`;
  field('queryId', id, nonEmptyString(MAX_QUERY_ID_LENGTH), false);
  field('model', 'a model name', nonEmptyString(MAX_QUERY_ID_LENGTH), false);
  field('threshold', 'a number', (v) => typeof v === 'number');
  field('maxStage', 'an integer', (v) => Number.isInteger(v));
  field('sloMs', 'a positive number of ms', (v) => typeof v === 'number' && Number.isFinite(v) && v > 0);
  field('inlineActivationMaxBytes', 'an integer >= 0', (v) => Number.isInteger(v) && (v as number) >= 0);
  field('dims', `a list of 1..${MAX_TENSOR_RANK} positive integers`, isTensorDims);
  return query as unknown as InferenceQuery;
}

/** A list of 1..MAX_TENSOR_RANK positive integers (a query's `dims`, an input reference's). */
function isTensorDims(v: unknown): v is number[] {
  return (
    Array.isArray(v) &&
    v.length >= 1 &&
    v.length <= MAX_TENSOR_RANK &&
    v.every((d) => Number.isInteger(d) && (d as number) >= 1)
  );
}

/** The input reference's structure, its size, and its dims against the model's (-1: any size). */
function checkInput(input: unknown, expected: readonly number[]): void {
  if (!isRecord(input)) throw fieldError('input', 'a tensor reference', input);
  const dims = input.dims;
  if (!isTensorDims(dims)) throw fieldError('input.dims', `1..${MAX_TENSOR_RANK} positive integers`, dims);
  const shape = `[${expected.join(', ')}]`;
  if (dims.length !== expected.length || dims.some((d, i) => (expected[i] ?? -1) > 0 && d !== expected[i])) {
    throw new InvalidInputError(`input.dims: expected shape ${shape} (-1: any size), got [${dims.join(', ')}]`);
  }
  const elements = elementCount(dims);
  const ref = input as TensorRef;
  if (ref.kind === 'inline') {
    const want = inlineEncodedBytes(elements);
    if (typeof ref.dataBase64 !== 'string') throw fieldError('input.dataBase64', 'a base64 string', ref.dataBase64);
    if (ref.dataBase64.length !== want) {
      throw new InvalidInputError(
        `input.dataBase64: expected ${want} base64 characters (${elements} float32 values), got ${ref.dataBase64.length}`,
      );
    }
    if (want > MAX_INLINE_INPUT_BYTES) {
      throw new InvalidInputError(
        `input.dataBase64: ${want} bytes inline exceed the ${MAX_INLINE_INPUT_BYTES}-byte payload budget; ` +
          'lower inlineActivationMaxBytes so the input goes through the claim-check store',
      );
    }
  } else if (ref.kind === 'object') {
    if (!nonEmptyString(1024)(ref.bucket)) throw fieldError('input.bucket', 'a bucket name', ref.bucket);
    if (!nonEmptyString(1024)(ref.key)) throw fieldError('input.key', 'an object key', ref.key);
    if (ref.bytes !== elements * 4) throw fieldError('input.bytes', `${elements * 4} (float32 values)`, ref.bytes);
  } else {
    throw fieldError('input.kind', '"inline" or "object"', (input as { kind?: unknown }).kind);
  }
}
