/**
 * Heartbeats for stage activities. Stage attempts carry a short heartbeat timeout, so a task the server handed
 * to a worker that then died or shut down (a crashed VM, a VM drained just as it was polling) is retried after
 * that timeout rather than after the whole start-to-close timeout. While an attempt runs, it heartbeats well
 * within the timeout, so slow work (a function cold start, a large stage) is never mistaken for a lost task.
 *
 * No heartbeat at the attempt's start: the server measures the heartbeat timeout from the later of the attempt's
 * start and its last heartbeat (temporalio/temporal, service/history/workflow/timer_sequence.go,
 * `getActivityHeartbeatTimeout`), so a lost worker is detected just the same, and a stage that ends well within the
 * timeout (a stage takes milliseconds against a 2 s timeout) sends none. Every heartbeat that reaches the server
 * is a billed Temporal action (billing/actions.ts); the first one used to cost one action per stage attempt.
 */
import { Context } from '@temporalio/activity';
import { createHeartbeatThrottle, heartbeatThrottleMs } from '../billing/heartbeat-throttle';

/** Heartbeats per heartbeat timeout: 4 leaves room for a late event loop tick or a slow heartbeat RPC. */
export const HEARTBEATS_PER_TIMEOUT = 4;

/** Shortest time between heartbeat calls, ms, however short the timeout. */
export const MIN_HEARTBEAT_PERIOD_MS = 10;

/** What the work inside `withHeartbeats` can ask about its attempt's heartbeats. */
export interface HeartbeatCount {
  /**
   * Heartbeats of this attempt that reached the server so far: the calls as sdk-core throttles them
   * (billing/heartbeat-throttle.ts), not the calls themselves. Read it last thing before returning: a held call
   * sent after the read (a window closing in the microseconds before the completion) is not in it.
   */
  reached(): number;
}

/** Period of the heartbeat calls for `heartbeatTimeoutMs`, ms: timeout / 4, at least 10 ms. */
export function heartbeatPeriodMs(heartbeatTimeoutMs: number): number {
  return Math.max(MIN_HEARTBEAT_PERIOD_MS, heartbeatTimeoutMs / HEARTBEATS_PER_TIMEOUT);
}

/**
 * Run `work` inside the current activity, heartbeating every timeout / 4 from its start while it runs (the first
 * call one period in; no-op without a heartbeat timeout). `work` is handed the count of heartbeats that reached
 * the server, for the stage result.
 */
export async function withHeartbeats<T>(work: (heartbeats: HeartbeatCount) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  if (!timeoutMs) return work({ reached: () => 0 });
  const startedAt = Date.now();
  const throttle = createHeartbeatThrottle(heartbeatThrottleMs(timeoutMs));
  /** Set when the work is over: later windows send nothing (a completion drops what is held). */
  let endedAt: number | undefined;
  const timer = setInterval(() => {
    ctx.heartbeat();
    throttle.beat(Date.now() - startedAt);
  }, heartbeatPeriodMs(timeoutMs));
  try {
    return await work({ reached: () => throttle.sentBy((endedAt ?? Date.now()) - startedAt) });
  } finally {
    clearInterval(timer);
    endedAt = Date.now();
  }
}
