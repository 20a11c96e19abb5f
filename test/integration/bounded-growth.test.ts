/**
 * Bounded growth on real servers: every JetStream stream and bucket carries the configured size
 * and age limits, streams made by an older version without them are brought to them at start (their messages
 * kept), a size limit is enforced by the server; and a query's claim-checked activations are gone from the object
 * store once the query has ended.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DiscardPolicy, nanos, RetentionPolicy, StorageType } from 'nats';
import { SerflowClient } from '../../client';
import { BILLING_EVENTS_STREAM, BILLING_EVENTS_SUBJECT_PREFIX } from '../../common/billing-events';
import { compileConfig } from '../../common/config';
import {
  ACTIVATIONS_BUCKET,
  AUTOSCALER_BUCKET,
  CONTROL_STREAM,
  CONTROL_SUBJECT_PREFIX,
  inferenceWorkflowId,
  inputActivationKey,
  ROUTING_BUCKET,
  stageActivationKey,
  STAGE_EVENTS_STREAM,
  STAGE_EVENTS_SUBJECT_PREFIX,
  WORKERS_BUCKET,
} from '../../common/naming';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { ensureNatsResources, objectStoreStreamName, streamLimits } from '../../infra/nats';
import { startTestStack, type TestStack } from '../helpers/test-stack';

describe('stream and bucket limits on a real nats-server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-limits-'));
  let nats: StartedNatsServer;

  before(async () => {
    nats = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'jetstream'),
      logDir: dir,
      clientName: 'limits-test',
      readyTimeoutMs: 10_000,
    });
  });

  after(async () => {
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const checkLimits = async (config: ReturnType<typeof compileConfig>) => {
    const jsm = await nats.nc.jetstreamManager();
    for (const [name, want] of Object.entries(streamLimits(config))) {
      const { config: got } = await jsm.streams.info(name);
      assert.equal(got.max_bytes, want.max_bytes, `${name} max_bytes`);
      assert.equal(got.max_age, want.max_age, `${name} max_age`);
      assert.equal(got.discard, want.discard, `${name} discard`);
      if (want.max_msgs_per_subject !== undefined)
        assert.equal(got.max_msgs_per_subject, want.max_msgs_per_subject, `${name} history`);
      if (want.duplicate_window !== undefined)
        assert.equal(got.duplicate_window, want.duplicate_window, `${name} duplicate window`);
    }
  };

  test('streams and buckets made by an older version (no limits) are updated at start, their messages kept', async () => {
    // What the version before the limits created: no size limits, billing without an age limit.
    const jsm = await nats.nc.jetstreamManager();
    const js = nats.nc.jetstream();
    const plain = { retention: RetentionPolicy.Limits, storage: StorageType.File };
    await jsm.streams.add({ name: STAGE_EVENTS_STREAM, subjects: [`${STAGE_EVENTS_SUBJECT_PREFIX}.>`], ...plain });
    await jsm.streams.add({ name: BILLING_EVENTS_STREAM, subjects: [`${BILLING_EVENTS_SUBJECT_PREFIX}.>`], ...plain });
    await jsm.streams.add({ name: CONTROL_STREAM, subjects: [`${CONTROL_SUBJECT_PREFIX}.>`], ...plain });
    await js.views.kv(AUTOSCALER_BUCKET, { history: 1, storage: StorageType.File });
    await js.views.kv(ROUTING_BUCKET, { history: 5, storage: StorageType.File });
    await js.views.kv(WORKERS_BUCKET, { ttl: 6_000, history: 1, storage: StorageType.Memory });
    await js.views.os(ACTIVATIONS_BUCKET, { ttl: nanos(3_600_000), storage: StorageType.File });
    await js.publish(`${BILLING_EVENTS_SUBJECT_PREFIX}.vm.launched`, '{"a fact":1}');
    assert.equal((await jsm.streams.info(BILLING_EVENTS_STREAM)).config.max_bytes, -1, 'the old stream has no limit');

    const config = compileConfig({ homeDir: dir });
    await ensureNatsResources(nats.nc, config);
    await checkLimits(config);
    assert.equal((await jsm.streams.info(BILLING_EVENTS_STREAM)).state.messages, 1, 'billing facts are kept');
    // Billing: months of facts, oldest dropped first; the object store refuses rather than drop chunks.
    const billing = (await jsm.streams.info(BILLING_EVENTS_STREAM)).config;
    assert.equal(billing.max_age, nanos(90 * 24 * 3_600_000));
    assert.equal(billing.discard, DiscardPolicy.Old);
    assert.equal((await jsm.streams.info(objectStoreStreamName(ACTIVATIONS_BUCKET))).config.discard, DiscardPolicy.New);

    // Started again with other limits (a changed configuration): updated again; an unchanged start changes nothing.
    const smaller = compileConfig({ homeDir: dir, retention: { controlMaxBytes: 4096, controlMaxAgeMs: 60_000 } });
    await ensureNatsResources(nats.nc, smaller);
    await checkLimits(smaller);
    await ensureNatsResources(nats.nc, smaller);
    await checkLimits(smaller);
  });

  test('the server enforces a size limit: the control stream keeps under its max_bytes, dropping the oldest', async () => {
    const js = nats.nc.jetstream();
    const jsm = await nats.nc.jetstreamManager();
    const record = JSON.stringify({ reasons: 'x'.repeat(200) });
    for (let i = 0; i < 100; i++) await js.publish(`${CONTROL_SUBJECT_PREFIX}.decision.m`, record);
    const { state } = await jsm.streams.info(CONTROL_STREAM);
    assert.ok(state.bytes <= 4096, `${state.bytes} bytes kept`);
    assert.equal(state.last_seq, 100);
    assert.ok(
      state.first_seq > 1 && state.messages < 100,
      `oldest dropped: ${state.messages} kept from ${state.first_seq}`,
    );
  });
});

describe('claim-checked activations of an ended query', () => {
  let t: TestStack;
  before(async () => {
    t = await startTestStack();
  });
  after(async () => {
    await t?.stop();
  });

  test('are deleted from the object store once its client has the result', async () => {
    const client = await SerflowClient.connectToStack(t.stack.info, t.config);
    const queryId = `claim-${Date.now()}`;
    const workflowId = inferenceWorkflowId(t.config.defaultModel, queryId);
    const store = await t.nc.jetstream().views.os(ACTIVATIONS_BUCKET);
    let result;
    try {
      // Every activation through the store (limit 0), and no early exit (threshold 1): input + 3 hand-offs.
      result = await client.infer(new Float32Array(784).fill(0.1), {
        queryId,
        threshold: 1,
        inlineActivationMaxBytes: 0,
      });
    } finally {
      await client.close(); // waits for the deletions under way
    }
    const claimChecked = result.stages.filter((s) => s.claimCheck).map((s) => s.stage);
    assert.deepEqual(claimChecked, [1, 2, 3], 'each hand-off went through the store');
    const keys = [inputActivationKey(workflowId), ...claimChecked.map((k) => stageActivationKey(workflowId, k))];
    for (const key of keys) {
      const info = await store.info(key);
      assert.ok(info === null || info.deleted, `${key} is gone (${JSON.stringify(info)})`);
    }
    assert.deepEqual(
      (await store.list()).map((o) => o.name),
      [],
      'nothing is left in the store',
    );
  });
});
