/**
 * billing/heartbeat-throttle.ts: sdk-core's heartbeat throttle (activity_heartbeat_manager.rs), worked by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createHeartbeatThrottle,
  heartbeatsReachingServer,
  heartbeatThrottleMs,
} from '../../../billing/heartbeat-throttle';

/** Calls every `periodMs` from `periodMs` while they are before `endMs` (the stage heartbeat schedule). */
const every = (periodMs: number, endMs: number) =>
  Array.from({ length: Math.max(0, Math.ceil(endMs / periodMs) - 1) }, (_, i) => (i + 1) * periodMs);

describe('throttle interval', () => {
  test('0.8 × the heartbeat timeout, at most 60 s, 30 s without a timeout', () => {
    assert.equal(heartbeatThrottleMs(2_000), 1_600);
    assert.equal(heartbeatThrottleMs(120_000), 60_000);
    assert.equal(heartbeatThrottleMs(undefined), 30_000);
    assert.equal(heartbeatThrottleMs(0), 30_000);
  });
});

describe('heartbeats reaching the server', () => {
  test('no call, no heartbeat', () => {
    assert.equal(heartbeatsReachingServer([], 1_600, 5, 'completed'), 0);
  });

  test('the first call is sent at once, even if the attempt ends right after', () => {
    assert.equal(heartbeatsReachingServer([0], 1_600, 1, 'completed'), 1);
  });

  test('calls inside the window are held; a completion drops the held one, a failure sends it', () => {
    // 0 sent (window to 1 600); 500, 1 000, 1 500 held; the attempt ends at 1 584 before the window closes
    assert.equal(heartbeatsReachingServer([0, 500, 1_000, 1_500], 1_600, 1_584, 'completed'), 1);
    assert.equal(heartbeatsReachingServer([0, 500, 1_000, 1_500], 1_600, 1_584, 'failed'), 2);
  });

  test('a held call is sent when the window closes and opens the next window', () => {
    // 0 sent; 500-1 500 held, sent at 1 600 (window to 3 200); the attempt completes at 2 000
    assert.equal(heartbeatsReachingServer([0, 500, 1_000, 1_500], 1_600, 2_000, 'completed'), 2);
  });

  test('a window that closes with nothing held lets the next call through at once', () => {
    // 0 sent (window to 1 600 closes empty); 2 000 sent at once (window to 3 600); 2 100 held, dropped
    assert.equal(heartbeatsReachingServer([0, 2_000, 2_100], 1_600, 2_200, 'completed'), 2);
  });

  test('every 500 ms for 4 900 ms at a 2 s timeout: 3 of 9 calls reach the server (the module example)', () => {
    const calls = every(500, 4_900);
    assert.equal(calls.length, 9);
    // 500 sent; 1 000-2 000 held → sent at 2 100; 2 500-3 500 → sent at 3 700; 4 000, 4 500 held and dropped
    assert.equal(heartbeatsReachingServer(calls, 1_600, 4_900, 'completed'), 3);
  });

  test('the stage schedule sends nothing for an attempt shorter than one period', () => {
    assert.deepEqual(every(500, 3), []);
    assert.equal(heartbeatsReachingServer(every(500, 3), 1_600, 3, 'completed'), 0);
  });
});

describe('the throttle fed as calls happen', () => {
  test('counts what was sent by each moment, and never a held call before its window closes', () => {
    const t = createHeartbeatThrottle(1_600);
    assert.equal(t.sentBy(400), 0);
    t.beat(500);
    assert.equal(t.sentBy(500), 1);
    t.beat(1_000);
    assert.equal(t.sentBy(2_099), 1);
    assert.equal(t.sentBy(2_100), 2);
    assert.equal(t.sentBy(10_000), 2, 'the window after 2 100 closed with nothing held');
    t.beat(10_000);
    assert.equal(t.sentAtEnd(10_001, 'completed'), 3);
  });
});
