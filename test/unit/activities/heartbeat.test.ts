/**
 * activities/heartbeat.ts in a mock activity context, on mocked timers: which heartbeats a stage attempt calls,
 * and how many of them it reports as reaching the server (sdk-core's throttle, billing/heartbeat-throttle.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { heartbeatPeriodMs, withHeartbeats, type HeartbeatCount } from '../../../activities/heartbeat';

/** A mock activity with `heartbeatTimeoutMs`, recording the ms (mocked clock) of every heartbeat call. */
function activity(heartbeatTimeoutMs: number | undefined) {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs }, { logger: new DefaultLogger('ERROR') });
  const calls: number[] = [];
  env.on('heartbeat', () => calls.push(Date.now()));
  return { env, calls };
}

/**
 * Run `withHeartbeats` around work that lasts `durationMs` of mocked time (calls at t in (0, durationMs) fire
 * before it ends), and return what the work read as `reached()` at its end.
 */
async function runFor(env: MockActivityEnvironment, durationMs: number): Promise<number> {
  let begin!: () => void;
  const begun = new Promise<void>((resolve) => (begin = resolve));
  const result: Promise<number> = env.run(() =>
    withHeartbeats(async (count: HeartbeatCount) => {
      begin();
      await new Promise<void>((resolve) => setTimeout(resolve, durationMs));
      return count.reached();
    }),
  );
  await begun;
  advance(durationMs);
  return result;
}

/**
 * Move the mocked clock on by `ms` in 10 ms steps: within one `tick` every timer sees the clock at the tick's end,
 * so a heartbeat call would be timed wrong.
 */
function advance(ms: number): void {
  for (let left = ms; left > 0; left -= 10) mock.timers.tick(Math.min(10, left));
}

describe('stage heartbeats', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  test('the period is a quarter of the timeout, at least 10 ms', () => {
    assert.equal(heartbeatPeriodMs(2_000), 500);
    assert.equal(heartbeatPeriodMs(20), 10);
  });

  test('no heartbeat timeout: no heartbeat, 0 reported', async () => {
    const { env, calls } = activity(undefined);
    assert.equal(await runFor(env, 5_000), 0);
    assert.deepEqual(calls, []);
  });

  test('a stage far shorter than the timeout sends no heartbeat, not even at its start', async () => {
    const { env, calls } = activity(2_000);
    assert.equal(await runFor(env, 1), 0);
    assert.deepEqual(calls, []);
  });

  test('an attempt just past timeout / 4 heartbeats once, and that one reaches the server', async () => {
    const { env, calls } = activity(2_000);
    assert.equal(await runFor(env, 600), 1);
    assert.deepEqual(calls, [500]);
  });

  test('a long attempt heartbeats every timeout / 4; sdk-core sends 3 of its 9 calls', async () => {
    const { env, calls } = activity(2_000);
    // 500 sent; 1 000-2 000 held → sent at 2 100; 2 500-3 500 → 3 700; 4 000, 4 500 held, dropped at completion
    assert.equal(await runFor(env, 4_900), 3);
    assert.deepEqual(calls, [500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500, 4_000, 4_500]);
  });

  test('heartbeats stop when the work ends', async () => {
    const { env, calls } = activity(2_000);
    await runFor(env, 600);
    advance(5_000);
    assert.deepEqual(calls, [500]);
  });
});
