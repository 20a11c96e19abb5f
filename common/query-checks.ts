/**
 * The whole workflow input of a query, checked where it is built (the client), before a workflow is started:
 * types, sizes and ranges of every field, its descriptor (common/descriptor-checks.ts), and its input against the
 * descriptor's dims. A query that fails here costs no workflow, and its error says which field is wrong instead
 * of surfacing later from a stage (or, for an oversized payload, as an opaque server rejection).
 * Pure; the tensor's values are checked by `validateTensor` (common/tensor-codec.ts) where the data is at hand.
 */
import type { InferenceQuery } from './contracts';
import { checkDescriptor, checkQueryRanges, fieldError, isRecord } from './descriptor-checks';
import { InvalidInputError } from './errors';
import { checkTensorRef, isTensorDims, MAX_TENSOR_RANK } from './tensor-codec';

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

/**
 * The input reference against the model's dims (-1: any size), then its structure and size (`checkTensorRef`, the
 * check every reader of a reference makes), then the inline payload budget.
 */
function checkInput(input: unknown, expected: readonly number[]): void {
  if (!isRecord(input)) throw fieldError('input', 'a tensor reference', input);
  const dims = input.dims;
  if (!isTensorDims(dims)) throw fieldError('input.dims', `1..${MAX_TENSOR_RANK} positive integers`, dims);
  const shape = `[${expected.join(', ')}]`;
  if (dims.length !== expected.length || dims.some((d, i) => (expected[i] ?? -1) > 0 && d !== expected[i])) {
    throw new InvalidInputError(`input.dims: expected shape ${shape} (-1: any size), got [${dims.join(', ')}]`);
  }
  const ref = checkTensorRef(input, 'input');
  if (ref.kind === 'inline' && ref.dataBase64.length > MAX_INLINE_INPUT_BYTES) {
    throw new InvalidInputError(
      `input.dataBase64: ${ref.dataBase64.length} bytes inline exceed the ${MAX_INLINE_INPUT_BYTES}-byte payload budget; ` +
        'lower inlineActivationMaxBytes so the input goes through the claim-check store',
    );
  }
}
