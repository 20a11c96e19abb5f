/** deploy/aws/lambda-handler.ts: the event check, and the replies that need no model or NATS. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { handler, parseLambdaEvent } from '../../../../deploy/aws/lambda-handler';

const EVENT = {
  input: {
    queryId: 'q1',
    model: 'mnist-ee',
    stage: 1,
    lastStage: 4,
    threshold: 0.9,
    activation: { kind: 'inline', dims: [1], dataBase64: 'AAAAAA==' },
    inlineActivationMaxBytes: 1024,
  },
  call: { workflowId: 'w', runId: 'r', attempt: 1, scheduledAt: 0, taskQueue: 'q' },
};

describe('parseLambdaEvent', () => {
  test('a function request passes, runLast included when present', () => {
    assert.deepEqual(parseLambdaEvent(EVENT), EVENT);
    const run = { ...EVENT, input: { ...EVENT.input, runLast: 3 } };
    assert.equal((parseLambdaEvent(run).input as { runLast?: number }).runLast, 3);
  });

  test('InvalidInputError naming every bad field and what it got', () => {
    assert.throws(
      () => parseLambdaEvent({ input: { ...EVENT.input, stage: '1', activation: { kind: 'file' } } }),
      (err: Error) => {
        assert.equal(err.name, 'InvalidInputError');
        assert.match(err.message, /input\.stage: expected number, got string/);
        assert.match(err.message, /input\.activation\.kind/);
        assert.match(err.message, /call: expected object, got missing/);
        return true;
      },
    );
    assert.throws(() => parseLambdaEvent(null), { name: 'InvalidInputError', message: /\(root\)/ });
    assert.throws(() => parseLambdaEvent('{"input":1}'), { name: 'InvalidInputError' });
  });
});

describe('handler', () => {
  test('a bad event is replied to as a non-retryable failure, without starting the function', async () => {
    const reply = await handler({ hello: 'world' });
    assert.equal(reply.ok, false);
    assert.ok(!reply.ok);
    assert.equal(reply.error.type, 'InvalidInputError');
    assert.equal(reply.error.nonRetryable, true);
    assert.ok(reply.durationMs >= 0);
    assert.match(reply.instanceId, /-[0-9a-f]{12}$/);
  });

  test('a function without its environment throws LambdaEnvironmentError naming the variables (a function error)', async () => {
    const saved = { ...process.env };
    delete process.env.SERFLOW_MODEL;
    delete process.env.SERFLOW_STAGE;
    delete process.env.NATS_URL;
    try {
      await assert.rejects(handler(EVENT), (err: Error) => {
        assert.equal(err.name, 'LambdaEnvironmentError');
        assert.match(err.message, /SERFLOW_MODEL.*SERFLOW_STAGE.*NATS_URL/s);
        return true;
      });
    } finally {
      process.env = saved;
    }
  });
});
