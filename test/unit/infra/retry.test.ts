import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retryUntil } from '../../../infra/retry';

describe('retryUntil', () => {
  test('returns the first success, after failures', async () => {
    let calls = 0;
    const value = await retryUntil('thing', 10_000, async () => {
      calls += 1;
      if (calls < 3) throw new Error(`not yet ${calls}`);
      return 'up';
    });
    assert.equal(value, 'up');
    assert.equal(calls, 3);
  });

  test('gives up after the timeout with the last error and what was awaited', async () => {
    await assert.rejects(
      retryUntil('the server', 300, async () => {
        throw new Error('connection refused');
      }),
      /^Error: the server: not ready after 300 ms: connection refused$/,
    );
  });

  test('an abort stops the retries at once: no attempt starts after it', async () => {
    const abandon = new AbortController();
    let calls = 0;
    const waiting = retryUntil(
      'Temporal at 127.0.0.1:1',
      60_000,
      async () => {
        calls += 1;
        throw new Error('connection refused');
      },
      abandon.signal,
    );
    await new Promise((r) => setTimeout(r, 50)); // inside the first pause
    abandon.abort('the server process exited');
    const callsAtAbort = calls;
    await assert.rejects(waiting, /abandoned \(the server process exited\): connection refused/);
    assert.equal(callsAtAbort, 1);
    assert.equal(calls, callsAtAbort, 'an attempt ran after the abort');
  });
});
