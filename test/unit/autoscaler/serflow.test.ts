/**
 * autoscaler/policies/serflow.ts on virtual time. Fixture (autoscaler-fixture.ts): mu = 10, 5, 5 q/s per VM,
 * T-CIP = 2.5 q/s on every stage, overflowAfterMs = 200, 400, 400 ms; windows of 1 s, so arrivals = q/s.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledAutoscalerConfig } from '../../../autoscaler/config';
import { serflowPolicy, vmsForShare, type SerflowState } from '../../../autoscaler/policies/serflow';
import type { Decision } from '../../../autoscaler/types';
import { SEC, compile as compileFixture, obs, runTimeline, type Step } from '../../helpers/autoscaler-fixture';

/**
 * Per-stage sizing by method.md's EWMA rule (`sizing: 'ewma'`, kept selectable; the default forecast rule is tested
 * in forecast.test.ts) is tested here with co-location off (colocation.test.ts tests the shared pool) and with one
 * deviation of headroom (serflowZ 1), which the hand-computed shares below include; the default (0) is tested on
 * its own at the end.
 */
const compile = (input: Record<string, unknown> = {}) =>
  compileFixture({ sizing: 'ewma', colocate: false, serflowZ: 1, ...input });

function timeline(config: CompiledAutoscalerConfig, steps: Step[]): { decision?: Decision; state: SerflowState } {
  return runTimeline(serflowPolicy, config, steps);
}

describe('SERFLOW sizing: floor(share / mu) VMs, one more only for a remainder >= T-CIP', () => {
  const cases = [
    { share: 23, mu: 10, tCip: 2.5, want: 3, why: '2 whole VMs, remainder 3 >= 2.5 → one more' },
    { share: 22, mu: 10, tCip: 2.5, want: 2, why: '2 whole VMs, remainder 2 < 2.5 → functions' },
    { share: 2, mu: 10, tCip: 2.5, want: 0, why: 'share 2 < T-CIP 2.5 → FaaS-only' },
    { share: 2.5, mu: 10, tCip: 2.5, want: 1, why: 'share exactly T-CIP → one VM' },
    { share: 10, mu: 10, tCip: 2.5, want: 1, why: 'exactly one VM, no remainder' },
    { share: 30, mu: 10, tCip: 0, want: 3, why: 'free VMs (T-CIP 0) still need a remainder to add one' },
    { share: 50, mu: 10, tCip: 12, want: 0, why: 'T-CIP 12 > mu 10: a VM never pays off' },
    { share: 0.3 * 10 * 10, mu: 10, tCip: 2.5, want: 3, why: 'float noise (30.000000000000004) is no remainder' },
  ];
  for (const c of cases) {
    test(`share ${c.share}, mu ${c.mu}, T-CIP ${c.tCip} → ${c.want} VMs (${c.why})`, () => {
      assert.equal(vmsForShare(c.share, c.mu, c.tCip).vms, c.want);
    });
  }
});

