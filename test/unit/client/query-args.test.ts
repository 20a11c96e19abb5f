/**
 * The SDK's arguments as untyped callers pass them: every wrong input or options value is an InferenceFailedError
 * (InvalidInputError) naming the argument, never a TypeError from inside the builder.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildInferenceQuery, checkInferArgs, InferenceFailedError } from '../../../client/query-builder';
import { compileConfig } from '../../../common/config';
import type { TensorRef } from '../../../common/contracts';
import { loadManifest } from '../../../models/manifest';

const manifest = loadManifest('mnist-ee');
const deps = {
  config: compileConfig({}),
  manifest: () => manifest,
  routingPlan: async () => null,
  activationStore: async () => ({
    toRef: async (): Promise<TensorRef> => {
      throw new Error('nothing is uploaded for a rejected query');
    },
  }),
};
const image = new Float32Array(784);

function rejects(what: string, input: unknown, options: unknown, message: RegExp) {
  test(`${what} is InvalidInputError: ${message.source}`, async () => {
    await assert.rejects(
      buildInferenceQuery(input as Float32Array, options as object, 'q-1', deps),
      (err: unknown) =>
        err instanceof InferenceFailedError && err.type === 'InvalidInputError' && message.test(err.message),
    );
  });
}

describe('buildInferenceQuery: arguments of the wrong kind', () => {
  rejects('a missing input', undefined, {}, /^input: expected a Float32Array or an array of numbers, got nothing$/);
  rejects('a null input', null, {}, /^input: expected a Float32Array or an array of numbers, got null$/);
  rejects('a string input', 'abc', {}, /^input: expected a Float32Array or an array of numbers, got "abc"$/);
  rejects('an array holding a string', [0.1, 'x'], {}, /^input\[1\]: expected a number, got "x"$/);
  rejects(
    'options that are a string',
    image,
    'fast',
    /^options: expected an object of query options or nothing, got "fast"$/,
  );
  rejects('options that are null', image, null, /^options: expected an object/);
  rejects(
    'dims that are a number',
    image,
    { dims: 5 },
    /^dims: expected a list of 1\.\.8 positive integers or nothing, got 5$/,
  );
  rejects(
    'dims with a negative size',
    image,
    { dims: [1, 1, 28, -28] },
    /^dims: expected a list of 1\.\.8 positive integers/,
  );

  test('good arguments pass', () => {
    checkInferArgs(image, {}, 'q');
    checkInferArgs([0, 1, 2], undefined, 'q');
  });
});
