/** Waiting for something outside the process (a server starting, a record appearing) by retrying. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Pause between two attempts: short, since what is awaited is usually a local process starting. */
const RETRY_PAUSE_MS = 200;

/**
 * Retry `fn` until it succeeds or `timeoutMs` passes; the last error is rethrown with `what` in the message.
 * `signal` abandons the wait at once (e.g. the server being awaited has exited): no attempt starts after it fires.
 */
export async function retryUntil<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await sleep(RETRY_PAUSE_MS, undefined, { signal }).catch(() => undefined);
    }
  }
  const why = signal?.aborted ? `abandoned (${String(signal.reason)})` : `not ready after ${timeoutMs} ms`;
  throw new Error(`${what}: ${why}: ${(last as Error)?.message ?? last}`, { cause: last });
}
