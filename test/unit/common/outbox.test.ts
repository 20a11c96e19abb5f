/** common/outbox.ts: kept in order under one id, bounded (oldest dropped, counted, logged), flushed at close. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createOutbox } from '../../../common/outbox';
import { waitUntil } from '../../helpers/wait-until';

/** A wire that fails while `down`, recording attempts and what it took. */
function wire() {
  const state = { down: false, attempts: [] as string[], taken: [] as { item: string; id: string }[] };
  const send = async (item: string, id: string) => {
    state.attempts.push(id);
    await Promise.resolve();
    if (state.down) throw new Error('no responders');
    state.taken.push({ item, id });
  };
  return { state, send };
}

describe('outbox', () => {
  test('beyond maxPending the oldest waiting fact is dropped, counted and logged; the rest go out in order', async () => {
    const { state, send } = wire();
    const lines: string[] = [];
    const box = createOutbox({
      name: 'test',
      send,
      describe: (s: string) => s,
      retryHorizonMs: 60_000,
      maxPending: 3,
      retryFirstMs: 10,
      log: (l) => lines.push(l),
    });
    state.down = true;
    for (const x of ['a', 'b', 'c', 'd', 'e']) await box.offer(x, `id-${x}`);
    assert.equal(box.pending, 3);
    assert.equal(box.dropped, 2);
    assert.ok(lines.some((l) => l.startsWith('test: outbox full (3 waiting): dropped the oldest, a id-a (1 dropped')));
    state.down = false;
    await waitUntil('drained', 5_000, () => (box.pending === 0 ? true : undefined), 10);
    assert.deepEqual(
      state.taken.map((t) => t.id),
      ['id-c', 'id-d', 'id-e'],
    );
    assert.equal(box.lost, 0);
    await box.close();
  });

  test("a retry reuses the fact's id, and a fact offered while others wait queues behind them", async () => {
    const { state, send } = wire();
    const box = createOutbox({
      name: 't',
      send,
      describe: String,
      retryHorizonMs: 60_000,
      retryFirstMs: 10,
      log: () => undefined,
    });
    state.down = true;
    await box.offer('x', 'id-x');
    await waitUntil('a retry', 5_000, () => (state.attempts.length >= 2 ? true : undefined), 10);
    state.down = false;
    await box.offer('y', 'id-y'); // waits behind x, even though the wire is up
    assert.equal(box.pending, 2);
    await waitUntil('drained', 5_000, () => (box.pending === 0 ? true : undefined), 10);
    assert.deepEqual(state.attempts.slice(0, 2), ['id-x', 'id-x']);
    assert.deepEqual(
      state.taken.map((t) => t.id),
      ['id-x', 'id-y'],
    );
    await box.close();
  });

  test('maxPending below 1 is refused by name', () => {
    assert.throws(
      () =>
        createOutbox({ name: 'n', send: async () => undefined, describe: String, retryHorizonMs: 1, maxPending: 0 }),
      /outbox n: maxPending must be at least 1, got 0/,
    );
  });

  test('a drain that finds nothing to send (its timer fired after the queue emptied) does not block later facts', async () => {
    const { state, send } = wire();
    let calls = 0;
    const slowSend = async (item: string, id: string) => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      await send(item, id);
    };
    const box = createOutbox({
      name: 'test',
      send: slowSend,
      describe: (s: string) => s,
      retryHorizonMs: 60_000,
      retryFirstMs: 20,
      log: () => undefined,
    });
    state.down = true;
    await box.offer('a', 'id-a'); // kept; a retry in 20 ms
    state.down = false;
    // While that retry drains (5 ms a send), one more fact is kept: it schedules a retry of its own, 20 ms on,
    // which fires once the drain has sent both and the queue is empty.
    await waitUntil('the retry is draining', 2_000, () => (calls >= 2 ? true : undefined), 1);
    await box.offer('b', 'id-b');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(box.pending, 0);
    // Facts offered after that empty drain go out.
    for (const x of ['c', 'd']) await box.offer(x, `id-${x}`);
    await waitUntil('later facts published', 2_000, () => (box.pending === 0 ? true : undefined), 5);
    assert.deepEqual(
      state.taken.map((t) => t.id),
      ['id-a', 'id-b', 'id-c', 'id-d'],
    );
  });
});
