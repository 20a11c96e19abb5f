/** Polling helpers for integration tests: wait for a condition on a real stack, naming it when it never comes. */

/** Default pause between two probes, ms: short next to the seconds a stack takes, long enough not to spin. */
export const DEFAULT_POLL_INTERVAL_MS = 50;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call `probe` until it returns something other than `undefined`, and return that; reject with an error naming
 * `what` (and the last probe error, if any) after `timeoutMs`.
 */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | Promise<T | undefined>,
  intervalMs = DEFAULT_POLL_INTERVAL_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError === undefined ? '' : ` (last probe failed: ${(lastError as Error).message})`;
      throw new Error(`${what}: not within ${timeoutMs} ms${detail}`);
    }
    await sleep(intervalMs);
  }
}