describe('SERFLOW decisions', () => {
  test('the first tick sizes every stage from its own arrivals; the sparse stage goes FaaS-only', () => {
    timeline(compile(), [
      {
        at: 0,
        arrivals: [23, 12, 2],
        // first sample: share = x. 23/10 → 2 + 1 (rem 3 >= 2.5); 12/5 → 2 (rem 2 < 2.5); 2 < 2.5 → 0.
        // Nothing ready yet, so everything goes serverless for now; overflow only where there are VMs.
        want: { desiredVms: [3, 2, 0], vmShare: [0, 0, 0], overflowAfterMs: [200, 400, undefined] },
      },
    ]);
  });

  test('no arrival ever is no data, not a decision', () => {
    const c = compile();
    const r = serflowPolicy.decide(obs(0, [0, 0, 0]), c, serflowPolicy.initialState(c), 0);
    assert.deepEqual(r.decision, { valid: false, stages: [], reason: 'no-data' });
    assert.equal(r.state.startedAt, 0);
  });

  test('a zero-length first window (a restart backlog) is not taken as a rate', () => {
    const c = compile();
    const r = serflowPolicy.decide(obs(0, [500, 0, 0], [], 0), c, serflowPolicy.initialState(c), 0);
    assert.equal(r.decision.reason, 'no-data');
  });

  test('a burst scales up at once; a smaller rise waits for the next re-size (every U = 300 s)', () => {
    timeline(compile({ scaleDownDelayMs: 60_000 }), [
      // mean 10, dev 0 → share 10 → 1 VM (rem 0)
      { at: 0, arrivals: [10, 0, 0], want: { desiredVms: [1, 0, 0] } },
      // 40 > band 10 + 1·0 → burst. dev = 0.2·|10 − 40| = 6, mean = 8 + 8 = 16 → share 22 → 2 (rem 2) → up now
      { at: 1 * SEC, arrivals: [40, 0, 0], want: { desiredVms: [2, 0, 0] } },
      // 21 < band 16 + 6 = 22 → no burst. dev = 4.8 + 1 = 5.8, mean = 12.8 + 4.2 = 17 → share 22.8 → 3
      // (rem 2.8 >= 2.5) but no re-size is due → stays 2
      { at: 2 * SEC, arrivals: [21, 0, 0], want: { desiredVms: [2, 0, 0] } },
      // 22 < band 22.8. dev = 4.64 + 1 = 5.64, mean = 13.6 + 4.4 = 18 → share 23.64 → 3; U has passed → 3
      { at: 300 * SEC, arrivals: [22, 0, 0], want: { desiredVms: [3, 0, 0] } },
    ]);
  });

  // alpha = mu = 1 makes the estimator easy to follow: mean = the latest rate, dev = its jump from the previous.
  const lastSample = { alpha: 1, mu: 1, scaleDownDelayMs: 60_000 };

  test('a lower size is applied only after it has been wanted for scaleDownDelayMs (60 s)', () => {
    timeline(compile(lastSample), [
      { at: 0, arrivals: [30, 0, 0], want: { desiredVms: [3, 0, 0] } }, // 30 / 10 = 3
      // dev |30 − 10| = 20, mean 10 → share 30 → still 3
      { at: 1 * SEC, arrivals: [10, 0, 0], pools: [[3, 0]], want: { desiredVms: [3, 0, 0] } },
      // dev 0, mean 10 → share 10 → 1 wanted from 2 s on
      { at: 2 * SEC, arrivals: [10, 0, 0], pools: [[3, 0]], want: { desiredVms: [3, 0, 0] } },
      { at: 31 * SEC, arrivals: [10, 0, 0], pools: [[3, 0]], want: { desiredVms: [3, 0, 0] } },
      { at: 61 * SEC, arrivals: [10, 0, 0], pools: [[3, 0]], want: { desiredVms: [3, 0, 0] } }, // 59 s of wanting 1
      // 60 s of wanting 1 → 1. Routing stops to the 2 VMs going away: usable min(3, 1) · 10 / 10 → vmShare 1
      { at: 62 * SEC, arrivals: [10, 0, 0], pools: [[3, 0]], want: { desiredVms: [1, 0, 0], vmShare: [1, 0, 0] } },
    ]);
  });

  test('wanting the current size again restarts the delay, and the pool goes to the highest size wanted meanwhile', () => {
    timeline(compile(lastSample), [
      { at: 0, arrivals: [30, 0, 0], want: { desiredVms: [3, 0, 0] } },
      { at: 1 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } }, // share 10 + 20 = 30 → 3
      { at: 2 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } }, // share 10 → wants 1 from 2 s
      // 20 > band 10 → burst; dev 10, mean 20 → share 30 → 3 = current: the delay restarts
      { at: 31 * SEC, arrivals: [20, 0, 0], want: { desiredVms: [3, 0, 0] } },
      // dev 10, mean 10 → share 20 → wants 2 from 32 s
      { at: 32 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } },
      // share 10 → wants 1; only 30 s since 32 s
      { at: 62 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [3, 0, 0] } },
      // 60 s since 32 s → down to max(2, 1, 1) = 2, not 1
      { at: 92 * SEC, arrivals: [10, 0, 0], want: { desiredVms: [2, 0, 0] } },
    ]);
  });

  test('a restarted controller (fresh state) keeps the current pools for scaleDownDelayMs', () => {
    timeline(compile({ scaleDownDelayMs: 60_000 }), [
      // 10 q/s wants 1 VM, but the pool has 5 and the history is lost: hold 5
      { at: 0, arrivals: [10, 0, 0], pools: [[5, 0]], want: { desiredVms: [5, 0, 0] } },
      { at: 30 * SEC, arrivals: [10, 0, 0], pools: [[5, 0]], want: { desiredVms: [5, 0, 0] } },
      { at: 59.999 * SEC, arrivals: [10, 0, 0], pools: [[5, 0]], want: { desiredVms: [5, 0, 0] } },
      // one delay after the start: 1 VM (mean 10, dev 0 → 10 / 10)
      { at: 60 * SEC, arrivals: [10, 0, 0], pools: [[5, 0]], want: { desiredVms: [1, 0, 0] } },
    ]);
  });

  test('during the restart guard a pool grown by someone else is not cut either', () => {
    timeline(compile({ scaleDownDelayMs: 60_000 }), [
      { at: 0, arrivals: [10, 0, 0], pools: [[1, 0]], want: { desiredVms: [1, 0, 0] } },
      { at: 10 * SEC, arrivals: [10, 0, 0], pools: [[4, 0]], want: { desiredVms: [4, 0, 0] } },
    ]);
  });

  test('while VMs boot, functions take what the ready ones cannot (cold-start hiding)', () => {
    timeline(compile(), [
      // pools 1 ready + 2 booting, 0 + 2, none: wanted 3, 2, 0 as on the first tick above.
      // stage 1: 1 ready · 10 / 23 = 10/23; stage 2: nothing ready → 0; stage 3: no VMs → 0
      {
        at: 0,
        arrivals: [23, 12, 2],
        pools: [
          [1, 2],
          [0, 2],
        ],
        want: { desiredVms: [3, 2, 0], vmShare: [10 / 23, 0, 0] },
      },
      // all up: stage 1 covers 30 >= 23 → 1; stage 2 covers 2 · 5 = 10 of 12 → 5/6 (the 2 q/s below T-CIP go
      // serverless)
      {
        at: 100 * SEC,
        arrivals: [23, 12, 2],
        pools: [
          [3, 0],
          [2, 0],
        ],
        want: { desiredVms: [3, 2, 0], vmShare: [1, 10 / 12, 0] },
      },
    ]);
  });

  test('the true EW std option sizes from its own deviation', () => {
    // x = 10 then 20 with 'ewstd': variance 0.8·(0 + 0.2·100) = 16 → std 4, mean 12 → share 16 → 1 + 1 (rem 6)
    timeline(compile({ deviation: 'ewstd' }), [
      { at: 0, arrivals: [10, 0, 0], want: { desiredVms: [1, 0, 0] } },
      { at: 1 * SEC, arrivals: [20, 0, 0], want: { desiredVms: [2, 0, 0] } },
    ]);
  });

  test('the state is plain data (survives JSON)', () => {
    const c = compile();
    const { state } = timeline(c, [{ at: 0, arrivals: [23, 12, 2], want: {} }]);
    assert.deepEqual(JSON.parse(JSON.stringify(state)), state);
  });
});

describe('SERFLOW default headroom', () => {
  test('by default VMs are sized for the mean (serflowZ 0): the deviation goes to functions', () => {
    const c = compileFixture({ sizing: 'ewma', colocate: false });
    assert.equal(c.serflowZ, 0);
    let state = serflowPolicy.initialState(c);
    // stage 1: 20 then 30 q/s → mean 22 (alpha 0.2), dev 2 (0.2 · |20 − 30|); with z = 1 the share would be 24
    // (2 VMs + 1 for a remainder 4 >= T-CIP 2.5); with z = 0 it is 22 → 2 VMs (remainder 2 < 2.5).
    state = serflowPolicy.decide(obs(0, [20, 0, 0]), c, state, 0).state;
    const r = serflowPolicy.decide(obs(SEC, [30, 0, 0]), c, state, SEC);
    assert.equal(r.decision.stages[0]?.desiredVms, 2, r.decision.stages[0]?.reason);
    assert.match(r.decision.stages[0]?.reason ?? '', /share 22 q\/s \(mean 22 \+ 0·dev 2\)/);
  });
});
