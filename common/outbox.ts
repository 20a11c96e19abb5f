/**
 * An outbox: the one retry queue of every fact SERFLOW publishes to a JetStream stream with a message id (billing
 * facts, billing/publisher.ts; stage events, activities/stage-events.ts). A fact the wire does not take now (NATS
 * down or restarting, an ack timeout) is kept and re-sent in order, with backoff, always under the id it was given,
 * so a retry of a fact whose first publish did land (its ack lost) is dropped by the stream's duplicate window.
 * Retries stop `retryHorizonMs` after a fact's first attempt (callers keep that inside the window); at most
 * `maxPending` facts wait, beyond that the oldest is dropped. Both losses are counted and logged.
 *
 * Transport-agnostic (the caller's `send` is the wire) so both wings that publish share it; it holds timers, so it
 * is no place for workflow code.
 */

export interface OutboxOptions<T> {
  /** Prefix of every log line (`billing`, `stage events`). */
  name: string;
  /** Publish one fact under its id; rejects when the wire did not take it. */
  send(item: T, id: string): Promise<void>;
  /** A fact in a log line (its type). */
  describe(item: T): string;
  /** Retries of a fact stop this long after its first attempt. */
  retryHorizonMs: number;
  /** Facts that may wait; the oldest is dropped beyond it. @default Infinity */
  maxPending?: number;
  /** @default console.error */
  log?: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
  /** First retry delay, doubling per failure up to `retryMaxMs`. @default OUTBOX_RETRY_FIRST_MS */
  retryFirstMs?: number;
  /** @default OUTBOX_RETRY_MAX_MS */
  retryMaxMs?: number;
}

export interface Outbox<T> {
  /**
   * Send `item` now if nothing waits (resolving once the wire took it or it was kept), else queue it behind what
   * waits; never rejects for a wire failure, only after close().
   */
  offer(item: T, id: string): Promise<void>;
  /** Facts waiting. */
  readonly pending: number;
  /** Facts given up after the retry horizon. */
  readonly lost: number;
  /** Facts dropped (the oldest) because more than `maxPending` waited. */
  readonly dropped: number;
  /** Try to send what waits, for at most `timeoutMs`, then stop retrying and refuse new facts. */
  close(timeoutMs?: number): Promise<void>;
}

/** First retry a quarter second after a failure: a NATS restart takes about that long to be reconnected. */
export const OUTBOX_RETRY_FIRST_MS = 250;
/** Backoff ceiling: a long outage is probed every 10 s, not hammered. */
export const OUTBOX_RETRY_MAX_MS = 10_000;
/** Default of close(): a worker's shutdown waits at most this long for the wire. */
export const OUTBOX_CLOSE_TIMEOUT_MS = 5_000;

/** A drop is logged on the first and then every this many, so an outage cannot flood the log. */
const DROP_LOG_EVERY = 100;

export function createOutbox<T>(o: OutboxOptions<T>): Outbox<T> {
  const log = o.log ?? ((line: string) => console.error(line));
  const now = o.now ?? Date.now;
  const maxPending = o.maxPending ?? Infinity;
  const first = o.retryFirstMs ?? OUTBOX_RETRY_FIRST_MS;
  const ceiling = o.retryMaxMs ?? OUTBOX_RETRY_MAX_MS;
  if (!(maxPending >= 1)) throw new RangeError(`outbox ${o.name}: maxPending must be at least 1, got ${maxPending}`);
  const queue: { item: T; id: string; firstAt: number }[] = [];
  let lost = 0;
  let dropped = 0;
  let delay = first;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let draining: Promise<void> | undefined;
  let closed = false;

  const schedule = () => {
    if (timer || closed) return;
    timer = setTimeout(() => void drain(), delay);
    (timer as { unref?: () => void }).unref?.();
  };

  /** Send the queue in order; stop at the first failure and try again later. One drain at a time. */
  const drain = (): Promise<void> => {
    timer = undefined;
    if (draining) return draining;
    const run = (async () => {
      while (queue.length) {
        const head = queue[0]!;
        if (now() - head.firstAt > o.retryHorizonMs) {
          queue.shift();
          lost++;
          log(`${o.name}: ${o.describe(head.item)} ${head.id} not published within ${o.retryHorizonMs} ms: given up`);
          continue;
        }
        try {
          await o.send(head.item, head.id);
          if (queue[0] === head) queue.shift();
          delay = first;
        } catch (err) {
          log(
            `${o.name}: ${o.describe(head.item)} not published yet (${(err as Error).message}); ${queue.length} waiting`,
          );
          schedule();
          delay = Math.min(ceiling, delay * 2);
          return;
        }
      }
    })();
    // Cleared once this drain has ended, never before it is set: a drain that finds nothing to send ends at once, and
    // clearing it from inside would leave a finished drain in place, behind which every later fact would wait forever.
    draining = run;
    void run.finally(() => {
      if (draining === run) draining = undefined;
    });
    return run;
  };

  const keep = (entry: { item: T; id: string; firstAt: number }) => {
    queue.push(entry);
    while (queue.length > maxPending) {
      const old = queue.shift()!;
      dropped++;
      if (dropped === 1 || dropped % DROP_LOG_EVERY === 0) {
        log(
          `${o.name}: outbox full (${maxPending} waiting): dropped the oldest, ${o.describe(old.item)} ${old.id} ` +
            `(${dropped} dropped so far)`,
        );
      }
    }
    schedule();
  };

  return {
    async offer(item, id) {
      if (closed) throw new Error(`${o.name} outbox is closed`);
      const entry = { item, id, firstAt: now() };
      // In order: while older facts wait, a new one waits behind them.
      if (queue.length === 0 && !draining) {
        try {
          await o.send(item, id);
          return;
        } catch (err) {
          log(`${o.name}: ${o.describe(item)} not published yet (${(err as Error).message}); kept to retry`);
        }
      }
      keep(entry);
    },
    get pending() {
      return queue.length;
    },
    get lost() {
      return lost;
    },
    get dropped() {
      return dropped;
    },
    async close(timeoutMs = OUTBOX_CLOSE_TIMEOUT_MS) {
      const until = now() + timeoutMs;
      while (queue.length && now() < until) {
        if (timer) clearTimeout(timer);
        timer = undefined;
        await drain();
        if (queue.length) await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, until - now()))));
      }
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (queue.length) log(`${o.name}: ${queue.length} unpublished at close`);
    },
  };
}
