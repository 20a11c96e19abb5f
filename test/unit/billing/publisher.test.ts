/** billing/publisher.ts: the outbox keeps facts NATS did not take, retries them in order with the same id. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { createBillingPublisher, type BillingFact } from '../../../billing/publisher';
import { waitUntil } from '../../helpers/wait-until';

/** A stand-in NATS whose JetStream publish fails while `down` is true, recording what it accepted. */
function flakyNats() {
  const state = {
    down: false,
    attempts: [] as string[],
    stored: [] as { subject: string; body: { type: string; vmId: string }; msgID: string }[],
  };
  const nc = {
    jetstream: () => ({
      publish: async (subject: string, data: string, opts: { msgID: string }) => {
        state.attempts.push(opts.msgID);
        if (state.down) throw new Error('TIMEOUT');
        state.stored.push({ subject, body: JSON.parse(data) as { type: string; vmId: string }, msgID: opts.msgID });
        return {};
      },
    }),
  } as unknown as NatsConnection;
  return { nc, state };
}

const fact = (vmId: string): BillingFact => ({
  type: 'vm.ready',
  at: 1,
  model: 'm',
  stage: 1,
  vmId,
  instanceType: 't',
});

describe('billing publisher outbox', () => {
  test('facts published while NATS is down go out in order once it is back, each under one id', async () => {
    const { nc, state } = flakyNats();
    const lines: string[] = [];
    const p = createBillingPublisher(nc, 1, { log: (l) => lines.push(l) });
    await p.publish(fact('a'));
    state.down = true;
    await p.publish(fact('b'));
    await p.publish(fact('c'));
    assert.equal(p.pending, 2, 'b and c wait');
    await waitUntil('a retry failed', 5_000, () => (state.attempts.length >= 3 ? true : undefined));
    state.down = false;
    await waitUntil('the outbox drains', 10_000, () => (p.pending === 0 ? true : undefined));
    assert.deepEqual(
      state.stored.map((s) => s.body.vmId),
      ['a', 'b', 'c'],
    );
    // b's retries reuse b's id: the stream's duplicate window drops a retry whose first publish did land.
    const bId = state.stored[1]!.msgID;
    assert.ok(state.attempts.filter((id) => id === bId).length >= 2, `b was retried under ${bId}`);
    assert.equal(new Set(state.stored.map((s) => s.msgID)).size, 3);
    assert.equal(p.lost, 0);
    assert.ok(lines.some((l) => l.startsWith('billing: vm.ready not published yet (TIMEOUT)')));
    await p.close();
  });

  test('a fact still unpublished after the retry horizon is given up and reported, the rest go on', async () => {
    const { nc, state } = flakyNats();
    let clock = 0;
    const lines: string[] = [];
    const p = createBillingPublisher(nc, 1, { retryHorizonMs: 1_000, now: () => clock, log: (l) => lines.push(l) });
    state.down = true;
    await p.publish(fact('old'));
    clock = 5_000;
    await p.publish(fact('new'));
    state.down = false;
    await waitUntil('the outbox drains', 10_000, () => (p.pending === 0 ? true : undefined));
    assert.deepEqual(
      state.stored.map((s) => s.body.vmId),
      ['new'],
    );
    assert.equal(p.lost, 1);
    assert.ok(lines.some((l) => /^billing: vm\.ready \S+ not published within 1000 ms: given up$/.test(l)));
    await p.close();
  });

  test('a fact of one VM life has the same id from any publisher: the stream keeps one of each', async () => {
    const { nc, state } = flakyNats();
    const provider = createBillingPublisher(nc, 1, { log: () => undefined });
    const theVm = createBillingPublisher(nc, 1, { log: () => undefined });
    const end = { type: 'vm.terminated', model: 'm', stage: 1, vmId: 'vm-9', instanceType: 't' } as const;
    await provider.publish({ ...end, at: 2, reason: 'drained' });
    await theVm.publish({ ...end, at: 3, reason: 'again' });
    await theVm.publish({
      type: 'vm.stopped',
      model: 'm',
      stage: 1,
      vmId: 'vm-9',
      instanceType: 't',
      at: 1,
      reason: 'x',
    });
    assert.deepEqual(
      state.stored.map((s) => s.msgID),
      ['vm-9.vm.terminated', 'vm-9.vm.terminated', 'vm-9.vm.stopped'],
    );
    assert.deepEqual(
      state.stored.map((s) => (s.body as unknown as { v: number }).v),
      [2, 2, 2],
      'published under the current version',
    );
  });

  test('close() publishes what waits, then refuses new facts', async () => {
    const { nc, state } = flakyNats();
    const p = createBillingPublisher(nc, 1, { log: () => undefined });
    state.down = true;
    await p.publish(fact('x'));
    state.down = false;
    await p.close(5_000);
    assert.deepEqual(
      state.stored.map((s) => s.body.vmId),
      ['x'],
    );
    await assert.rejects(p.publish(fact('y')), /closed/);
  });
});
