/** common/events.ts: the versioned stage-event union and its parser. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZodError } from 'zod';
import { STAGE_EVENT_VERSION, parseStageEvent, type StageEvent } from '../../../common/events';

const base = {
  v: STAGE_EVENT_VERSION,
  queryId: 'q-1',
  workflowId: 'serflow-mnist-ee-q-1',
  runId: 'run-1',
  model: 'mnist-ee',
  stage: 2,
  backend: 'vm',
  worker: 'host:123',
  attempt: 1,
  queueMs: 3,
  serviceMs: 1.25,
  scheduledAt: 1_700_000_000_000,
  startedAt: 1_700_000_000_003,
  finishedAt: 1_700_000_000_006,
} as const;

const exited: StageEvent = {
  ...base,
  type: 'stage.exited',
  label: 7,
  confidence: 0.97,
  threshold: 0.95,
  confident: true,
};
const continued: StageEvent = { ...base, type: 'stage.continued', label: 1, confidence: 0.4, threshold: 0.95 };
const failed: StageEvent = {
  ...base,
  type: 'stage.failed',
  serviceMs: 0,
  errorType: 'InvalidInputError',
  message: 'query q-1, mnist-ee stage 2 input: value at flat index 3 is NaN',
};

/** Assert that parsing `value` fails with a ZodError naming `field` (as the issue path and in the message). */
function assertRejectedAt(value: unknown, field: string): void {
  assert.throws(
    () => parseStageEvent(value),
    (err: unknown) => {
      assert.ok(err instanceof ZodError, `expected ZodError, got ${String(err)}`);
      const paths = err.issues.map((i) => i.path.join('.'));
      assert.ok(paths.includes(field), `issue paths ${JSON.stringify(paths)} lack ${field}`);
      assert.ok(err.message.includes(`"${field}"`), `message does not name ${field}: ${err.message}`);
      return true;
    },
  );
}

describe('parseStageEvent accepts', () => {
  for (const event of [exited, continued, failed]) {
    test(`a valid ${event.type} event, unchanged`, () => {
      assert.deepEqual(parseStageEvent(JSON.parse(JSON.stringify(event))), event);
    });
  }

  test('an exited event that ran out of stages (confident false)', () => {
    const e = { ...exited, confidence: 0.5, confident: false };
    assert.deepEqual(parseStageEvent(e), e);
  });

  test('a faas backend', () => {
    assert.equal(parseStageEvent({ ...continued, backend: 'faas' }).backend, 'faas');
  });

  test('the heartbeats of the attempt, and an event from before they were reported (no heartbeats)', () => {
    for (const event of [exited, continued, failed]) {
      const withBeats = { ...event, heartbeats: 2 };
      assert.deepEqual(parseStageEvent(withBeats), withBeats);
      assert.equal(parseStageEvent(event).heartbeats, undefined);
    }
    assert.equal(parseStageEvent({ ...exited, heartbeats: 0 }).heartbeats, 0);
  });

  test('an event with an extra field, dropping the field', () => {
    const parsed = parseStageEvent({ ...exited, extra: 'x' });
    assert.ok(!('extra' in parsed));
  });
});

describe('parseStageEvent rejects', () => {
  test('a different schema version, naming v', () => {
    assertRejectedAt({ ...exited, v: STAGE_EVENT_VERSION + 1 }, 'v');
    assertRejectedAt({ ...exited, v: '1' }, 'v');
  });

  test('an unknown event type, naming type', () => {
    assertRejectedAt({ ...exited, type: 'stage.skipped' }, 'type');
    assertRejectedAt({ ...exited, type: undefined }, 'type');
  });

  const baseFields = Object.keys(base).filter((k) => k !== 'v');
  for (const type of ['stage.exited', 'stage.continued', 'stage.failed'] as const) {
    const event = { exited, continued, failed }[type.slice('stage.'.length) as 'exited' | 'continued' | 'failed'];
    for (const field of baseFields) {
      test(`a ${type} event without ${field}, naming ${field}`, () => {
        const { [field]: _dropped, ...rest } = event as Record<string, unknown>;
        assertRejectedAt(rest, field);
      });
    }
  }

  const perTypeFields: Array<[StageEvent, string]> = [
    [exited, 'label'],
    [exited, 'confidence'],
    [exited, 'threshold'],
    [exited, 'confident'],
    [continued, 'label'],
    [continued, 'confidence'],
    [continued, 'threshold'],
    [failed, 'errorType'],
    [failed, 'message'],
  ];
  for (const [event, field] of perTypeFields) {
    test(`a ${event.type} event without ${field}, naming ${field}`, () => {
      const { [field]: _dropped, ...rest } = event as unknown as Record<string, unknown>;
      assertRejectedAt(rest, field);
    });
  }

  const badValues: Array<{ what: string; patch: Record<string, unknown>; field: string }> = [
    { what: 'stage 0', patch: { stage: 0 }, field: 'stage' },
    { what: 'a fractional stage', patch: { stage: 1.5 }, field: 'stage' },
    { what: 'an unknown backend', patch: { backend: 'gpu' }, field: 'backend' },
    { what: 'attempt 0', patch: { attempt: 0 }, field: 'attempt' },
    { what: 'a negative queue time', patch: { queueMs: -1 }, field: 'queueMs' },
    { what: 'a negative service time', patch: { serviceMs: -0.5 }, field: 'serviceMs' },
    { what: 'a confidence above 1', patch: { confidence: 1.5 }, field: 'confidence' },
    { what: 'a negative label', patch: { label: -1 }, field: 'label' },
    { what: 'an empty query id', patch: { queryId: '' }, field: 'queryId' },
    { what: 'a string timestamp', patch: { finishedAt: '2024-01-01' }, field: 'finishedAt' },
    { what: 'negative heartbeats', patch: { heartbeats: -1 }, field: 'heartbeats' },
    { what: 'a fractional heartbeat count', patch: { heartbeats: 0.5 }, field: 'heartbeats' },
  ];
  for (const { what, patch, field } of badValues) {
    test(`${what}, naming ${field}`, () => {
      assertRejectedAt({ ...exited, ...patch }, field);
    });
  }

  for (const value of [null, 'stage.exited', 42, []]) {
    test(`a non-object (${JSON.stringify(value)})`, () => {
      assert.throws(() => parseStageEvent(value), ZodError);
    });
  }
});
