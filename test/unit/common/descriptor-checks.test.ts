/**
 * common/descriptor-checks.ts and common/query-checks.ts: a model descriptor and a whole query are accepted as
 * built, and every bad field is rejected with a typed error that names it (the workflow fails a query with the
 * same message; the client refuses to start one).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferenceQuery, ModelDescriptor } from '../../../common/contracts';
import { checkDescriptor, checkQueryRanges } from '../../../common/descriptor-checks';
import { InvalidInputError, UnknownStageError } from '../../../common/errors';
import { checkQuery, MAX_INLINE_INPUT_BYTES, MAX_QUERY_ID_LENGTH } from '../../../common/query-checks';
import { allVmPlan, planFromSpec } from '../../../common/routing';
import { inlineTensor } from '../../../common/tensor-codec';

const MODEL = 'mnist-ee';

const DESCRIPTOR: ModelDescriptor = {
  model: MODEL,
  stages: 4,
  defaultThreshold: 0.95,
  inputDims: [1, 1, 28, 28],
  inlineActivationMaxBytes: 16_384,
  stageTimeoutMs: 10_000,
  stageMaxAttempts: 10,
  stageHeartbeatTimeoutMs: 2_000,
  faasStageTimeoutMs: 10_500,
  faasStageMaxAttempts: 100,
  routing: planFromSpec('vm-prefix:2', MODEL, 4, 1_000, 250),
};

/** `fn` throws an error of class `type` whose message matches `message`. */
function rejects(fn: () => unknown, type: typeof InvalidInputError | typeof UnknownStageError, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

describe('checkDescriptor', () => {
  test('accepts a descriptor as the builder makes it, and one without heartbeats or with an all-VM plan', () => {
    assert.equal(checkDescriptor(DESCRIPTOR, MODEL), DESCRIPTOR);
    checkDescriptor({ ...DESCRIPTOR, stageHeartbeatTimeoutMs: 0, routing: allVmPlan(MODEL, 4) }, MODEL);
    checkDescriptor({ ...DESCRIPTOR, inputDims: [1, -1], extraFieldOfANewerClient: true }, MODEL);
  });

  const bad: Array<{ what: string; descriptor: unknown; message: RegExp }> = [
    { what: 'not an object', descriptor: null, message: /^descriptor: expected an object, got null$/ },
    { what: 'a list', descriptor: [DESCRIPTOR], message: /^descriptor: expected an object/ },
    {
      what: 'another model',
      descriptor: { ...DESCRIPTOR, model: 'x' },
      message: /^descriptor\.model: expected "mnist-ee", got "x"$/,
    },
    {
      what: 'a queue timeout of 0 ms (absent means none, as in older histories)',
      descriptor: { ...DESCRIPTOR, stageQueueTimeoutMs: 0 },
      message: /^descriptor\.stageQueueTimeoutMs: expected a positive number of ms, got 0$/,
    },
    {
      what: 'no stages',
      descriptor: { ...DESCRIPTOR, stages: 0 },
      message: /^descriptor\.stages: expected an integer/,
    },
    {
      what: 'too many stages',
      descriptor: { ...DESCRIPTOR, stages: 1_000 },
      message: /^descriptor\.stages: expected an integer in 1\.\.100, got 1000$/,
    },
    {
      what: 'a threshold above 1',
      descriptor: { ...DESCRIPTOR, defaultThreshold: 2 },
      message: /^descriptor\.defaultThreshold: expected a number in \[0, 1\], got 2$/,
    },
    {
      what: 'a zero dimension',
      descriptor: { ...DESCRIPTOR, inputDims: [1, 0] },
      message: /^descriptor\.inputDims: expected 1\.\.8 dims/,
    },
    {
      what: 'a negative inline limit',
      descriptor: { ...DESCRIPTOR, inlineActivationMaxBytes: -1 },
      message: /^descriptor\.inlineActivationMaxBytes: expected an integer >= 0, got -1$/,
    },
    {
      what: 'a string timeout',
      descriptor: { ...DESCRIPTOR, stageTimeoutMs: '10s' },
      message: /^descriptor\.stageTimeoutMs: expected a positive number of ms, got "10s"$/,
    },
    {
      what: 'an infinite faas timeout',
      descriptor: { ...DESCRIPTOR, faasStageTimeoutMs: Number.POSITIVE_INFINITY },
      message: /^descriptor\.faasStageTimeoutMs: expected a positive number of ms, got Infinity$/,
    },
    {
      what: 'zero attempts',
      descriptor: { ...DESCRIPTOR, stageMaxAttempts: 0 },
      message: /^descriptor\.stageMaxAttempts: expected an integer >= 1, got 0$/,
    },
    {
      what: 'fractional faas attempts',
      descriptor: { ...DESCRIPTOR, faasStageMaxAttempts: 1.5 },
      message: /^descriptor\.faasStageMaxAttempts: expected an integer >= 1, got 1\.5$/,
    },
    {
      what: 'a missing heartbeat timeout',
      descriptor: { ...DESCRIPTOR, stageHeartbeatTimeoutMs: undefined },
      message: /^descriptor\.stageHeartbeatTimeoutMs: expected a number of ms >= 0, got nothing$/,
    },
    {
      what: 'no routing plan',
      descriptor: { ...DESCRIPTOR, routing: undefined },
      message: /^descriptor\.routing: expected a routing plan object, got nothing$/,
    },
    {
      what: 'a plan of another version',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, v: 2 } },
      message: /^descriptor\.routing\.v: expected 1, got 2$/,
    },
    {
      what: 'plan stages that are not a list',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, stages: {} } },
      message: /^descriptor\.routing\.stages: expected a list of at most 4 stage routes/,
    },
    {
      what: 'a stage route that is not an object',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, stages: [1] } },
      message: /^descriptor\.routing\.stages\[0\]: expected a stage route object, got 1$/,
    },
    {
      what: 'a share as a string',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, stages: [{ stage: 1, vmShare: '1' }] } },
      message: /^descriptor\.routing\.stages\[0\]\.vmShare: expected a number in \[0, 1\], got "1"$/,
    },
    {
      what: 'a share out of range',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, stages: [{ stage: 1, vmShare: 2 }] } },
      message: /^descriptor\.routing: plan for mnist-ee: stages\[0\]\.vmShare: 2 is not in \[0, 1\]$/,
    },
    {
      what: 'a stage the model does not have',
      descriptor: { ...DESCRIPTOR, routing: { ...DESCRIPTOR.routing, stages: [{ stage: 5, vmShare: 1 }] } },
      message: /^descriptor\.routing: plan for mnist-ee: stages\[0\]\.stage: 5 is not a stage of mnist-ee/,
    },
    {
      what: 'a negative overflow',
      descriptor: {
        ...DESCRIPTOR,
        routing: { ...DESCRIPTOR.routing, stages: [{ stage: 1, vmShare: 1, overflowAfterMs: -5 }] },
      },
      message: /^descriptor\.routing\.stages\[0\]\.overflowAfterMs: expected a positive number of ms or nothing/,
    },
  ];
  for (const c of bad) {
    test(`rejects ${c.what}, naming the field`, () => {
      rejects(() => checkDescriptor(c.descriptor, MODEL), InvalidInputError, c.message);
    });
  }
});

