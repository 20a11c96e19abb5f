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
});
