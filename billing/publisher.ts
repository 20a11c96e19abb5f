/**
 * Publishes billable facts to the `SERFLOW_BILLING` stream (created by `ensureNatsResources`), through an outbox: a
 * fact that cannot be published now (NATS down, a timeout) is kept and retried in order, with backoff, so a blip
 * loses no bill. Each fact gets its message id once, so a retry of a fact whose first publish did land (its ack
 * lost) is dropped by the stream's duplicate window; retries stop before that window would no longer cover them.
 */
import type { NatsConnection } from 'nats';
import {
  BILLING_DEDUP_WINDOW_MS,
  billingEventSubject,
  BILLING_EVENT_VERSION,
  billingMsgId,
  type BillingEvent,
} from '../common/billing-events';
import { createOutbox } from '../common/outbox';

/** A billing event without the fields every publisher fills the same way. */
export type BillingFact = BillingEvent extends infer E
  ? E extends BillingEvent
    ? Omit<E, 'v' | 'timeScale'>
    : never
  : never;

export interface BillingPublisher {
  /** Publish `fact`, or keep it in the outbox to retry; rejects only after close(). */
  publish(fact: BillingFact): Promise<void>;
  /** Facts waiting in the outbox. */
  readonly pending: number;
  /** Facts given up after the retry horizon or dropped from a full outbox (each reported through `log`). */
  readonly lost: number;
  /** Try to publish what waits, for at most `timeoutMs`, then stop retrying. */
  close(timeoutMs?: number): Promise<void>;
}

/** Retries of an unpublished fact stop this long after its first attempt (a minute inside the duplicate window). */
export const BILLING_RETRY_HORIZON_MS = BILLING_DEDUP_WINDOW_MS - 60_000;

/**
 * Facts the outbox holds at most (the oldest dropped beyond it, counted and logged): the whole retry horizon of a
 * stack billing ~90 function invocations a second, about 20 MB; a bound so no outage can exhaust a process's memory.
 */
export const BILLING_OUTBOX_MAX_PENDING = 50_000;

export interface BillingPublisherOptions {
  /** @default BILLING_RETRY_HORIZON_MS */
  retryHorizonMs?: number;
  /** @default BILLING_OUTBOX_MAX_PENDING */
  maxPending?: number;
  /** @default console.error */
  log?: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
}

export function createBillingPublisher(
  nc: NatsConnection,
  timeScale: number,
  options: BillingPublisherOptions = {},
): BillingPublisher {
  const js = nc.jetstream();
  let seq = 0;
  const origin = `${process.pid}.${Date.now()}`;
  const outbox = createOutbox<BillingEvent>({
    name: 'billing',
    send: async (event, msgID) => {
      await js.publish(billingEventSubject(event.type), JSON.stringify(event), { msgID });
    },
    describe: (event) => event.type,
    retryHorizonMs: options.retryHorizonMs ?? BILLING_RETRY_HORIZON_MS,
    maxPending: options.maxPending ?? BILLING_OUTBOX_MAX_PENDING,
    log: options.log,
    now: options.now,
  });
  return {
    async publish(fact) {
      const event = { v: BILLING_EVENT_VERSION, timeScale, ...fact } as BillingEvent;
      // A fact of one VM's life has an id of its own (the same whoever publishes it); others one per publisher.
      await outbox.offer(event, billingMsgId(event) ?? `${origin}.${++seq}`);
    },
    get pending() {
      return outbox.pending;
    },
    get lost() {
      return outbox.lost + outbox.dropped;
    },
    close: (timeoutMs) => outbox.close(timeoutMs),
  };
}
