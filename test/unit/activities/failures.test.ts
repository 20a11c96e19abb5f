/**
 * activities/failures.ts: every error type SERFLOW meets, as an ApplicationFailure and as a reply, keeps its type
 * and message, and is non-retryable exactly when it is listed in common/errors.ts NON_RETRYABLE_ERROR_TYPES.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import {
  activityError,
  describeFailure,
  failureFromReply,
  isNonRetryableError,
  toApplicationFailure,
} from '../../../activities/failures';
import {
  ConfigError,
  InvalidInputError,
  MissingActivationError,
  ModelOutputError,
  NON_RETRYABLE_ERROR_TYPES,
  UnknownModelError,
  UnknownStageError,
} from '../../../common/errors';
import { FunctionThrottledError } from '../../../infra/providers';

/** Errors that reach the conversions, with the type they keep and whether a retry can fix them. */
const ERRORS: Array<{ err: Error; type: string; nonRetryable: boolean }> = [
  { err: new InvalidInputError('dims [1, 3] do not match [-1, 2]'), type: 'InvalidInputError', nonRetryable: true },
  { err: new UnknownModelError('no model nope'), type: 'UnknownModelError', nonRetryable: true },
  { err: new UnknownStageError('no stage 9'), type: 'UnknownStageError', nonRetryable: true },
  { err: new MissingActivationError('memory/gone expired'), type: 'MissingActivationError', nonRetryable: true },
  { err: new ModelOutputError('stage 2 produced no activation'), type: 'ModelOutputError', nonRetryable: true },
  { err: new ConfigError('stages.timeoutMs: expected a number'), type: 'ConfigError', nonRetryable: false },
  { err: new FunctionThrottledError('limit reached (2 of 2)'), type: 'FunctionThrottledError', nonRetryable: false },
  { err: new RangeError('ort exploded'), type: 'RangeError', nonRetryable: false },
  { err: new Error('TIMEOUT: object store did not answer'), type: 'Error', nonRetryable: false },
];

test('the table covers every non-retryable type of common/errors.ts', () => {
  const listed = ERRORS.filter((c) => c.nonRetryable).map((c) => c.type);
  assert.deepEqual([...listed].sort(), [...NON_RETRYABLE_ERROR_TYPES].sort());
});

describe('toApplicationFailure', () => {
  for (const c of ERRORS) {
    test(`${c.type}: ${c.nonRetryable ? 'non-retryable' : 'retryable'}, type, message and cause kept`, () => {
      const f = toApplicationFailure(c.err);
      assert.ok(f instanceof ApplicationFailure);
      assert.equal(f.type, c.type);
      assert.equal(f.message, c.err.message);
      assert.equal(f.nonRetryable, c.nonRetryable);
      assert.equal(f.cause, c.err);
      assert.equal(isNonRetryableError(c.err), c.nonRetryable);
    });
  }
  test('an ApplicationFailure is returned as it is', () => {
    const f = ApplicationFailure.create({ type: 'ProtocolError', message: 'x', nonRetryable: true });
    assert.equal(toApplicationFailure(f), f);
  });
  test('a thrown non-Error is a retryable failure without a type', () => {
    const f = toApplicationFailure('boom');
    assert.equal(f.message, 'boom');
    assert.equal(f.type, undefined);
    assert.equal(f.nonRetryable, false);
  });
});

describe('activityError', () => {
  for (const c of ERRORS) {
    test(`${c.type}: ${c.nonRetryable ? 'a non-retryable ApplicationFailure' : 'rethrown unchanged, for the retry policy'}`, () => {
      const thrown = activityError(c.err);
      if (!c.nonRetryable) {
        assert.equal(thrown, c.err);
        return;
      }
      assert.ok(thrown instanceof ApplicationFailure, String(thrown));
      assert.equal(thrown.type, c.type);
      assert.equal(thrown.message, c.err.message);
      assert.equal(thrown.nonRetryable, true);
    });
  }
  test('a thrown non-Error is rethrown unchanged', () => {
    assert.equal(activityError('boom'), 'boom');
  });
});

describe('describeFailure', () => {
  for (const c of ERRORS) {
    test(`${c.type}: ${c.nonRetryable ? 'non-retryable' : 'retryable'}, type and message kept`, () => {
      assert.deepEqual(describeFailure(c.err), { type: c.type, message: c.err.message, nonRetryable: c.nonRetryable });
    });
  }
  test('an ApplicationFailure keeps its type and retryability', () => {
    const f = ApplicationFailure.create({ type: 'UnknownStageError', message: 'no', nonRetryable: true });
    assert.deepEqual(describeFailure(f), { type: 'UnknownStageError', message: 'no', nonRetryable: true });
  });
  test('an ApplicationFailure keeps its retryability even when its type is in the non-retryable set', () => {
    const f = ApplicationFailure.create({ type: 'InvalidInputError', message: 'no', nonRetryable: false });
    assert.deepEqual(describeFailure(f), { type: 'InvalidInputError', message: 'no', nonRetryable: false });
  });
  test('an untyped ApplicationFailure is an Error', () => {
    const f = ApplicationFailure.create({ message: 'no' });
    assert.deepEqual(describeFailure(f), { type: 'Error', message: 'no', nonRetryable: false });
  });
  test('a thrown non-Error is a retryable Error', () => {
    assert.deepEqual(describeFailure('boom'), { type: 'Error', message: 'boom', nonRetryable: false });
  });
});

describe('failureFromReply', () => {
  for (const c of ERRORS) {
    test(`${c.type}: the reply round-trips to the same type, message and retryability`, () => {
      const f = failureFromReply(describeFailure(c.err));
      assert.ok(f instanceof ApplicationFailure);
      assert.equal(f.type, c.type);
      assert.equal(f.message, c.err.message);
      assert.equal(f.nonRetryable, c.nonRetryable);
      assert.equal(f.cause, undefined);
    });
  }
  test('the reported retryability is taken as it is, not recomputed from the type', () => {
    const f = failureFromReply({ type: 'InvalidInputError', message: 'x', nonRetryable: false });
    assert.equal(f.nonRetryable, false);
  });
});
