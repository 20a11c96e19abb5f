/**
 * activities/stage-activities.ts: the stage activity run in a mock activity context, on the real mnist-ee
 * stage models (in-process inference pool), with an in-memory activation store and a capturing event publisher.
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { NatsConnection } from 'nats';
import * as ort from 'onnxruntime-node';
import { createActivationStore, type ActivationStore } from '../../../infra/activation-store';
import { createInferencePool } from '../../../models/runtime/inference-pool';
import type { StageRunner } from '../../../models/runtime/stage-runner';
import {
  createStageActivities,
  createStageRunActivities,
  type ServedStage,
} from '../../../activities/stage-activities';
import type { StageEventPublisher } from '../../../activities/stage-events';
import type { StageInput, StageOutput, StageRunInput, StageRunOutput, TensorRef } from '../../../common/contracts';
import { InvalidInputError, MissingActivationError } from '../../../common/errors';
import { parseStageEvent, type StageEvent } from '../../../common/events';
import { decodeInline, inlineEncodedBytes, inlineTensor } from '../../../common/tensor-codec';
import {
  loadManifest,
  loadSplit,
  softmaxMax,
  stageFilePath,
  stageInputDims,
  type ModelManifest,
} from '../../../models';

const MODEL = 'mnist-ee';
const WORKFLOW_ID = 'serflow-mnist-ee-q-1';
const RUN_ID = 'run-1';
const WORKER = 'test-host:1';
/** Epoch ms the mock activity attempt was scheduled at; the injected clock starts 10 ms later. */
const SCHEDULED_AT = 1_000;
const CLOCK_START = 1_010;
const CLOCK_STEP = 5;

/** Copy of an image/activation, so nothing shared (the dataset cache) is handed to the pool's transfer list. */
const copy = (a: Float32Array) => new Float32Array(a);

/** An ActivationStore in memory: inline refs decode as usual, object refs live in a Map. Records every call. */
class MemoryActivationStore implements ActivationStore {
  readonly objects = new Map<string, Float32Array>();
  readonly toRefCalls: Array<{ key: string; inlineMaxBytes: number; elements: number }> = [];
  fetchError: Error | undefined;

  async toRef(data: Float32Array, dims: number[], key: string, inlineMaxBytes: number): Promise<TensorRef> {
    this.toRefCalls.push({ key, inlineMaxBytes, elements: data.length });
    if (inlineEncodedBytes(data.length) <= inlineMaxBytes) return inlineTensor(data, dims);
    this.objects.set(key, copy(data));
    return { kind: 'object', dims, bucket: 'memory', key, bytes: data.byteLength };
  }

  async fetch(ref: TensorRef, where: string): Promise<Float32Array> {
    if (this.fetchError) throw this.fetchError;
    if (ref.kind === 'inline') return decodeInline(ref, where);
    const data = this.objects.get(ref.key);
    if (!data) throw new MissingActivationError(`${where}: ${ref.bucket}/${ref.key} is not in the store`);
    return copy(data);
  }
}

class CapturingPublisher implements StageEventPublisher {
  readonly events: StageEvent[] = [];
  async publish(event: StageEvent): Promise<void> {
    this.events.push(event);
  }
}

/** A StageRunner that counts calls to the real one. */
function countingRunner(inner: StageRunner): StageRunner & { calls: number } {
  const r = {
    calls: 0,
    run: (data: Float32Array, dims: number[]) => {
      r.calls++;
      return inner.run(data, dims);
    },
    warmUp: (dims: number[]) => inner.warmUp(dims),
    close: () => inner.close(),
  };
  return r;
}

interface DirectOutput {
  label: number;
  confidence: number;
  activation: Float32Array | null;
  activationDims: number[] | null;
}

let manifest: ModelManifest;
let sessions: ort.InferenceSession[] = [];
const runners: Array<StageRunner & { calls: number }> = [];
/** Test-split images picked by their direct stage-1 confidence. */
let uncertainImage: Float32Array;
let confidentImage: Float32Array;

/** Run stage `k` directly with onnxruntime-node (same session options as the inference threads). */
async function directRun(k: number, data: Float32Array, dims: number[]): Promise<DirectOutput> {
  const spec = manifest.stages[k - 1]!;
  const out = await sessions[k - 1]!.run({ [spec.input.name]: new ort.Tensor('float32', copy(data), dims) });
  const logits = out[spec.outputs.logits.name]!.data as Float32Array;
  const act = spec.outputs.activation ? out[spec.outputs.activation.name] : undefined;
  return {
    ...softmaxMax(logits),
    activation: act ? copy(act.data as Float32Array) : null,
    activationDims: act ? act.dims.map(Number) : null,
  };
}

