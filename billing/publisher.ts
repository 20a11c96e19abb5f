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
  type BillingEvent,
} from '../common/billing-events';

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
  /** Facts given up after the retry horizon (each reported through `log`). */
  readonly lost: number;
  /** Try to publish what waits, for at most `timeoutMs`, then stop retrying. */
  close(timeoutMs?: number): Promise<void>;
}

/** Retries of an unpublished fact stop this long after its first attempt (a minute inside the duplicate window). */
export const BILLING_RETRY_HORIZON_MS = BILLING_DEDUP_WINDOW_MS - 60_000;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 10_000;

export interface BillingPublisherOptions {
  /** @default BILLING_RETRY_HORIZON_MS */
  retryHorizonMs?: number;
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
  const horizon = options.retryHorizonMs ?? BILLING_RETRY_HORIZON_MS;
  const log = options.log ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  let seq = 0;
  const origin = `${process.pid}.${Date.now()}`;
  const outbox: { event: BillingEvent; msgID: string; firstAt: number }[] = [];
  let lost = 0;
  let delay = RETRY_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const send = (e: { event: BillingEvent; msgID: string }) =>
    js.publish(billingEventSubject(e.event.type), JSON.stringify(e.event), { msgID: e.msgID });

  /** Publish the outbox in order; stop at the first failure and try again later. */
  const drain = async (): Promise<void> => {
    timer = undefined;
    while (outbox.length) {
      const head = outbox[0]!;
      if (now() - head.firstAt > horizon) {
        outbox.shift();
        lost++;
        log(`billing: ${head.event.type} ${head.msgID} not published within ${horizon} ms: given up`);
        continue;
      }
      try {
        await send(head);
        outbox.shift();
        delay = RETRY_FIRST_MS;
      } catch (err) {
        if (!closed) {
          timer = setTimeout(() => void drain(), delay);
          timer.unref();
          delay = Math.min(RETRY_MAX_MS, delay * 2);
        }
        log(`billing: ${head.event.type} not published yet (${(err as Error).message}); ${outbox.length} waiting`);
        return;
      }
    }
  };

  return {
    async publish(fact) {
      if (closed) throw new Error('billing publisher is closed');
      const entry = {
        event: { v: BILLING_EVENT_VERSION, timeScale, ...fact } as BillingEvent,
        msgID: `${origin}.${++seq}`,
        firstAt: now(),
      };
      // In order: while older facts wait, a new one waits behind them.
      if (outbox.length === 0) {
        try {
          await send(entry);
          return;
        } catch {
          // kept below
        }
      }
      outbox.push(entry);
      if (!timer) {
        timer = setTimeout(() => void drain(), delay);
        timer.unref();
      }
    },
    get pending() {
      return outbox.length;
    },
    get lost() {
      return lost;
    },
    async close(timeoutMs = 5_000) {
      const until = now() + timeoutMs;
      while (outbox.length && now() < until) {
        if (timer) clearTimeout(timer);
        await drain();
        if (outbox.length) await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, until - now()))));
      }
      closed = true;
      if (timer) clearTimeout(timer);
      if (outbox.length) log(`billing: ${outbox.length} facts unpublished at close`);
    },
  };
}
