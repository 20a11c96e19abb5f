/**
 * The Open Inference Protocol mapping (client/oip.ts), table by table: routes, a request checked and turned into
 * the SDK's query (every mistake a 400 naming its field), a result turned into a response, and every named failure
 * turned into its HTTP status.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  errorResponse,
  inferResponse,
  modelMetadata,
  OipHttpError,
  oipRoute,
  parseInferRequest,
  type OipRoute,
} from '../../../client/oip';
import { InferenceFailedError } from '../../../client/query-builder';
import type { InferenceResult } from '../../../common/contracts';
import { InvalidInputError, UnknownModelError } from '../../../common/errors';
import { loadManifest } from '../../../models/manifest';

const manifest = loadManifest('mnist-ee');
const pixels = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
const tensor = { name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: pixels };
const request = (extra: Record<string, unknown> = {}, input: Record<string, unknown> = {}) => ({
  id: 'req-1',
  inputs: [{ ...tensor, ...input }],
  ...extra,
});

describe('oipRoute', () => {
  const rows: Array<[string, string, OipRoute | number]> = [
    ['GET', '/v2', { kind: 'serverMetadata' }],
    ['GET', '/v2/health/live', { kind: 'live' }],
    ['GET', '/v2/health/ready', { kind: 'ready' }],
    ['GET', '/v2/health/ready/', { kind: 'ready' }],
    ['GET', '/v2/models/mnist-ee', { kind: 'modelMetadata', model: 'mnist-ee' }],
    ['GET', '/v2/models/mnist-ee?x=1', { kind: 'modelMetadata', model: 'mnist-ee' }],
    ['GET', '/v2/models/mnist-ee/ready', { kind: 'modelReady', model: 'mnist-ee' }],
    ['POST', '/v2/models/mnist-ee/infer', { kind: 'infer', model: 'mnist-ee' }],
    ['POST', '/v2/models/a%20b/infer', { kind: 'infer', model: 'a b' }],
    ['GET', '/v2/models/mnist-ee/infer', 405],
    ['POST', '/v2/health/live', 405],
    ['DELETE', '/v2/models/mnist-ee', 405],
    ['GET', '/', 404],
    ['GET', '/v1/models/mnist-ee', 404],
    ['GET', '/v2/models/mnist-ee/versions/1', 404],
    ['GET', '/v2/models/%E0%A4%A/ready', 404],
  ];
  for (const [method, url, want] of rows) {
    test(`${method} ${url} -> ${typeof want === 'number' ? want : want.kind}`, () => {
      if (typeof want !== 'number') return assert.deepEqual(oipRoute(method, url), want);
      assert.throws(
        () => oipRoute(method, url),
        (err: unknown) => err instanceof OipHttpError && err.status === want,
      );
    });
  }
  test('405 says which method to use', () => {
    assert.throws(
      () => oipRoute('GET', '/v2/models/m/infer'),
      (err: unknown) => err instanceof OipHttpError && err.headers.Allow === 'POST' && /use POST/.test(err.message),
    );
  });
});

describe('modelMetadata', () => {
  test('the manifest input with batch 1 and the two outputs', () => {
    assert.deepEqual(modelMetadata(manifest), {
      name: 'mnist-ee',
      platform: 'serflow_early_exit_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] }],
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [1] },
        { name: 'confidence', datatype: 'FP32', shape: [1] },
      ],
    });
  });
});

describe('parseInferRequest: good requests', () => {
  test('the id is the query id, the tensor the input, parameters the options', () => {
    const q = parseInferRequest(
      request({ parameters: { threshold: 0.8, maxStage: 3, deadlineMs: 5000, sloMs: 200 } }),
      manifest,
    );
    assert.equal(q.queryId, 'req-1');
    assert.deepEqual([...q.input], [...Float32Array.from(pixels)]);
    assert.deepEqual(q.options, { dims: [1, 1, 28, 28], threshold: 0.8, maxStage: 3, deadlineMs: 5000, sloMs: 200 });
    assert.deepEqual(q.outputs, ['label', 'confidence']);
  });

  const rows: Array<[string, unknown, Partial<ReturnType<typeof parseInferRequest>>]> = [
    ['no id: the server picks one', { inputs: [tensor] }, { queryId: undefined }],
    ['parameters.queryId stands for id', { inputs: [tensor], parameters: { queryId: 'q9' } }, { queryId: 'q9' }],
    ['id and the same parameters.queryId', request({ parameters: { queryId: 'req-1' } }), { queryId: 'req-1' }],
    ['one output asked for', request({ outputs: [{ name: 'confidence' }] }), { outputs: ['confidence'] }],
    [
      'outputs in the protocol order whatever the asked order',
      request({ outputs: [{ name: 'confidence' }, { name: 'label', parameters: { binary_data: false } }] }),
      { outputs: ['label', 'confidence'] },
    ],
  ];
  for (const [what, body, want] of rows) {
    test(what, () => {
      const q = parseInferRequest(body, manifest);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(q[k as keyof typeof q], v, k);
    });
  }

  test('nested data (as deep as the shape) is read in row-major order', () => {
    const nested = [[Array.from({ length: 28 }, (_, r) => pixels.slice(r * 28, r * 28 + 28))]];
    const q = parseInferRequest(request({}, { data: nested }), manifest);
    assert.deepEqual([...q.input], [...Float32Array.from(pixels)]);
  });
});

describe('parseInferRequest: every mistake is a 400 naming the field', () => {
  const rows: Array<[string, unknown, RegExp]> = [
    ['a list body', [1, 2], /^InvalidInputError: body: expected a JSON object .*got an array$/],
    ['a number body', 5, /^InvalidInputError: body: expected a JSON object .*got 5$/],
    ['no inputs', { id: 'a' }, /^InvalidInputError: inputs: expected array, got missing$/],
    ['two inputs', { inputs: [tensor, tensor] }, /^InvalidInputError: inputs: expected exactly one input tensor$/],
    ['an unknown top-level key', request({ model: 'x' }), /^InvalidInputError: body: Unrecognized key: "model"$/],
    ['an empty id', request({ id: '' }), /^InvalidInputError: id: expected a query id of at least 1 character$/],
    ['a numeric id', request({ id: 7 }), /^InvalidInputError: id: expected string, got number$/],
    ['a too long id', request({ id: 'x'.repeat(201) }), /^InvalidInputError: id: expected a query id of at most 200/],
    [
      'an unknown parameter',
      request({ parameters: { temperature: 1 } }),
      /^InvalidInputError: parameters: .*"temperature"/,
    ],
    [
      'threshold 0',
      request({ parameters: { threshold: 0 } }),
      /^InvalidInputError: parameters\.threshold: expected a number in \(0, 1\]$/,
    ],
    [
      'threshold 1.5',
      request({ parameters: { threshold: 1.5 } }),
      /parameters\.threshold: expected a number in \(0, 1\]$/,
    ],
    [
      'threshold as text',
      request({ parameters: { threshold: '0.9' } }),
      /parameters\.threshold: expected number, got string$/,
    ],
    ['maxStage 0', request({ parameters: { maxStage: 0 } }), /parameters\.maxStage: expected a stage number >= 1$/],
    [
      'maxStage 2.5',
      request({ parameters: { maxStage: 2.5 } }),
      /parameters\.maxStage: expected an integer stage number$/,
    ],
    [
      'maxStage past the model',
      request({ parameters: { maxStage: 5 } }),
      /parameters\.maxStage: expected a stage of mnist-ee \(1\.\.4\), got 5$/,
    ],
    ['deadlineMs 0', request({ parameters: { deadlineMs: 0 } }), /parameters\.deadlineMs: expected a positive number$/],
    [
      'deadlineMs 1.5',
      request({ parameters: { deadlineMs: 1.5 } }),
      /parameters\.deadlineMs: expected an integer number of ms$/,
    ],
    ['sloMs -1', request({ parameters: { sloMs: -1 } }), /parameters\.sloMs: expected a positive number of ms$/],
    [
      'id and a different queryId',
      request({ parameters: { queryId: 'other' } }),
      /parameters\.queryId: expected the request id "req-1" or nothing, got "other"$/,
    ],
    [
      'the wrong input name',
      request({}, { name: 'x' }),
      /^InvalidInputError: inputs\[0\]\.name: expected "input" \(the model's input\), got "x"$/,
    ],
    [
      'the wrong datatype',
      request({}, { datatype: 'INT64' }),
      /^InvalidInputError: inputs\[0\]\.datatype: expected "FP32" .*got "INT64"$/,
    ],
    ['no shape', request({}, { shape: undefined }), /inputs\[0\]\.shape: expected array, got missing$/],
    [
      'a batch of 2',
      request({}, { shape: [2, 1, 28, 28] }),
      /inputs\[0\]\.shape: expected \[1, 1, 28, 28\] \(batch 1: one query per request; -1: any size\), got \[2, 1, 28, 28\]$/,
    ],
    ['a flat shape', request({}, { shape: [784] }), /inputs\[0\]\.shape: expected \[1, 1, 28, 28\]/],
    [
      'a fractional dimension',
      request({}, { shape: [1, 1, 28, 28.5] }),
      /inputs\[0\]\.shape\[3\]: expected an integer dimension$/,
    ],
    [
      'too few elements',
      request({}, { data: pixels.slice(1) }),
      /^InvalidInputError: inputs\[0\]\.data: expected 784 elements \(shape \[1, 1, 28, 28\]\), got 783$/,
    ],
    [
      'a string element',
      request({}, { data: [...pixels.slice(0, 5), 'x', ...pixels.slice(6)] }),
      /^InvalidInputError: inputs\[0\]\.data\[5\]: expected a number, got "x"$/,
    ],
    [
      'a null element',
      request({}, { data: [null, ...pixels.slice(1)] }),
      /inputs\[0\]\.data\[0\]: expected a number, got null$/,
    ],
    [
      'a number beyond FP32',
      request({}, { data: [1e39, ...pixels.slice(1)] }),
      /inputs\[0\]\.data\[0\]: expected a finite FP32 number, got 1e\+39$/,
    ],
    [
      'data nested deeper than the shape',
      request({}, { shape: [1, 1, 28, 28], data: [[[[[0]]]]] }),
      /inputs\[0\]\.data\[0\]\[0\]\[0\]\[0\]: expected a number \(data nested deeper/,
    ],
    ['data that is not a list', request({}, { data: 'AAAA' }), /inputs\[0\]\.data: expected array, got string$/],
    [
      'binary tensor data',
      request({}, { parameters: { binary_data_size: 3136 } }),
      /inputs\[0\]\.parameters: .*"binary_data_size"/,
    ],
    [
      'an unknown output',
      request({ outputs: [{ name: 'logits' }] }),
      /^InvalidInputError: outputs\[0\]\.name: expected "label" or "confidence", got "logits"$/,
    ],
  ];
  for (const [what, body, message] of rows) {
    test(`${what}: ${message.source}`, () => {
      assert.throws(
        () => parseInferRequest(body, manifest),
        (err: unknown) => err instanceof OipHttpError && err.status === 400 && message.test(err.message),
      );
    });
  }
});

describe('inferResponse', () => {
  const result: InferenceResult = {
    queryId: 'req-1',
    model: 'mnist-ee',
    label: 7,
    confidence: 0.97,
    answerStage: 2,
    exitStage: 2,
    confident: true,
    threshold: 0.95,
    stages: [],
    backends: ['vm', 'faas'],
    latencyMs: 41,
  };

  test('label and confidence as outputs, the early-exit facts as parameters', () => {
    assert.deepEqual(inferResponse(result), {
      model_name: 'mnist-ee',
      id: 'req-1',
      parameters: {
        exitStage: 2,
        answerStage: 2,
        confident: true,
        threshold: 0.95,
        latencyMs: 41,
        stagesRun: 0,
        backends: 'vm,faas',
      },
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [1], data: [7] },
        { name: 'confidence', datatype: 'FP32', shape: [1], data: [0.97] },
      ],
    });
  });

  test('only the asked outputs; the SLO when the query had one', () => {
    const r = inferResponse({ ...result, sloMs: 100 }, ['confidence']);
    assert.deepEqual(
      r.outputs.map((o) => o.name),
      ['confidence'],
    );
    assert.equal(r.parameters.sloMs, 100);
  });
});

describe('errorResponse: each failure class has its status', () => {
  const failed = (type: string, message: string) => new InferenceFailedError('q', type, message);
  const rows: Array<[string, unknown, number, RegExp]> = [
    ['a bad input', failed('InvalidInputError', 'input: NaN at 3'), 400, /^InvalidInputError: input: NaN at 3$/],
    ['an unknown stage', failed('UnknownStageError', 'maxStage 9'), 400, /^UnknownStageError: maxStage 9$/],
    [
      'an unknown model (SDK)',
      failed('UnknownModelError', 'unknown model "x"'),
      404,
      /^UnknownModelError: unknown model/,
    ],
    [
      'an unknown model (manifest lookup)',
      new UnknownModelError('unknown model "y"'),
      404,
      /^UnknownModelError: unknown model "y"$/,
    ],
    ['a bad input thrown as is', new InvalidInputError('dims: bad'), 400, /^InvalidInputError: dims: bad$/],
    [
      'no worker for a stage',
      failed('StageUnavailableError', 'stage 2 waited 60 s'),
      503,
      /^StageUnavailableError: stage 2/,
    ],
    [
      'the deadline passed',
      failed('QueryDeadlineExceeded', 'not within its deadline'),
      504,
      /^QueryDeadlineExceeded: /,
    ],
    ['a body too large', new OipHttpError(413, 'body: 5 MB'), 413, /^body: 5 MB$/],
    [
      'a missing activation',
      failed('MissingActivationError', 'gone'),
      500,
      /^internal error: MissingActivationError: gone$/,
    ],
    [
      'a workflow failure of no known type',
      failed('WorkflowFailed', 'boom'),
      500,
      /^internal error: WorkflowFailed: boom$/,
    ],
    ['a plain error', new Error('connection refused'), 500, /^internal error: Error: connection refused$/],
    ['a thrown string', 'oops', 500, /^internal error: oops$/],
  ];
  for (const [what, err, status, message] of rows) {
    test(`${what} -> ${status}`, () => {
      const r = errorResponse(err);
      assert.equal(r.status, status);
      assert.match(r.body.error, message);
      assert.deepEqual(Object.keys(r.body), ['error']);
    });
  }

  test('headers travel with the error (Retry-After of a busy server)', () => {
    assert.deepEqual(errorResponse(new OipHttpError(503, 'busy', { 'retry-after': '1' })).headers, {
      'retry-after': '1',
    });
  });
});