function served(k: number): ServedStage {
  const spec = manifest.stages[k - 1]!;
  return {
    model: MODEL,
    stage: k,
    stages: manifest.stages.length,
    inputDims: stageInputDims(spec),
    backend: 'vm',
    runner: runners[k - 1]!,
  };
}

/**
 * A fresh activity set for stage `k` with its own store, publisher and clock; `heartbeatTimeoutMs` as the
 * workflow schedules stages (none by default), `runner` in place of the stage's (e.g. one that waits).
 */
function setup(
  k = 1,
  store: ActivationStore = new MemoryActivationStore(),
  options: { heartbeatTimeoutMs?: number; runner?: StageRunner } = {},
) {
  const events = new CapturingPublisher();
  let t = CLOCK_START - CLOCK_STEP;
  const { runStage } = createStageActivities({
    served: { ...served(k), ...(options.runner ? { runner: options.runner } : {}) },
    store,
    events,
    worker: WORKER,
    now: () => (t += CLOCK_STEP),
  });
  const env = new MockActivityEnvironment(
    {
      workflowExecution: { workflowId: WORKFLOW_ID, runId: RUN_ID },
      currentAttemptScheduledTimestampMs: SCHEDULED_AT,
      attempt: 2,
      taskQueue: `mnist-ee.stage-${k}.vm`,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
    },
    { logger: new DefaultLogger('ERROR') },
  );
  /** Heartbeat calls of the attempt (what the SDK is handed, before its throttle). */
  const heartbeatCalls: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeatCalls.push(details));
  const run = (input: StageInput): Promise<StageOutput> => env.run(runStage, input);
  return { run, events: events.events, store, heartbeatCalls };
}

function stageInput(overrides: Partial<StageInput> & { image?: Float32Array; dims?: number[] } = {}): StageInput {
  const { image = uncertainImage, dims = [1, 1, 28, 28], ...rest } = overrides;
  return {
    queryId: 'q-1',
    model: MODEL,
    stage: 1,
    lastStage: 4,
    threshold: 0.95,
    activation: inlineTensor(image, dims),
    inlineActivationMaxBytes: 16 * 1024,
    ...rest,
  };
}

/** Assert the one outcome event matches the result and the input. */
function assertOutcomeEvent(events: StageEvent[], input: StageInput, out: StageOutput): void {
  assert.equal(events.length, 1, 'exactly one event');
  const e = parseStageEvent(events[0]);
  assert.equal(e.type, out.exited ? 'stage.exited' : 'stage.continued');
  assert.equal(e.queryId, input.queryId);
  assert.equal(e.workflowId, WORKFLOW_ID);
  assert.equal(e.runId, RUN_ID);
  assert.equal(e.model, input.model);
  assert.equal(e.stage, input.stage);
  assert.equal(e.backend, 'vm');
  assert.equal(e.worker, WORKER);
  assert.equal(e.attempt, 2);
  assert.equal(e.label, out.label);
  assert.equal(e.confidence, out.confidence);
  assert.equal(e.threshold, input.threshold);
  assert.equal(e.serviceMs, out.serviceMs);
  assert.equal(e.scheduledAt, SCHEDULED_AT);
  assert.equal(e.startedAt, out.startedAt);
  assert.equal(e.finishedAt, out.finishedAt);
  assert.equal(e.queueMs, out.queueMs);
  assert.equal(e.heartbeats, out.heartbeats, 'the event and the result report the same heartbeats');
  if (e.type === 'stage.exited') assert.equal(e.confident, out.confidence >= input.threshold);
}

