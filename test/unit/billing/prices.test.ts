import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileConfig } from '../../../common/config';
import {
  faasBilledGbSeconds,
  faasBilledMs,
  faasInvocationCostUsd,
  tCipPerSecond,
  vmBilledSeconds,
  vmCostUsd,
  type Prices,
} from '../../../billing/prices';

/** The product defaults: c6i.large 0.085 $/h, 60 s minimum, 1.66667e-5 $/GB-s, 2e-7 $/request, 1 ms granularity. */
const PRICES: Prices = compileConfig({}).prices;

/** Money is compared to 1e-12 relative: the hand values below are exact decimals, the code's are binary floats. */
function assertUsd(actual: number, expected: number, label = ''): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-12 * Math.max(Math.abs(expected), 1e-300),
    `${label} ${actual} != ${expected}`,
  );
}

describe('function billed duration', () => {
  const cases = [
    { label: 'a sub-millisecond run is billed one ms', durationMs: 0.2, initMs: 0, granularityMs: 1, want: 1 },
    { label: 'a whole number of ms stays as is', durationMs: 100.0, initMs: 0, granularityMs: 1, want: 100 },
    { label: 'a hundredth of a ms over rounds up', durationMs: 100.01, initMs: 0, granularityMs: 1, want: 101 },
    { label: 'a zero-length run bills nothing for duration', durationMs: 0, initMs: 0, granularityMs: 1, want: 0 },
    {
      label: 'INIT is added on a cold start (200 + 1000)',
      durationMs: 200,
      initMs: 1000,
      granularityMs: 1,
      want: 1200,
    },
    {
      label: 'a 100 ms granularity rounds 101 ms up to 200',
      durationMs: 101,
      initMs: 0,
      granularityMs: 100,
      want: 200,
    },
    { label: 'a 100 ms granularity keeps 300 ms', durationMs: 300, initMs: 0, granularityMs: 100, want: 300 },
  ];
  for (const c of cases) {
    test(c.label, () => {
      assert.equal(faasBilledMs(c, { faasBillingGranularityMs: c.granularityMs }), c.want);
    });
  }
});

describe('function invocation cost', () => {
  test('a warm 512 MB run of 100.01 ms costs the request fee plus 101 billed ms', () => {
    // 0.5 GB × 0.101 s = 0.0505 GB-s; × 1.66667e-5 = 8.4166835e-7; + 2e-7 = 1.04166835e-6 $.
    const inv = { memoryMb: 512, durationMs: 100.01, initMs: 0 };
    assertUsd(faasBilledGbSeconds(inv, PRICES), 0.0505);
    assertUsd(faasInvocationCostUsd(inv, PRICES), 1.04166835e-6);
  });

  test('a cold 1024 MB run bills INIT with the handler', () => {
    // (200 + 1000) ms = 1.2 s × 1 GB = 1.2 GB-s; × 1.66667e-5 = 2.000004e-5; + 2e-7 = 2.020004e-5 $.
    assertUsd(faasInvocationCostUsd({ memoryMb: 1024, durationMs: 200, initMs: 1000 }, PRICES), 2.020004e-5);
  });

  test('a cold start costs exactly the INIT time more than the same warm run', () => {
    // 250 ms INIT at 512 MB: 0.5 × 0.25 = 0.125 GB-s × 1.66667e-5 = 2.0833375e-6 $.
    const warm = faasInvocationCostUsd({ memoryMb: 512, durationMs: 80, initMs: 0 }, PRICES);
    const cold = faasInvocationCostUsd({ memoryMb: 512, durationMs: 80, initMs: 250 }, PRICES);
    assertUsd(cold - warm, 2.0833375e-6);
  });

  test('the per-request fee is charged even when no duration is billed', () => {
    // 0 ms → 0 GB-s; only the 2e-7 $ request fee.
    assertUsd(faasInvocationCostUsd({ memoryMb: 128, durationMs: 0, initMs: 0 }, PRICES), 2e-7);
    // With a fee of 0 the same run is free.
    assert.equal(
      faasInvocationCostUsd({ memoryMb: 128, durationMs: 0, initMs: 0 }, { ...PRICES, faasPerRequestUsd: 0 }),
      0,
    );
  });

  describe('memory sizes scale the GB-seconds linearly (1 s runs)', () => {
    const cases = [
      { memoryMb: 128, gbSeconds: 0.125, usd: 2.2833375e-6 }, // 2.0833375e-6 + 2e-7
      { memoryMb: 512, gbSeconds: 0.5, usd: 8.53335e-6 }, // 8.33335e-6 + 2e-7
      { memoryMb: 1024, gbSeconds: 1, usd: 1.68667e-5 }, // 1.66667e-5 + 2e-7
      { memoryMb: 1536, gbSeconds: 1.5, usd: 2.520005e-5 }, // 2.500005e-5 + 2e-7
      { memoryMb: 10_240, gbSeconds: 10, usd: 1.66867e-4 }, // 1.66667e-4 + 2e-7
    ];
    for (const c of cases) {
      test(`${c.memoryMb} MB bills ${c.gbSeconds} GB-s`, () => {
        const inv = { memoryMb: c.memoryMb, durationMs: 1000, initMs: 0 };
        assertUsd(faasBilledGbSeconds(inv, PRICES), c.gbSeconds);
        assertUsd(faasInvocationCostUsd(inv, PRICES), c.usd);
      });
    }
  });
});

