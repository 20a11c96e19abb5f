/**
 * Read a whole JetStream stream (or its part from a start time) as a snapshot: an ordered consumer reads up to
 * the last sequence that existed when the read began. A message that does not parse is reported with its
 * sequence and the reason, never dropped silently.
 */
import { DeliverPolicy, type NatsConnection } from 'nats';
import { ZodError } from 'zod';
import { BILLING_EVENTS_STREAM, parseBillingEvent, type BillingEvent } from '../common/billing-events';
import { parseStageEvent, type StageEvent } from '../common/events';
import { STAGE_EVENTS_STREAM } from '../common/naming';
import { formatIssues } from '../common/zod-issues';

/** How long one `next()` may wait for a message the stream said it holds before the read fails. */
export const DEFAULT_READ_TIMEOUT_MS = 5_000;

export interface ReadStreamOptions {
  /** Wall epoch ms: read messages stored at/after it (JetStream `DeliverPolicy.StartTime`). @default the start */
  since?: number;
  /** Wait per message before giving up. @default DEFAULT_READ_TIMEOUT_MS */
  timeoutMs?: number;
}

export interface MalformedMessage {
  seq: number;
  subject: string;
  error: string;
}

export interface StreamRead<T> {
  stream: string;
  events: T[];
  malformed: MalformedMessage[];
  /** Last stream sequence the snapshot covers (0 for an empty stream). */
  lastSeq: number;
}

/** The stream does not exist: wrong NATS server, or no SERFLOW process has created its resources yet. */
export class StreamNotFoundError extends Error {
  override readonly name = 'StreamNotFoundError';
  constructor(
    readonly stream: string,
    options?: ErrorOptions,
  ) {
    super(`JetStream stream ${stream} not found (is this the SERFLOW NATS server? \`serflow up\` creates it)`, options);
  }
}

/** A message the stream holds did not arrive within the timeout. */
export class StreamReadTimeoutError extends Error {
  override readonly name = 'StreamReadTimeoutError';
}

function describeError(err: unknown): string {
  if (err instanceof ZodError) return formatIssues(err);
  return (err as Error)?.message ?? String(err);
}

/** Read every message of `stream` (from `since`), parsing each with `parse`; see the module comment. */
export async function readStream<T>(
  nc: NatsConnection,
  stream: string,
  parse: (value: unknown) => T,
  options: ReadStreamOptions = {},
): Promise<StreamRead<T>> {
  const jsm = await nc.jetstreamManager();
  let lastSeq: number;
  let messages: number;
  try {
    ({ last_seq: lastSeq, messages } = (await jsm.streams.info(stream)).state);
  } catch (err) {
    if (/stream not found/i.test((err as Error).message)) throw new StreamNotFoundError(stream, { cause: err });
    throw err;
  }
  const out: StreamRead<T> = { stream, events: [], malformed: [], lastSeq };
  if (messages === 0) return out;

  const consumer = await nc
    .jetstream()
    .consumers.get(
      stream,
      options.since === undefined
        ? {}
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(options.since).toISOString() },
    );
  try {
    // Creates the consumer and tells how many messages it will deliver, so a window with none never waits.
    const { num_pending: pending } = await consumer.info();
    if (pending === 0) return out;
    const timeoutMs = options.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    for (;;) {
      const m = await consumer.next({ expires: timeoutMs });
      if (!m) {
        const read = out.events.length + out.malformed.length;
        throw new StreamReadTimeoutError(
          `${stream}: no message for ${timeoutMs} ms after ${read} message(s), before sequence ${lastSeq}`,
        );
      }
      if (m.seq > lastSeq) break; // published after the snapshot began
      try {
        out.events.push(parse(m.json()));
      } catch (err) {
        out.malformed.push({ seq: m.seq, subject: m.subject, error: describeError(err) });
      }
      if (m.seq >= lastSeq) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out;
}

/** Every billing event (stream `SERFLOW_BILLING`), from `since` if given. */
export function readBillingEvents(nc: NatsConnection, options?: ReadStreamOptions): Promise<StreamRead<BillingEvent>> {
  return readStream(nc, BILLING_EVENTS_STREAM, parseBillingEvent, options);
}

/** Every stage event (stream `SERFLOW_STAGE_EVENTS`), from `since` if given. */
export function readStageEvents(nc: NatsConnection, options?: ReadStreamOptions): Promise<StreamRead<StageEvent>> {
  return readStream(nc, STAGE_EVENTS_STREAM, parseStageEvent, options);
}
