/**
 * The billing reader against a real nats-server (and Temporal dev server, started by the harness, no workers):
 * it reads back what the publisher wrote, reports a malformed message by sequence, reads an empty stream without
 * waiting, and honours a start time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createBillingPublisher, type BillingFact } from '../../billing/publisher';
import { readBillingEvents, readStageEvents, readStream, StreamNotFoundError } from '../../billing/reader';
import { billingEventSubject } from '../../common/billing-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const T0 = Date.parse('2025-06-01T12:00:00Z');

describe('billing reader', () => {
  let ts: TestStack;
  before(async () => {
    ts = await startTestStack({}, { workers: false });
  });
  after(async () => {
    await ts?.stop();
  });

  test('an empty stream reads as no events without waiting', async () => {
    // "Without waiting" as a ratio of the reader's own timeout: a reader that waited it out would take all of it.
    const timeoutMs = 300_000;
    const started = Date.now();
    const read = await readStageEvents(ts.nc, { timeoutMs });
    assert.deepEqual([read.events, read.malformed, read.lastSeq], [[], [], 0]);
    assert.ok(Date.now() - started < timeoutMs / 10, `${Date.now() - started} ms of a ${timeoutMs} ms timeout`);
  });

  test('a missing stream is a named error', async () => {
    await assert.rejects(
      readStream(ts.nc, 'NO_SUCH_STREAM', (v) => v),
      StreamNotFoundError,
    );
  });

  test('every published fact comes back, and a malformed message is reported by its sequence', async () => {
    const publisher = createBillingPublisher(ts.nc, 10);
    const facts: BillingFact[] = [
      { type: 'vm.launched', at: T0, model: 'm', stage: 1, vmId: 'vm-1', instanceType: 'c6i.large', bootDelayMs: 100 },
      { type: 'vm.ready', at: T0 + 100, model: 'm', stage: 1, vmId: 'vm-1', instanceType: 'c6i.large' },
      {
        type: 'faas.invoked',
        at: T0 + 200,
        model: 'm',
        stage: 2,
        instanceId: 'fn-1',
        queryId: 'q1',
        memoryMb: 512,
        durationMs: 12.5,
        initMs: 300,
        coldStart: true,
      },
    ];
    for (const f of facts.slice(0, 2)) await publisher.publish(f);
    // A message that is JSON but not a billing event (no timeScale), between good ones.
    const js = ts.nc.jetstream();
    const bad = await js.publish(billingEventSubject('vm.ready'), JSON.stringify({ v: 1, type: 'vm.ready', at: 1 }));
    const notJson = await js.publish(billingEventSubject('vm.terminated'), 'not json');
    await publisher.publish(facts[2]!);

    const read = await readBillingEvents(ts.nc);
    assert.equal(read.lastSeq, 5);
    assert.deepEqual(
      read.events,
      // the publisher writes the current version (2: vm.alive and vm.stopped exist); v1 types read the same
      facts.map((f) => ({ v: 2, timeScale: 10, ...f })),
    );
    assert.deepEqual(
      read.malformed.map((m) => [m.seq, m.subject]),
      [
        [bad.seq, 'serflow.billing.vm.ready'],
        [notJson.seq, 'serflow.billing.vm.terminated'],
      ],
    );
    assert.match(read.malformed[0]!.error, /timeScale/);
    assert.match(read.malformed[1]!.error, /JSON/i);
  });

  test('a start time skips messages stored before it, and a start time after all of them reads nothing', async () => {
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const publisher = createBillingPublisher(ts.nc, 1);
    await publisher.publish({
      type: 'faas.throttled',
      at: cut + 20,
      model: 'm',
      stage: 1,
      queryId: 'q2',
      concurrency: 8,
    });
    const read = await readBillingEvents(ts.nc, { since: cut });
    assert.deepEqual(
      read.events.map((e) => e.type),
      ['faas.throttled'],
    );
    assert.deepEqual(read.malformed, []);
    const timeoutMs = 300_000;
    const started = Date.now();
    const later = await readBillingEvents(ts.nc, { since: Date.now() + 60_000, timeoutMs });
    assert.deepEqual(later.events, []);
    assert.ok(Date.now() - started < timeoutMs / 10, `${Date.now() - started} ms of a ${timeoutMs} ms timeout`);
  });
});