describe('checkQueryRanges', () => {
  test('accepts a threshold in (0, 1] and a stage cap in 1..K, and their absence', () => {
    checkQueryRanges({ model: MODEL }, 4);
    checkQueryRanges({ model: MODEL, threshold: 1, maxStage: 4 }, 4);
    checkQueryRanges({ model: MODEL, threshold: 1e-9, maxStage: 1 }, 4);
  });
  test('rejects a stage cap out of range as UnknownStageError and a threshold out of range as InvalidInputError', () => {
    const stage = /^maxStage 9 is out of range: model mnist-ee has stages 1\.\.4$/;
    rejects(() => checkQueryRanges({ model: MODEL, maxStage: 9 }, 4), UnknownStageError, stage);
    rejects(() => checkQueryRanges({ model: MODEL, maxStage: 0 }, 4), UnknownStageError, /maxStage 0/);
    rejects(() => checkQueryRanges({ model: MODEL, maxStage: 1.5 }, 4), UnknownStageError, /maxStage 1\.5/);
    const range = /^threshold 0 is out of range \(0, 1\]$/;
    rejects(() => checkQueryRanges({ model: MODEL, threshold: 0 }, 4), InvalidInputError, range);
    rejects(() => checkQueryRanges({ model: MODEL, threshold: Number.NaN }, 4), InvalidInputError, /NaN/);
  });
});

