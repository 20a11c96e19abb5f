/**
 * The drain slots of a stage worker: sdk-core polls only with a slot, so a closed supplier stops new polls while
 * open ones keep theirs, and `idle()` says when no poll is open and no task runs (the moment a drained VM may shut
 * down without cancelling a poll). The supplier is driven here the way sdk-core drives it: reserve before a poll,
 * mark used when the poll brings a task, release when the task ends or the poll comes back empty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SlotReserveContext } from '@temporalio/worker';
import { createDrainSlots } from '../../../workers/drain-slots';

const CTX: SlotReserveContext = {
  slotType: 'activity',
  taskQueue: 'm.stage-2.vm',
  workerIdentity: 'vm-1',
  workerBuildId: '',
  isSticky: false,
};
const USED = { slotInfo: { type: 'activity' as const, activityType: 'runStage' }, permit: {} };

/** Whether `p` has settled after the pending microtasks and timers of this turn have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('drain slots', () => {
  test('grant up to the limit, then make the next reservation wait for a release', async () => {
    const slots = createDrainSlots(2);
    const signal = new AbortController().signal;
    await slots.supplier.reserveSlot(CTX, signal);
    await slots.supplier.reserveSlot(CTX, signal);
    assert.equal(slots.held(), 2);
    assert.equal(slots.supplier.tryReserveSlot(CTX), null, 'no slot beyond the limit');
    const third = slots.supplier.reserveSlot(CTX, signal);
    assert.equal(await settled(third), false, 'the third poll waits');
    slots.supplier.releaseSlot({ permit: {} });
    assert.equal(await settled(third), true, 'a released slot goes to the waiting poll');
    assert.equal(slots.held(), 2);
  });

  test('once closed, no poll gets a slot, and idle() waits until the open polls and running tasks are back', async () => {
    const slots = createDrainSlots(4);
    const signal = new AbortController().signal;
    // Two open polls; one of them brings a task.
    await slots.supplier.reserveSlot(CTX, signal);
    await slots.supplier.reserveSlot(CTX, signal);
    slots.supplier.markSlotUsed(USED);
    slots.close();
    assert.equal(slots.supplier.tryReserveSlot(CTX), null, 'closed: no eager slot');
    const next = slots.supplier.reserveSlot(CTX, signal);
    const idle = slots.idle();
    assert.equal(await settled(idle), false, 'two slots still out');
    slots.supplier.releaseSlot({ permit: {} }); // the empty poll came back
    assert.equal(await settled(idle), false, 'the task still runs');
    slots.supplier.releaseSlot(USED); // the task ended
    assert.equal(await settled(idle), true, 'no poll open, no task running');
    assert.equal(slots.held(), 0);
    assert.equal(await settled(next), false, 'a closed supplier never grants the waiting poll its slot');
  });

  test('idle() resolves at once when closed with nothing out', async () => {
    const slots = createDrainSlots(1);
    slots.close();
    assert.equal(await settled(slots.idle()), true);
  });

  test('a waiting reservation rejects with the reason of its abort (the worker shutting down)', async () => {
    const slots = createDrainSlots(1);
    const abort = new AbortController();
    await slots.supplier.reserveSlot(CTX, abort.signal);
    slots.close();
    const waiting = slots.supplier.reserveSlot(CTX, abort.signal);
    const reason = new Error('worker shutting down');
    abort.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);
    assert.equal(slots.held(), 1, 'the aborted reservation took no slot');
  });

  test('a limit that is not a positive integer is refused', () => {
    assert.throws(() => createDrainSlots(0), { name: 'RangeError', message: /positive integer: 0/ });
  });
});
