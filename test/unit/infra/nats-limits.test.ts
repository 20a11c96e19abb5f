/**
 * The limits of every JetStream stream and bucket (infra/nats.ts `streamLimits`) come from the configuration's
 * `retention` section, and `limitsToUpdate` finds what an existing stream (made by an older version) lacks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiscardPolicy, nanos } from 'nats';
import { BILLING_EVENTS_STREAM } from '../../../common/billing-events';
import {
  compileConfig,
  DEFAULT_ACTIVATIONS_MAX_BYTES,
  DEFAULT_BILLING_MAX_AGE_MS,
  DEFAULT_BILLING_MAX_BYTES,
} from '../../../common/config';
import {
  ACTIVATIONS_BUCKET,
  AUTOSCALER_BUCKET,
  CONTROL_STREAM,
  ROUTING_BUCKET,
  STAGE_EVENTS_STREAM,
  WORKERS_BUCKET,
} from '../../../common/naming';
import { kvStreamName, limitsToUpdate, objectStoreStreamName, streamLimits } from '../../../infra/nats';

describe('streamLimits', () => {
  const limits = streamLimits(compileConfig({}));

  test('every stream and bucket has a size limit; the streams and the object store an age limit', () => {
    const names = [
      STAGE_EVENTS_STREAM,
      BILLING_EVENTS_STREAM,
      CONTROL_STREAM,
      kvStreamName(AUTOSCALER_BUCKET),
      kvStreamName(ROUTING_BUCKET),
      kvStreamName(WORKERS_BUCKET),
      objectStoreStreamName(ACTIVATIONS_BUCKET),
    ];
    assert.deepEqual(Object.keys(limits).sort(), [...names].sort());
    for (const n of names) assert.ok(limits[n]!.max_bytes > 0, `${n} max_bytes`);
    for (const n of [
      STAGE_EVENTS_STREAM,
      BILLING_EVENTS_STREAM,
      CONTROL_STREAM,
      objectStoreStreamName(ACTIVATIONS_BUCKET),
    ])
      assert.ok(limits[n]!.max_age > 0, `${n} max_age`);
  });

  test('billing keeps facts long and drops only the oldest; buckets refuse writes rather than drop', () => {
    const billing = limits[BILLING_EVENTS_STREAM]!;
    assert.equal(billing.max_age, nanos(DEFAULT_BILLING_MAX_AGE_MS));
    assert.equal(billing.max_bytes, DEFAULT_BILLING_MAX_BYTES);
    assert.equal(billing.discard, DiscardPolicy.Old);
    const os = limits[objectStoreStreamName(ACTIVATIONS_BUCKET)]!;
    assert.equal(os.max_bytes, DEFAULT_ACTIVATIONS_MAX_BYTES);
    assert.equal(os.discard, DiscardPolicy.New);
    assert.equal(limits[kvStreamName(ROUTING_BUCKET)]!.discard, DiscardPolicy.New);
    assert.equal(limits[kvStreamName(ROUTING_BUCKET)]!.max_msgs_per_subject, 5);
  });

  test('configured values are used; a bad one is a field-named config error', () => {
    const l = streamLimits(compileConfig({ retention: { controlMaxBytes: 4096, billingMaxAgeMs: 1_000 } }));
    assert.equal(l[CONTROL_STREAM]!.max_bytes, 4096);
    assert.equal(l[BILLING_EVENTS_STREAM]!.max_age, nanos(1_000));
    assert.throws(() => compileConfig({ retention: { billingMaxBytes: -1 } }), /retention\.billingMaxBytes/);
  });
});

describe('limitsToUpdate', () => {
  const want = streamLimits(compileConfig({}))[BILLING_EVENTS_STREAM]!;
  test('a stream without limits (an older version) gets every managed field; one that has them gets nothing', () => {
    assert.deepEqual(limitsToUpdate({ max_age: 0, max_bytes: -1, discard: DiscardPolicy.Old }, want), {
      max_age: want.max_age,
      max_bytes: want.max_bytes,
      duplicate_window: want.duplicate_window,
    });
    assert.deepEqual(limitsToUpdate({ ...want }, want), {});
  });

  test('a duplicate window the server chose (2 min) shrinks to a shorter age limit (the server refuses it longer)', () => {
    const control = streamLimits(compileConfig({ retention: { controlMaxAgeMs: 60_000 } }))[CONTROL_STREAM]!;
    const update = limitsToUpdate({ ...control, max_age: 0, duplicate_window: nanos(120_000) }, control);
    assert.deepEqual(update, { max_age: nanos(60_000), duplicate_window: nanos(60_000) });
  });
});
