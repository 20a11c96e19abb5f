/** Publishes billable facts to the `SERFLOW_BILLING` stream (created by `ensureNatsResources`). */
import type { NatsConnection } from 'nats';
import { billingEventSubject, BILLING_EVENT_VERSION, type BillingEvent } from '../common/billing-events';

/** A billing event without the fields every publisher fills the same way. */
export type BillingFact = BillingEvent extends infer E
  ? E extends BillingEvent
    ? Omit<E, 'v' | 'timeScale'>
    : never
  : never;

export interface BillingPublisher {
  publish(fact: BillingFact): Promise<void>;
}

/**
 * `msgId` of each event makes a re-published fact (a retry after a lost ack) count once; the ledger relies on it.
 */
export function createBillingPublisher(nc: NatsConnection, timeScale: number): BillingPublisher {
  const js = nc.jetstream();
  let seq = 0;
  const origin = `${process.pid}.${Date.now()}`;
  return {
    async publish(fact) {
      const event = { v: BILLING_EVENT_VERSION, timeScale, ...fact } as BillingEvent;
      await js.publish(billingEventSubject(event.type), JSON.stringify(event), { msgID: `${origin}.${++seq}` });
    },
  };
}
