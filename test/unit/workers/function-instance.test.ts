/**
 * workers/function-instance.ts: one invocation message in, one reply out, with a fake stage runner, an
 * in-memory store and a capturing event publisher (no process, no NATS). How a failure is described for the reply
 * is activities/failures.ts `describeFailure` (test/unit/activities/failures.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ActivationStore } from '../../../infra/activation-store';
import type { StageRunner } from '../../../models/runtime/stage-runner';
import type { StageActivityDeps } from '../../../activities/stage-activities';
import type { StageEvent } from '../../../common/events';
import type { StageCallContext, StageInput } from '../../../common/contracts';
import { decodeInline, inlineTensor } from '../../../common/tensor-codec';
import { handleInvocation, type FunctionRequest } from '../../../workers/function-instance';

const CALL: StageCallContext = {
  workflowId: 'wf',
  runId: 'r',
  attempt: 1,
  scheduledAt: 0,
  taskQueue: 'm.stage-1.faas',
};

/** Logits favouring class 2 (confidence ~0.87); activation of 4 values. */
const runner: StageRunner = {
  async run() {
    return {
      logits: Float32Array.from([0, 0, 3, 1]),
      activation: Float32Array.from([1, 2, 3, 4]),
      activationDims: [1, 4],
      serviceMs: 0.25,
    };
  },
  warmUp: async () => undefined,
  close: async () => undefined,
};

const store: ActivationStore = {
  toRef: async (data, dims) => inlineTensor(data, dims),
  fetch: async (ref, where) => {
    if (ref.kind !== 'inline') throw new Error('inline only');
    return decodeInline(ref, where);
  },
};

/** Wall ms the slow runner and store of `deps({ slowMs })` take per call, so a duration has a known floor. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deps(o: { slowMs?: number } = {}): StageActivityDeps & { events: { events: StageEvent[] } } {
  const events: StageEvent[] = [];
  const slow = o.slowMs ?? 0;
  return {
    served: {
      model: 'm',
      stage: 1,
      stages: 2,
      inputDims: [-1, 2],
      backend: 'faas',
      runner: slow ? { ...runner, run: async (...a) => (await sleep(slow), runner.run(...a)) } : runner,
    },
    store: slow ? { ...store, fetch: async (ref, where) => (await sleep(slow), store.fetch(ref, where)) } : store,
    events: { events, publish: async (e: StageEvent) => void events.push(e) },
    worker: 'inst-1',
  };
}

function request(overrides: Partial<StageInput> = {}): FunctionRequest {
  return {
    input: {
      queryId: 'q',
      model: 'm',
      stage: 1,
      lastStage: 2,
      threshold: 0.99,
      activation: inlineTensor(Float32Array.from([0.5, 0.5]), [1, 2]),
      inlineActivationMaxBytes: 1024,
      ...overrides,
    },
    call: CALL,
  };
}

describe('handleInvocation', () => {
  test('runs the stage as the faas backend and reports the handler duration', async () => {
    // A store fetch and a stage run of 20 ms each: the handler took at least 40 ms, and at most what the caller saw.
    const d = deps({ slowMs: 20 });
    const t0 = performance.now();
    const reply = await handleInvocation(JSON.stringify(request()), d);
    const wall = performance.now() - t0;
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.equal(reply.output.backend, 'faas');
    assert.equal(reply.output.worker, 'inst-1');
    assert.equal(reply.output.taskQueue, 'm.stage-1.faas');
    assert.equal(reply.output.label, 2);
    assert.equal(reply.output.exited, false);
    assert.ok(reply.durationMs >= 40 - 1 && reply.durationMs <= wall + 1, `${reply.durationMs} ms (wall ${wall})`);
    assert.equal(d.events.events.length, 1);
    assert.equal(d.events.events[0]!.backend, 'faas');
  });

  test('bad input (wrong dims) is a non-retryable InvalidInputError, with the duration for billing', async () => {
    const raw = JSON.stringify(request({ activation: inlineTensor(new Float32Array(3), [1, 3]) }));
    const t0 = performance.now();
    const reply = await handleInvocation(raw, deps({ slowMs: 20 }));
    const wall = performance.now() - t0;
    assert.equal(reply.ok, false);
    assert.ok(!reply.ok);
    assert.equal(reply.error.type, 'InvalidInputError');
    assert.equal(reply.error.nonRetryable, true);
    // The 20 ms fetch of the activation came before the shape check, and is billed.
    assert.ok(reply.durationMs >= 20 - 1 && reply.durationMs <= wall + 1, `${reply.durationMs} ms (wall ${wall})`);
  });

  test('a message that is not a request is non-retryable bad input', async () => {
    for (const raw of ['not json', '{}', 'null', '{"input": 1}']) {
      const reply = await handleInvocation(raw, deps());
      assert.equal(reply.ok, false, raw);
      if (!reply.ok) {
        assert.equal(reply.error.type, 'InvalidInputError', raw);
        assert.equal(reply.error.nonRetryable, true, raw);
      }
    }
  });

  test('a runner failure is retryable and keeps its name', async () => {
    const d = deps();
    d.served.runner = { ...runner, run: () => Promise.reject(new RangeError('ort exploded')) };
    const reply = await handleInvocation(JSON.stringify(request()), d);
    assert.deepEqual(reply.ok ? null : reply.error, {
      type: 'RangeError',
      message: 'ort exploded',
      nonRetryable: false,
    });
  });
});
