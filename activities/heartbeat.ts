/**
 * Heartbeats for stage activities. Stage attempts carry a short heartbeat timeout, so a task the server handed
 * to a worker that then died or shut down (a crashed VM, a VM drained just as it was polling) is retried after
 * that timeout rather than after the whole start-to-close timeout. While an attempt runs, it heartbeats well
 * within the timeout, so slow work (a function cold start, a large stage) is never mistaken for a lost task.
 */
import { Context } from '@temporalio/activity';

/** Heartbeats per heartbeat timeout: 4 leaves room for a late event loop tick or a slow heartbeat RPC. */
export const HEARTBEATS_PER_TIMEOUT = 4;

/** Run `work` inside the current activity, heartbeating every timeout / 4 while it runs (no-op without a timeout). */
export async function withHeartbeats<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  if (!timeoutMs) return work();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), Math.max(10, timeoutMs / HEARTBEATS_PER_TIMEOUT));
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
