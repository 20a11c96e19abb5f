/**
 * Activity slots a stage worker can close before it shuts down, so that a drain cancels no open poll.
 *
 * Why: sdk-core reserves a slot before each poll, and a poll that is cancelled (by the worker at shutdown, or by the
 * server's ShutdownWorker) at the moment the server hands it a task orphans that task: Temporal has recorded it as
 * started on this worker, nobody runs it, and it runs again as attempt 2 once its heartbeat timeout has passed
 * (measured on the embedded stack: 2 to 4 drains in 12 under load lost a task, with or without the server's
 * `frontend.enableCancelWorkerPollsOnShutdown`; none in 12 with these slots). Closed slots make the worker stop
 * polling without cancelling: each open poll still ends the ordinary way, with a task (which this worker runs) or
 * empty at the server's long-poll expiry, and no new poll starts because no slot is granted. Once every slot is back,
 * no poll is open and no task runs, and only then does the worker shut down.
 */
import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit } from '@temporalio/worker';

export interface DrainSlots {
  /** The activity slot supplier of the worker's tuner. */
  supplier: CustomSlotSupplier<ActivitySlotInfo>;
  /** Grant no more slots: no new poll starts; open polls and running tasks keep theirs until they end. */
  close(): void;
  /** Resolves once the slots are closed and every slot is back: no poll is open and no task runs. */
  idle(): Promise<void>;
  /** Slots held now: open polls plus running tasks. */
  held(): number;
}

/** Slots for at most `limit` concurrent activity tasks (and so at most `limit` open polls). */
export function createDrainSlots(limit: number): DrainSlots {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`slot limit must be a positive integer: ${limit}`);
  let held = 0;
  let closed = false;
  /** Reservations waiting for a slot, oldest first. */
  const waiting: Array<{ grant(): void }> = [];
  const idleWaiters: Array<() => void> = [];

  const settleIdle = () => {
    if (!closed || held > 0) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  const supplier: CustomSlotSupplier<ActivitySlotInfo> = {
    type: 'custom',
    reserveSlot(_ctx, abortSignal): Promise<SlotPermit> {
      if (!closed && held < limit) {
        held++;
        return Promise.resolve({});
      }
      // Closed, or all slots taken: wait. A closed supplier never grants again; sdk-core aborts the request when the
      // worker shuts down, and the reservation must then reject with the signal's reason.
      return new Promise<SlotPermit>((resolve, reject) => {
        const entry = {
          grant: () => {
            abortSignal.removeEventListener('abort', onAbort);
            held++;
            resolve({});
          },
        };
        const onAbort = () => {
          const i = waiting.indexOf(entry);
          if (i >= 0) waiting.splice(i, 1);
          // The SDK checks for its own reason (worker-tuner.js), whatever its type.
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(abortSignal.reason);
        };
        if (abortSignal.aborted) return onAbort();
        abortSignal.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
      });
    },
    tryReserveSlot(): SlotPermit | null {
      if (closed || held >= limit) return null;
      held++;
      return {};
    },
    markSlotUsed(): void {},
    releaseSlot(): void {
      held--;
      if (!closed) waiting.shift()?.grant();
      settleIdle();
    },
  };

  return {
    supplier,
    close() {
      closed = true;
      settleIdle();
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
    held: () => held,
  };
}