/** Assert `promise` rejects with a non-retryable ApplicationFailure of `type` whose message contains `parts`. */
async function assertNonRetryable(
  promise: Promise<unknown>,
  type: string,
  ...parts: string[]
): Promise<ApplicationFailure> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(caught)}`);
  assert.equal(caught.type, type);
  assert.equal(caught.nonRetryable, true);
  for (const part of parts)
    assert.ok(caught.message.includes(part), `message ${JSON.stringify(caught.message)} lacks ${part}`);
  return caught;
}

/** Assert one stage.failed event for `failure`. */
function assertFailedEvent(events: StageEvent[], failure: ApplicationFailure, input: StageInput): void {
  assert.equal(events.length, 1, 'exactly one event');
  const e = parseStageEvent(events[0]);
  assert.equal(e.type, 'stage.failed');
  if (e.type !== 'stage.failed') return;
  assert.equal(e.errorType, failure.type);
  assert.equal(e.message, failure.message);
  assert.equal(e.serviceMs, 0);
  assert.equal(e.queryId, input.queryId);
  assert.equal(e.model, input.model);
  assert.equal(e.stage, input.stage);
  assert.equal(e.workflowId, WORKFLOW_ID);
  assert.equal(e.attempt, 2);
}

before(async () => {
  manifest = loadManifest(MODEL);
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  sessions = await Promise.all(
    manifest.stages.slice(0, 2).map((s) => ort.InferenceSession.create(stageFilePath(manifest, s), options)),
  );
  for (const spec of manifest.stages.slice(0, 2)) {
    runners.push(
      countingRunner(
        createInferencePool({
          threads: 1,
          intraOpThreads: 1,
          modelPath: stageFilePath(manifest, spec),
          inputName: spec.input.name,
          activationName: spec.outputs.activation?.name ?? null,
          logitsName: spec.outputs.logits.name,
        }),
      ),
    );
  }
  const { images } = loadSplit(manifest, 'test');
  for (const img of images.slice(0, 200)) {
    const { confidence } = await directRun(1, img, [1, 1, 28, 28]);
    if (!uncertainImage && confidence < 0.9) uncertainImage = copy(img);
    if (!confidentImage && confidence > 0.99 && confidence < 1) confidentImage = copy(img);
    if (uncertainImage && confidentImage) break;
  }
  assert.ok(uncertainImage && confidentImage, 'the first 200 test images include an uncertain and a confident one');
});

after(async () => {
  await Promise.all(runners.map((r) => r.close()));
  await Promise.all(sessions.map((s) => s.release()));
});

describe('a valid query', () => {
  test('an uncertain image continues from stage 1 with the label, confidence and activation of a direct ORT run', async () => {
    const { run, events, store } = setup(1);
    const input = stageInput({ image: uncertainImage });
    const out = await run(input);
    const direct = await directRun(1, uncertainImage, [1, 1, 28, 28]);

    assert.equal(out.exited, false);
    assert.equal(out.stage, 1);
    assert.equal(out.label, direct.label);
    assert.ok(Math.abs(out.confidence - direct.confidence) < 1e-6, `${out.confidence} vs ${direct.confidence}`);
    assert.ok(out.confidence < input.threshold);
    assert.ok(out.activation, 'a continuing query carries an activation');
    assert.equal(out.activation.kind, 'inline');
    assert.deepEqual(out.activation.dims, direct.activationDims);
    assert.deepEqual(out.activation.dims, [1, 8, 14, 14]);
    if (out.activation.kind === 'inline') {
      const act = decodeInline(out.activation, 'test');
      assert.equal(act.length, direct.activation!.length);
      const maxDiff = act.reduce((m, v, i) => Math.max(m, Math.abs(v - direct.activation![i]!)), 0);
      assert.ok(maxDiff < 1e-5, `activation differs from a direct run by ${maxDiff}`);
    }
    assert.deepEqual((store as MemoryActivationStore).toRefCalls, [
      {
        key: `${WORKFLOW_ID}/stage-1`,
        inlineMaxBytes: input.inlineActivationMaxBytes,
        elements: 8 * 14 * 14,
      },
    ]);
    assertOutcomeEvent(events, input, out);
  });

  test('the result reports the worker, task queue, attempt and timings from the injected clock', async () => {
    const { run } = setup(1);
    const out = await run(stageInput());
    assert.equal(out.backend, 'vm');
    assert.equal(out.taskQueue, 'mnist-ee.stage-1.vm');
    assert.equal(out.worker, WORKER);
    assert.equal(out.attempt, 2);
    assert.equal(out.startedAt, CLOCK_START);
    assert.equal(out.finishedAt, CLOCK_START + CLOCK_STEP);
    assert.equal(out.queueMs, CLOCK_START - SCHEDULED_AT);
    assert.equal(out.handlerMs, CLOCK_STEP);
    assert.ok(out.serviceMs > 0, 'service time measured in the inference thread');
  });

  test('a confident image exits at stage 1 as confident, with no activation', async () => {
    const { run, events, store } = setup(1);
    const input = stageInput({ image: confidentImage, threshold: 0.95 });
    const out = await run(input);
    const direct = await directRun(1, confidentImage, [1, 1, 28, 28]);
    assert.equal(out.exited, true);
    assert.equal(out.label, direct.label);
    assert.equal(out.activation, undefined);
    assert.equal((store as MemoryActivationStore).toRefCalls.length, 0, 'nothing handed on');
    assertOutcomeEvent(events, input, out);
    assert.equal(events[0]!.type === 'stage.exited' && events[0]!.confident, true);
  });

  test('threshold 0.0001 exits any image at stage 1 with no activation', async () => {
    const { run, events } = setup(1);
    const input = stageInput({ image: uncertainImage, threshold: 0.0001 });
    const out = await run(input);
    assert.equal(out.exited, true);
    assert.equal(out.stage, 1);
    assert.equal(out.activation, undefined);
    assertOutcomeEvent(events, input, out);
  });

  test('the last stage of the query exits without confidence and hands nothing on', async () => {
    const { run, events } = setup(1);
    const input = stageInput({ image: uncertainImage, lastStage: 1 });
    const out = await run(input);
    assert.equal(out.exited, true);
    assert.equal(out.activation, undefined);
    assertOutcomeEvent(events, input, out);
    const e = events[0]!;
    assert.ok(e.type === 'stage.exited');
    assert.equal(e.confident, false);
  });
});

describe('claim check', () => {
  const activationBytes = inlineEncodedBytes(8 * 14 * 14);

  const limits: Array<{ what: string; limit: number; kind: TensorRef['kind'] }> = [
    { what: 'well above the inline limit', limit: 1024, kind: 'object' },
    { what: 'one byte above the inline limit', limit: activationBytes - 1, kind: 'object' },
    { what: 'exactly at the inline limit', limit: activationBytes, kind: 'inline' },
    { what: 'below the inline limit', limit: 16 * 1024, kind: 'inline' },
  ];
  for (const { what, limit, kind } of limits) {
    test(`an activation ${what} is handed on ${kind === 'object' ? 'through the object store' : 'inline'}`, async () => {
      // The real store, over an in-memory stand-in for the JetStream object store.
      const blobs = new Map<string, Uint8Array>();
      const fakeNats = {
        jetstream: () => ({
          views: {
            os: async () => ({
              putBlob: async (meta: { name: string }, data: Uint8Array) => {
                blobs.set(meta.name, new Uint8Array(data));
                return {};
              },
              getBlob: async (name: string) => blobs.get(name) ?? null,
            }),
          },
        }),
      } as unknown as NatsConnection;
      const store = await createActivationStore(fakeNats, 'test-bucket');
      const { run } = setup(1, store);
      const out = await run(stageInput({ inlineActivationMaxBytes: limit }));
      assert.ok(out.activation);
      assert.equal(out.activation.kind, kind);
      if (out.activation.kind === 'object') {
        assert.equal(out.activation.bucket, 'test-bucket');
        assert.equal(out.activation.key, `${WORKFLOW_ID}/stage-1`);
        assert.equal(out.activation.bytes, 8 * 14 * 14 * 4);
        assert.deepEqual([...blobs.keys()], [out.activation.key]);
        const back = await store.fetch(out.activation, 'test');
        const direct = await directRun(1, uncertainImage, [1, 1, 28, 28]);
        assert.equal(back.length, direct.activation!.length);
      } else {
        assert.equal(blobs.size, 0, 'nothing stored');
        assert.ok(out.activation.dataBase64.length <= limit);
      }
    });
  }

  test('a claim-check reference into another bucket is refused as bad input, no store opened', async () => {
    let opened = 0;
    const fakeNats = {
      jetstream: () => ({
        views: {
          os: async () => {
            opened++;
            return { getBlob: async () => new Uint8Array(8) };
          },
        },
      }),
    } as unknown as NatsConnection;
    const store = await createActivationStore(fakeNats, 'test-bucket');
    const ref: TensorRef = { kind: 'object', dims: [1, 2], bucket: 'query-made-bucket', key: 'k', bytes: 8 };
    await assert.rejects(store.fetch(ref, 'stage 2 input'), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError, String(err));
      assert.equal(
        err.message,
        'stage 2 input: claim-checked activation names bucket "query-made-bucket"; only "test-bucket" is accepted',
      );
      return true;
    });
    assert.equal(opened, 1, 'only its own bucket was opened');
  });

  test('stage 2 runs on a claim-checked activation from stage 1 and matches a direct ORT run', async () => {
    const store = new MemoryActivationStore();
    const first = await setup(1, store).run(stageInput({ inlineActivationMaxBytes: 0 }));
    assert.ok(first.activation && first.activation.kind === 'object');
    const stage2 = setup(2, store);
    const input = stageInput({ stage: 2, activation: first.activation });
    const out = await stage2.run(input);
    const direct1 = await directRun(1, uncertainImage, [1, 1, 28, 28]);
    const direct2 = await directRun(2, direct1.activation!, direct1.activationDims!);
    assert.equal(out.stage, 2);
    assert.equal(out.label, direct2.label);
    assert.ok(Math.abs(out.confidence - direct2.confidence) < 1e-5, `${out.confidence} vs ${direct2.confidence}`);
    assertOutcomeEvent(stage2.events, input, out);
  });
});

describe('a rejected query', () => {
  const nan = () => Object.assign(copy(uncertainImage), { 3: Number.NaN });
  const badInputs: Array<{ what: string; input: () => StageInput; says: string[] }> = [
    {
      what: 'an image with one value too few',
      input: () => stageInput({ image: uncertainImage.subarray(0, 783), dims: [1, 1, 28, 28] }),
      // the payload's length is checked against its dims before it is decoded: 783 values are 4176 base64 characters
      says: ['dataBase64: expected 4184 base64 characters', '784 float32 values', 'got 4176'],
    },
    {
      what: 'an image with a NaN pixel',
      input: () => stageInput({ image: nan() }),
      says: ['flat index 3', 'NaN'],
    },
    {
      what: 'an image of the wrong rank',
      input: () => stageInput({ dims: [1, 784] }),
      says: ['rank 4', 'got shape [1, 784]'],
    },
    {
      what: 'an image of the wrong size',
      input: () => stageInput({ image: new Float32Array(32 * 32), dims: [1, 1, 32, 32] }),
      says: ['dimension 2 is 32', 'expected 28'],
    },
    {
      what: 'a batch of two where the stage takes one',
      input: () => stageInput({ image: new Float32Array(2 * 784), dims: [2, 1, 28, 28] }),
      says: ['dimension 0 is 2'],
    },
    {
      what: 'a truncated inline payload',
      input: () => ({ ...stageInput(), activation: { kind: 'inline', dims: [1, 1, 28, 28], dataBase64: 'AAAAAAA=' } }),
      says: ['dataBase64: expected 4184 base64 characters', 'got 8'],
    },
    {
      what: 'dims that are a number',
      input: () => ({ ...stageInput(), activation: { ...stageInput().activation, dims: 5 } as unknown as TensorRef }),
      says: ['dims: expected 1..8 positive integers, got 5'],
    },
    {
      what: 'no activation at all',
      input: () => ({ ...stageInput(), activation: undefined as unknown as TensorRef }),
      says: ['expected a tensor reference object, got nothing'],
    },
    {
      what: 'an activation of an unknown kind',
      input: () => ({ ...stageInput(), activation: { kind: 'url', dims: [1] } as unknown as TensorRef }),
      says: ['kind: expected "inline" or "object", got "url"'],
    },
    { what: 'a zero threshold', input: () => stageInput({ threshold: 0 }), says: ['threshold 0'] },
    { what: 'a threshold above 1', input: () => stageInput({ threshold: 1.5 }), says: ['threshold 1.5'] },
    { what: 'a NaN threshold', input: () => stageInput({ threshold: Number.NaN }), says: ['threshold NaN'] },
  ];
  for (const { what, input, says } of badInputs) {
    test(`${what} fails as a non-retryable InvalidInputError with a stage.failed event, without inference`, async () => {
      const { run, events } = setup(1);
      const before = runners[0]!.calls;
      const i = input();
      const failure = await assertNonRetryable(run(i), 'InvalidInputError', ...says);
      assert.equal(runners[0]!.calls, before, 'the model was not run');
      assertFailedEvent(events, failure, i);
    });
  }

  test('the failure message says which query, model and stage the bad input belongs to', async () => {
    const { run } = setup(1);
    await assertNonRetryable(
      run(stageInput({ queryId: 'q-42', image: nan() })),
      'InvalidInputError',
      'query q-42, mnist-ee stage 1 input',
    );
  });

  const notServed: Array<{ what: string; patch: Partial<StageInput>; type: string; says: string[] }> = [
    {
      what: 'another model',
      patch: { model: 'cifar-ee' },
      type: 'UnknownModelError',
      says: ['"cifar-ee"', 'not served'],
    },
    {
      what: 'another stage of the model',
      patch: { stage: 2 },
      type: 'UnknownStageError',
      says: ['stage 2', 'not served'],
    },
    {
      what: 'a stage the model does not have',
      patch: { stage: 9, lastStage: 9 },
      type: 'UnknownStageError',
      says: ['stage 9'],
    },
    {
      what: 'a last stage beyond the model',
      patch: { lastStage: 5 },
      type: 'UnknownStageError',
      says: ['lastStage 5'],
    },
    {
      what: 'a last stage before this stage',
      patch: { lastStage: 0 },
      type: 'UnknownStageError',
      says: ['lastStage 0'],
    },
  ];
  for (const { what, patch, type, says } of notServed) {
    test(`a request for ${what} fails as a non-retryable ${type}`, async () => {
      const { run, events } = setup(1);
      const before = runners[0]!.calls;
      const i = stageInput(patch);
      const failure = await assertNonRetryable(run(i), type, ...says);
      assert.equal(runners[0]!.calls, before, 'the model was not run');
      assertFailedEvent(events, failure, i);
    });
  }

  test('a claim-checked activation missing from the store fails as a non-retryable MissingActivationError', async () => {
    const { run, events } = setup(2);
    const i = stageInput({
      stage: 2,
      activation: { kind: 'object', dims: [1, 8, 14, 14], bucket: 'memory', key: 'gone', bytes: 6272 },
    });
    const failure = await assertNonRetryable(run(i), 'MissingActivationError', 'memory/gone');
    assertFailedEvent(events, failure, i);
  });

  test('an infrastructure error while fetching stays retryable and publishes no stage.failed event', async () => {
    const store = new MemoryActivationStore();
    store.fetchError = new Error('TIMEOUT: object store did not answer');
    const { run, events } = setup(1, store);
    await assert.rejects(run(stageInput()), (err: unknown) => {
      assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), 'not marked non-retryable');
      assert.equal((err as Error).message, 'TIMEOUT: object store did not answer');
      return true;
    });
    assert.equal(events.length, 0);
  });
});

describe('heartbeats', () => {
  /** The workflow's default stage heartbeat timeout: calls every 500 ms, sdk-core throttles to 1 per 1 600 ms. */
  const HEARTBEAT_TIMEOUT_MS = 2_000;

  test('a stage far shorter than its heartbeat timeout sends no heartbeat and reports 0', async () => {
    const { run, events, heartbeatCalls } = setup(1, undefined, { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const input = stageInput();
    const out = await run(input);
    assert.deepEqual(heartbeatCalls, [], 'no heartbeat at the start of the attempt');
    assert.equal(out.heartbeats, 0);
    assertOutcomeEvent(events, input, out);
  });

  test('a rejected input reports its heartbeats (0) in the stage.failed event', async () => {
    const { run, events } = setup(1, undefined, { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    await assert.rejects(run(stageInput({ threshold: 2 })));
    assert.equal(parseStageEvent(events[0]).heartbeats, 0);
  });

  test('an attempt that runs past timeout / 4 heartbeats, and reports the calls that reach the server', async () => {
    // The stage's runner waits, on mocked time, until released: ticking 1 000 ms runs the calls at 500 and 1 000.
    let entered!: () => void;
    const inRunner = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const inner = runners[0]!;
    const waiting: StageRunner = {
      run: async (data, dims) => {
        const out = await inner.run(data, dims);
        entered();
        await released;
        return out;
      },
      warmUp: (dims) => inner.warmUp(dims),
      close: async () => undefined,
    };
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    try {
      const { run, events, heartbeatCalls } = setup(1, undefined, {
        heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
        runner: waiting,
      });
      const input = stageInput();
      const result = run(input);
      await inRunner;
      // in 10 ms steps: one tick times every timer it runs at its end
      for (let t = 0; t < 1_000; t += 10) mock.timers.tick(10);
      release();
      const out = await result;
      assert.equal(heartbeatCalls.length, 2, 'calls at 500 and 1 000 ms');
      // 500 is sent at once and opens a 1 600 ms window; 1 000 is held in it and dropped at the completion.
      assert.equal(out.heartbeats, 1);
      assertOutcomeEvent(events, input, out);
    } finally {
      mock.timers.reset();
    }
  });

  test('without a heartbeat timeout (histories before heartbeats) nothing is sent and 0 reported', async () => {
    const { run, heartbeatCalls } = setup(1);
    const out = await run(stageInput());
    assert.deepEqual(heartbeatCalls, []);
    assert.equal(out.heartbeats, 0);
  });
});

describe('a fused run (runStages on a whole-model worker)', () => {
  /** The run activity over every stage of the model, with its own store, publisher and clock. */
  function runSetup(store = new MemoryActivationStore()) {
    const events = new CapturingPublisher();
    let t = CLOCK_START - CLOCK_STEP;
    const { runStages } = createStageRunActivities({
      // This file loads stages 1 and 2: the worker serves those.
      servedStage: (k) => (runners[k - 1] ? served(k) : undefined),
      store,
      events,
      worker: WORKER,
      now: () => (t += CLOCK_STEP),
    });
    const env = new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: WORKFLOW_ID, runId: RUN_ID },
        currentAttemptScheduledTimestampMs: SCHEDULED_AT,
        attempt: 1,
        taskQueue: 'mnist-ee.all-stages.vm',
      },
      { logger: new DefaultLogger('ERROR') },
    );
    return {
      run: (input: StageRunInput): Promise<StageRunOutput> => env.run(runStages, input),
      events: events.events,
      store,
    };
  }

  test('stages 1-2 in one attempt: the same outputs as stage by stage, one event each, one activation stored', async () => {
    const input = { ...stageInput({ image: uncertainImage, threshold: 0.999999 }), runLast: 2 };
    const fused = runSetup();
    const out = await fused.run(input);
    assert.deepEqual(
      out.stages.map((s) => [s.stage, s.exited]),
      [
        [1, false],
        [2, false],
      ],
    );
    // Stage by stage, through the store, for comparison.
    let activation = input.activation;
    for (const [i, k] of [1, 2].entries()) {
      const one = await setup(k).run({ ...stageInput({ threshold: 0.999999 }), stage: k, activation });
      assert.equal(out.stages[i]!.label, one.label, `stage ${k} label`);
      assert.ok(Math.abs(out.stages[i]!.confidence - one.confidence) < 1e-6, `stage ${k} confidence`);
      activation = one.activation!;
    }
    // Only the activation handed on after the run (stage 2's) went through the store; queue time only on stage 1.
    assert.deepEqual(
      fused.store.toRefCalls.map((c) => c.key),
      [`${WORKFLOW_ID}/stage-2`],
    );
    assert.ok(out.stages[1]!.activation && !out.stages[0]!.activation);
    assert.deepEqual(
      out.stages.map((s) => s.queueMs),
      [CLOCK_START - SCHEDULED_AT, 0],
    );
    assert.deepEqual(
      fused.events.map((e) => [e.stage, e.type]),
      [
        [1, 'stage.continued'],
        [2, 'stage.continued'],
      ],
    );
  });

  test('a confident image exits inside the run at stage 1: one output, one event, nothing stored', async () => {
    const fused = runSetup();
    const out = await fused.run({ ...stageInput({ image: confidentImage }), runLast: 2 });
    assert.deepEqual(
      out.stages.map((s) => [s.stage, s.exited]),
      [[1, true]],
    );
    assert.equal(fused.store.toRefCalls.length, 0);
    assert.deepEqual(
      fused.events.map((e) => e.type),
      ['stage.exited'],
    );
  });

  test('a run reaching a stage this worker does not serve is refused before anything runs', async () => {
    const fused = runSetup();
    const callsBefore = runners[0]!.calls;
    await assert.rejects(fused.run({ ...stageInput(), runLast: 3 }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'UnknownStageError');
      assert.equal(err.nonRetryable, true);
      return true;
    });
    assert.equal(fused.store.toRefCalls.length, 0);
    assert.equal(runners[0]!.calls, callsBefore, 'stage 1 did not run');
  });
});