describe('VM billing', () => {
  const cases = [
    // 10 s wall × 1 = 10 s cloud < 60 s minimum → 60 s.
    { label: 'a VM living 10 s at timeScale 1 is billed the 60 s minimum', wallMs: 10_000, timeScale: 1, want: 60 },
    // 10 s wall × 10 = 100 s cloud > 60 s → 100 s.
    {
      label: 'a VM living 10 s wall at timeScale 10 is billed 100 cloud seconds',
      wallMs: 10_000,
      timeScale: 10,
      want: 100,
    },
    // 100.2 s → 101 s: per second, rounded up.
    { label: 'a part second is billed as a whole second', wallMs: 100_200, timeScale: 1, want: 101 },
    // 100 s × 1.1 = 110.00000000000001 in floats; it is 110 s, not 111.
    { label: 'float noise does not bill an extra second', wallMs: 100_000, timeScale: 1.1, want: 110 },
    // One hour exactly.
    { label: 'an hour is 3600 s', wallMs: 3_600_000, timeScale: 1, want: 3600 },
  ];
  for (const c of cases) {
    test(c.label, () => {
      const life = { launchedAt: 1_000, terminatedAt: 1_000 + c.wallMs, timeScale: c.timeScale };
      assert.equal(vmBilledSeconds(life, PRICES), c.want);
      // c6i.large: 0.085 $/h / 3600 × billed seconds.
      assertUsd(vmCostUsd({ ...life, instanceType: 'c6i.large' }, PRICES), (0.085 / 3600) * c.want);
    });
  }

  test('the 60 s minimum bill is 0.00141667 $ and 100 s is 0.00236111 $ for c6i.large', () => {
    // 0.085 × 60 / 3600 = 0.0014166666…; 0.085 × 100 / 3600 = 0.0023611111…
    assertUsd(
      vmCostUsd({ launchedAt: 0, terminatedAt: 10_000, timeScale: 1, instanceType: 'c6i.large' }, PRICES),
      0.085 / 60,
    );
    assertUsd(
      vmCostUsd({ launchedAt: 0, terminatedAt: 10_000, timeScale: 10, instanceType: 'c6i.large' }, PRICES),
      0.085 / 36,
    );
  });

  test('boot time is billed: the bill runs from the launch request, not from readiness', () => {
    // Launched at 0, ready at 100 s (boot), terminated at 400 s → 400 s billed, not the 300 s it served.
    const launchedAt = 0;
    const readyAt = 100_000;
    const terminatedAt = 400_000;
    assert.equal(vmBilledSeconds({ launchedAt, terminatedAt, timeScale: 1 }, PRICES), 400);
    assert.notEqual(vmBilledSeconds({ launchedAt: readyAt, terminatedAt, timeScale: 1 }, PRICES), 400);
    // 0.085 × 400 / 3600 = 0.0094444… $.
    assertUsd(vmCostUsd({ launchedAt, terminatedAt, timeScale: 1, instanceType: 'c6i.large' }, PRICES), 0.085 / 9);
  });

  test('a configured instance type is priced from the catalog', () => {
    const prices = compileConfig({ prices: { vmPerHourUsd: { 'm4.large': 0.1 } } }).prices;
    // 1 h of m4.large = 0.10 $.
    assertUsd(
      vmCostUsd({ launchedAt: 0, terminatedAt: 3_600_000, timeScale: 1, instanceType: 'm4.large' }, prices),
      0.1,
    );
  });

  test('an unknown instance type is an error naming it and the catalog', () => {
    const prices = compileConfig({ prices: { vmPerHourUsd: { 'm4.large': 0.1 } } }).prices;
    assert.throws(() => vmCostUsd({ launchedAt: 0, terminatedAt: 1, timeScale: 1, instanceType: 'm9.huge' }, prices), {
      name: 'UnknownInstanceTypeError',
      message: 'no price for VM instance type "m9.huge": prices.vmPerHourUsd lists "c6i.large", "m4.large"',
    });
  });

  test('an inherited property name is not a price', () => {
    assert.throws(() => vmCostUsd({ launchedAt: 0, terminatedAt: 1, timeScale: 1, instanceType: 'toString' }, PRICES), {
      name: 'UnknownInstanceTypeError',
    });
  });
});

describe('T-CIP', () => {
  test("method.md's check: m4.large at 0.10 $/h against 1 s, 512 MB invocations is about 3.25 req/s", () => {
    // C_F = 2e-7 + 1.66667e-5 × 0.5 × 1 = 8.53335e-6 $; P_VM = 0.10 / 3600 = 2.7777…e-5 $/s;
    // T_CIP = 2.7777…e-5 / 8.53335e-6 = 1 / 0.3072006 = 3.2552019755… req/s.
    const cost = faasInvocationCostUsd({ memoryMb: 512, durationMs: 1000, initMs: 0 }, PRICES);
    assertUsd(cost, 8.53335e-6);
    const t = tCipPerSecond(0.1, cost);
    assert.ok(Math.abs(t - 3.2552019755) < 1e-9, String(t));
    assert.ok(Math.abs(t - 3.25) < 0.01);
  });

  test('a costlier invocation lowers the break-even load in proportion', () => {
    // Twice the cost per invocation halves T-CIP: 0.36 $/h = 1e-4 $/s; 1e-4 / 1e-5 = 10; 1e-4 / 2e-5 = 5.
    assert.ok(Math.abs(tCipPerSecond(0.36, 1e-5) - 10) < 1e-12);
    assert.ok(Math.abs(tCipPerSecond(0.36, 2e-5) - 5) < 1e-12);
  });
});
