/**
 * Which activity heartbeats reach the Temporal server, and so are billed as actions. An activity's `heartbeat()`
 * calls are not each sent: sdk-core, under every TypeScript worker, throttles them per attempt. Source:
 * temporalio/sdk-core, `core/src/worker/activities/activity_heartbeat_manager.rs` (now under
 * `crates/sdk-core/src/worker/activities/`) and `record_heartbeat` in `activities.rs`:
 * - the throttle interval is `min(0.8 × heartbeatTimeout, maxHeartbeatThrottleInterval)` (60 s by default in
 *   the TypeScript worker), or `defaultHeartbeatThrottleInterval` (30 s) without a heartbeat timeout;
 * - the first heartbeat of an attempt is sent at once and opens a window of that interval;
 * - heartbeats inside the window are held back, only the latest kept; when the window closes, a held heartbeat is
 *   sent and opens the next window, and without one the next heartbeat is again sent at once;
 * - when the attempt ends, a held heartbeat is dropped if the attempt completed (`evict` with `should_flush` false
 *   for a completion) and sent if it failed.
 * The TypeScript layer passes every call straight on (its own queue only holds one while core is handed the
 * previous). The model takes a window to close `interval` after its send was requested, which holds while the
 * heartbeat RPC returns within the interval. Pure: times are ms from the attempt's start.
 */

/** sdk-core's throttle interval is this share of the heartbeat timeout. */
export const SDK_HEARTBEAT_THROTTLE_SHARE = 0.8;

/** The TypeScript worker's `maxHeartbeatThrottleInterval` default (60 s), the interval's ceiling. */
export const SDK_MAX_HEARTBEAT_THROTTLE_MS = 60_000;

/** The TypeScript worker's `defaultHeartbeatThrottleInterval` (30 s): the interval without a heartbeat timeout. */
export const SDK_DEFAULT_HEARTBEAT_THROTTLE_MS = 30_000;

/**
 * sdk-core's throttle interval for an attempt with `heartbeatTimeoutMs` (unset or 0: no timeout), ms.
 * Examples: 2 000 ms → 1 600 ms; 120 s → 60 s (the ceiling); none → 30 s.
 */
export function heartbeatThrottleMs(heartbeatTimeoutMs: number | undefined): number {
  if (!heartbeatTimeoutMs) return SDK_DEFAULT_HEARTBEAT_THROTTLE_MS;
  return Math.min(heartbeatTimeoutMs * SDK_HEARTBEAT_THROTTLE_SHARE, SDK_MAX_HEARTBEAT_THROTTLE_MS);
}

/** How an attempt ended, as far as held heartbeats go: a completion drops them, a failure flushes them. */
export type AttemptEnding = 'completed' | 'failed';

/** sdk-core's throttle of one attempt, fed with its `heartbeat()` calls as they happen. */
export interface HeartbeatThrottle {
  /** A `heartbeat()` call at `atMs` (calls come in time order). */
  beat(atMs: number): void;
  /** Heartbeats sent to the server up to `atMs` (no earlier than the last call). */
  sentBy(atMs: number): number;
  /** Heartbeats sent in all when the attempt ends at `atMs` with `ending`. */
  sentAtEnd(atMs: number, ending: AttemptEnding): number;
}

/** A fresh throttle with `intervalMs` (see `heartbeatThrottleMs`). */
export function createHeartbeatThrottle(intervalMs: number): HeartbeatThrottle {
  let sent = 0;
  /** When the open window closes; undefined when none is open (the next call is sent at once). */
  let windowEndsAt: number | undefined;
  /** A call is held back, waiting for the window to close. */
  let held = false;

  /** Close every window that has closed by `atMs`, sending what each one held. */
  const advance = (atMs: number) => {
    while (windowEndsAt !== undefined && windowEndsAt <= atMs) {
      if (held) {
        sent += 1;
        held = false;
        windowEndsAt += intervalMs;
      } else {
        windowEndsAt = undefined;
      }
    }
  };

  return {
    beat(atMs) {
      advance(atMs);
      if (windowEndsAt === undefined) {
        sent += 1;
        windowEndsAt = atMs + intervalMs;
      } else {
        held = true;
      }
    },
    sentBy(atMs) {
      advance(atMs);
      return sent;
    },
    sentAtEnd(atMs, ending) {
      advance(atMs);
      return sent + (held && ending === 'failed' ? 1 : 0);
    },
  };
}

/**
 * Heartbeats of one attempt that reach the server: calls at `callTimesMs` (ascending), throttled by `intervalMs`,
 * the attempt ending at `endMs` with `ending`.
 * Example, a 2 s heartbeat timeout (interval 1 600 ms), calls every 500 ms of a 4 900 ms attempt that completes:
 * 500 is sent; 1 000-2 000 are held, the last sent at 2 100; 2 500-3 500 held, sent at 3 700; 4 000 and 4 500 held
 * and dropped at the completion → 3 of 9 calls.
 */
export function heartbeatsReachingServer(
  callTimesMs: readonly number[],
  intervalMs: number,
  endMs: number,
  ending: AttemptEnding,
): number {
  const throttle = createHeartbeatThrottle(intervalMs);
  for (const t of callTimesMs) throttle.beat(t);
  return throttle.sentAtEnd(endMs, ending);
}
