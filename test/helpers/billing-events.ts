/** Billing events of a test stack, read from JetStream, for assertions. */
import type { NatsConnection } from 'nats';
import { readBillingEvents } from '../../billing/reader';
import type { BillingEvent } from '../../common/billing-events';
import { waitUntil } from './wait-until';

/** Every billing event in the stream; fails the test if any message did not parse. */
export async function readAllBillingEvents(nc: NatsConnection): Promise<BillingEvent[]> {
  const read = await readBillingEvents(nc);
  if (read.malformed.length > 0) {
    const m = read.malformed[0]!;
    throw new Error(`${read.malformed.length} malformed billing event(s), e.g. #${m.seq} ${m.subject}: ${m.error}`);
  }
  return read.events;
}

/** The billing events of one VM, in stream order. */
export async function vmBillingEvents(nc: NatsConnection, vmId: string): Promise<BillingEvent[]> {
  return (await readAllBillingEvents(nc)).filter((e) => 'vmId' in e && e.vmId === vmId);
}

/** Wait until `done(events)` holds over the whole stream, and return the events it held on. */
export function waitForBillingEvents(
  nc: NatsConnection,
  what: string,
  timeoutMs: number,
  done: (events: BillingEvent[]) => boolean,
): Promise<BillingEvent[]> {
  return waitUntil(
    what,
    timeoutMs,
    async () => {
      const events = await readAllBillingEvents(nc);
      return done(events) ? events : undefined;
    },
    200,
  );
}
