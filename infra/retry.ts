/** Waiting for something outside the process (a server starting, a record appearing) by retrying. */

/** Pause between two attempts: short, since what is awaited is usually a local process starting. */
const RETRY_PAUSE_MS = 200;

/** Retry `fn` until it succeeds or `timeoutMs` passes; the last error is rethrown with `what` in the message. */
export async function retryUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    }
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms: ${(last as Error)?.message ?? last}`, { cause: last });
}