describe('checkQuery', () => {
  const image = new Float32Array(784).fill(0.5);
  const QUERY: InferenceQuery = {
    queryId: 'q-1',
    model: MODEL,
    input: inlineTensor(image, [1, 1, 28, 28]),
    threshold: 0.9,
    maxStage: 3,
    sloMs: 300,
    descriptor: DESCRIPTOR,
  };

  test('accepts a whole query, inline or claim-checked, with options unset or set', () => {
    assert.equal(checkQuery(QUERY), QUERY);
    checkQuery({ ...QUERY, threshold: undefined, maxStage: undefined, sloMs: undefined });
    checkQuery({
      ...QUERY,
      input: { kind: 'object', dims: [1, 1, 28, 28], bucket: 'serflow-activations', key: 'input/x', bytes: 3136 },
      inlineActivationMaxBytes: 0,
    });
  });

  const bad: Array<{ what: string; query: unknown; type?: typeof UnknownStageError; message: RegExp }> = [
    { what: 'not an object', query: 'q', message: /^query: expected an object, got "q"$/ },
    { what: 'an empty id', query: { ...QUERY, queryId: '' }, message: /^queryId: expected a string of 1\.\.200/ },
    {
      what: 'an id too long for a workflow id',
      query: { ...QUERY, queryId: 'x'.repeat(MAX_QUERY_ID_LENGTH + 1) },
      message: /^queryId: expected a string of 1\.\.200 characters, got "x+\.\.\.$/,
    },
    { what: 'no model', query: { ...QUERY, model: undefined }, message: /^model: expected a model name, got nothing$/ },
    {
      what: 'a threshold as a string',
      query: { ...QUERY, threshold: '0.9' },
      message: /^threshold: expected a number or nothing, got "0\.9"$/,
    },
    { what: 'a threshold above 1', query: { ...QUERY, threshold: 1.5 }, message: /^threshold 1\.5 is out of range/ },
    {
      what: 'a stage cap beyond the model',
      query: { ...QUERY, maxStage: 9 },
      type: UnknownStageError,
      message: /^maxStage 9 is out of range: model mnist-ee has stages 1\.\.4$/,
    },
    { what: 'a negative SLO', query: { ...QUERY, sloMs: -1 }, message: /^sloMs: expected a positive number of ms/ },
    {
      what: 'a fractional inline limit',
      query: { ...QUERY, inlineActivationMaxBytes: 0.5 },
      message: /^inlineActivationMaxBytes: expected an integer >= 0 or nothing, got 0\.5$/,
    },
    { what: 'no descriptor', query: { ...QUERY, descriptor: undefined }, message: /^descriptor: expected an object/ },
    {
      what: 'a descriptor of another model',
      query: { ...QUERY, model: 'other' },
      message: /^descriptor\.model: expected "other", got "mnist-ee"$/,
    },
    { what: 'no input', query: { ...QUERY, input: undefined }, message: /^input: expected a tensor reference/ },
    {
      what: 'input dims of another shape',
      query: { ...QUERY, input: inlineTensor(new Float32Array(28 * 27), [1, 1, 28, 27]) },
      message: /^input\.dims: expected shape \[1, 1, 28, 28\] \(-1: any size\), got \[1, 1, 28, 27\]$/,
    },
    {
      what: 'input dims that are not integers',
      query: { ...QUERY, input: { ...QUERY.input, dims: [1, 1, 28, 'x'] } },
      message: /^input\.dims: expected 1\.\.8 positive integers/,
    },
    {
      what: 'inline data of the wrong length',
      query: { ...QUERY, input: { ...QUERY.input, dataBase64: 'AAAA' } },
      message:
        /^input: dataBase64: expected 4184 base64 characters for dims \[1, 1, 28, 28\] \(784 float32 values\), got 4$/,
    },
    {
      what: 'a claim check of the wrong size',
      query: { ...QUERY, input: { kind: 'object', dims: [1, 1, 28, 28], bucket: 'b', key: 'k', bytes: 12 } },
      message: /^input: bytes: expected 3136 for dims \[1, 1, 28, 28\] \(float32 values\), got 12$/,
    },
    {
      what: 'a claim check without a key',
      query: { ...QUERY, input: { kind: 'object', dims: [1, 1, 28, 28], bucket: 'b', bytes: 3136 } },
      message: /^input: key: expected an object key, got nothing$/,
    },
    {
      what: 'an unknown tensor kind',
      query: { ...QUERY, input: { ...QUERY.input, kind: 'url' } },
      message: /^input: kind: expected "inline" or "object", got "url"$/,
    },
  ];
  for (const c of bad) {
    test(`rejects ${c.what}, naming the field`, () => {
      rejects(() => checkQuery(c.query), c.type ?? InvalidInputError, c.message);
    });
  }

  test('rejects an inline input too large for a Temporal payload, pointing to the claim check', () => {
    const side = Math.ceil(Math.sqrt((MAX_INLINE_INPUT_BYTES * 3) / 16)) + 1; // > budget once base64-encoded
    const big = new Float32Array(side * side);
    const descriptor = { ...DESCRIPTOR, inputDims: [1, 1, -1, -1] };
    const query = { ...QUERY, descriptor, input: inlineTensor(big, [1, 1, side, side]) };
    rejects(() => checkQuery(query), InvalidInputError, /payload budget; lower inlineActivationMaxBytes/);
  });
});
