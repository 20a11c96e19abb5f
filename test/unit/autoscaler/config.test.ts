/**
 * autoscaler/config.ts: defaults, the per-stage derivations (hand-computed from the fixture, see
 * autoscaler-fixture.ts), and one test per validation rule with its field-named message.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileConfig } from '../../../common/config';
import { LIBRA_IC2E_PRESET, compileAutoscalerConfig } from '../../../autoscaler/config';
import type { StageProfile } from '../../../autoscaler/types';
import { GLOBALS, PROFILE, compile, near } from '../../helpers/autoscaler-fixture';

describe('defaults', () => {
  const c = compileAutoscalerConfig(undefined, GLOBALS, PROFILE);

  // Written out by hand from method.md (LIBRA's parameters; the SERFLOW controller) and the README, not compared
  // with the module's DEFAULT_* constants (which would compare the module with itself).
  test('every scalar default, as documented', () => {
    assert.equal(c.policy, 'serflow');
    assert.equal(c.tickMs, 1_000, 'one epoch = 1 s');
    assert.equal(c.updateIntervalMs, 300_000, 'U = 300 s');
    assert.equal(c.alpha, 0.2);
    assert.equal(c.mu, 0.2);
    assert.equal(c.z, 1, 'vm_share = int(mean + 1 · dev)');
    assert.equal(c.burstZ, 1, 'burstZ defaults to z');
    assert.equal(c.deviation, 'libra', 'LIBRA semantics by default (method.md, online estimation)');
    assert.equal(c.rho, 0.8);
    assert.equal(c.scaleDownDelayMs, 300_000, 'equal to U');
    assert.equal(c.sloMs, 1_000);
    // LIBRA's "AUTO": > 70 % adds 10 VMs, < 30 % removes 10, after a 120 s grace
    assert.deepEqual(c.vmAuto, {
      upUtilisation: 0.7,
      downUtilisation: 0.3,
      stepVms: 10,
      graceMs: 120_000,
      windowMs: 60_000,
      estimator: 'window',
    });
    assert.equal(c.colocate, true);
    assert.equal(c.peakRate, undefined);
    assert.equal(c.bootDelayMs, 100_000);
  });

  test('every stage gets minVms 0 and maxVms 8 by default', () => {
    for (const s of c.stages) assert.deepEqual([s.minVms, s.maxVms], [0, 8]);
  });

  test('the defaults are LIBRA’s: alpha = mu = 0.2, z = 1, rho = 0.8, U = 300 s, 1 s epochs', () => {
    assert.deepEqual([c.alpha, c.mu, c.z, c.rho, c.updateIntervalMs, c.tickMs], [0.2, 0.2, 1, 0.8, 300_000, 1000]);
  });
});

describe('per-stage derivations', () => {
  const c = compile();

  test('mu is vmSlots × 1000 / p95: 2 × 1000 / 200 = 10, 2 × 1000 / 400 = 5, 5', () => {
    assert.deepEqual(
      c.stages.map((s) => s.muPerVm),
      [10, 5, 5],
    );
  });

  test('a function call costs 1e-4 $/GB-s × 1 GB × 0.4 s = 4e-5 $, and T-CIP = 1e-4 $/s / 4e-5 $ = 2.5 q/s', () => {
    for (const s of c.stages) {
      assert.ok(near(s.faasCostPerInvocationUsd, 4e-5), String(s.faasCostPerInvocationUsd));
      assert.ok(near(s.tCip, 2.5), String(s.tCip));
      assert.ok(near(s.tCipWall, 2.5));
      assert.equal(s.vmPricePerHourUsd, 0.36);
    }
  });

  test('the SLO of 2000 ms splits 200 : 400 : 400 into 400, 800, 800 ms, leaving 200, 400, 400 ms to wait', () => {
    assert.deepEqual(
      c.stages.map((s) => [s.sloBudgetMs, s.overflowAfterMs]),
      [
        [400, 200],
        [800, 400],
        [800, 400],
      ],
    );
  });

  test('an SLO tighter than the p95s leaves 1 ms to wait', () => {
    // 500 ms split 200 : 400 : 400 → 100, 200, 200 budgets, all below p95 → max(1, negative) = 1
    assert.deepEqual(
      compile({ sloMs: 500 }).stages.map((s) => s.overflowAfterMs),
      [1, 1, 1],
    );
  });

  test('LIBRA’s whole-model capacity is derived from the profile: 1000 × 2 slots / (160 + 320 + 320) ms = 2.5', () => {
    assert.deepEqual(c.libra, { perVmCapacity: 2.5, perVmCapacitySource: 'profile' });
    assert.deepEqual(compile({ libra: { perVmCapacity: 16 } }).libra, {
      perVmCapacity: 16,
      perVmCapacitySource: 'config',
    });
  });

  test('per-stage bounds take one number or one per stage', () => {
    const b = compile({ minVms: [1, 0, 0], maxVms: 3 });
    assert.deepEqual(
      b.stages.map((s) => [s.minVms, s.maxVms]),
      [
        [1, 3],
        [0, 3],
        [0, 3],
      ],
    );
  });

  test('at timeScale 10 durations stay cloud ms (the policies run on cloud time) and T-CIP per wall second is 25', () => {
    // a VM living 1 wall s is billed 10 cloud s; a call is billed its measured 0.4 s → break-even 10 × 2.5 q/s
    const scaled = compileAutoscalerConfig({}, { ...GLOBALS, timeScale: 10 }, PROFILE);
    assert.deepEqual(
      [scaled.tickMs, scaled.updateIntervalMs, scaled.scaleDownDelayMs, scaled.bootDelayMs, scaled.vmAuto.graceMs],
      [1000, 300_000, 300_000, 100_000, 120_000],
    );
    assert.ok(near(scaled.stages[0]?.tCipWall, 25));
    assert.ok(near(scaled.stages[0]?.tCip, 2.5));
    assert.equal(scaled.timeScale, 10);
  });

  test('the LIBRA IC2E preset compiles to min 10 / max 292 VMs and 16 q/s per VM', () => {
    const l = compileAutoscalerConfig(LIBRA_IC2E_PRESET, GLOBALS, PROFILE);
    assert.deepEqual(
      [l.policy, l.stages[0]?.minVms, l.stages[0]?.maxVms, l.libra.perVmCapacity],
      ['libra', 10, 292, 16],
    );
  });
});

describe('validation: one rule per test, errors name the field', () => {
  const rules: Array<{ label: string; input: Record<string, unknown>; message: RegExp }> = [
    { label: 'alpha must be in (0, 1]', input: { alpha: 1.5 }, message: /autoscaler\.alpha: 1\.5 must be in \(0, 1\]/ },
    { label: 'alpha 0 is rejected too', input: { alpha: 0 }, message: /autoscaler\.alpha: 0 must be in \(0, 1\]/ },
    { label: 'mu must be in (0, 1]', input: { mu: -0.1 }, message: /autoscaler\.mu: -0\.1 must be in \(0, 1\]/ },
    { label: 'z must be >= 0', input: { z: -1 }, message: /autoscaler\.z: -1 must be >= 0/ },
    { label: 'burstZ must be >= 0', input: { burstZ: -2 }, message: /autoscaler\.burstZ: -2 must be >= 0/ },
    { label: 'rho must be in (0, 1]', input: { rho: 1.2 }, message: /autoscaler\.rho: 1\.2 must be in \(0, 1\]/ },
    { label: 'tickMs must be > 0', input: { tickMs: 0 }, message: /autoscaler\.tickMs: 0 must be > 0/ },
    {
      label: 'updateIntervalMs must be >= tickMs',
      input: { updateIntervalMs: 500 },
      message: /autoscaler\.updateIntervalMs: 500 must be >= tickMs \(1000\)/,
    },
    {
      label: 'scaleDownDelayMs must be >= 0',
      input: { scaleDownDelayMs: -1 },
      message: /autoscaler\.scaleDownDelayMs: -1 must be >= 0/,
    },
    { label: 'sloMs must be > 0', input: { sloMs: 0 }, message: /autoscaler\.sloMs: 0 must be > 0/ },
    {
      label: 'minVms must be a whole number',
      input: { minVms: 1.5 },
      message: /autoscaler\.minVms: 1\.5 must be an integer >= 0/,
    },
    {
      label: 'maxVms per stage must be >= 0',
      input: { maxVms: [3, -1, 3] },
      message: /autoscaler\.maxVms\[1\]: -1 must be an integer >= 0/,
    },
    {
      label: 'per-stage lists need one value per stage',
      input: { minVms: [1, 2] },
      message: /autoscaler\.minVms: 2 values for a 3-stage model/,
    },
    {
      label: 'minVms must not exceed maxVms',
      input: { minVms: [0, 5, 0], maxVms: 3 },
      message: /autoscaler\.minVms: 5 for stage 2 must be <= maxVms \(3\)/,
    },
    {
      label: 'vmAuto.upUtilisation must be in (0, 1]',
      input: { vmAuto: { upUtilisation: 1.1 } },
      message: /autoscaler\.vmAuto\.upUtilisation: 1\.1 must be in \(0, 1\]/,
    },
    {
      label: 'vmAuto.downUtilisation must be below upUtilisation',
      input: { vmAuto: { downUtilisation: 0.7 } },
      message: /autoscaler\.vmAuto\.downUtilisation: 0\.7 must be in \[0, upUtilisation \(0\.7\)\)/,
    },
    {
      label: 'vmAuto.stepVms must be a whole number >= 1',
      input: { vmAuto: { stepVms: 0 } },
      message: /autoscaler\.vmAuto\.stepVms: 0 must be an integer >= 1/,
    },
    {
      label: 'vmAuto.graceMs must be >= 0',
      input: { vmAuto: { graceMs: -5 } },
      message: /autoscaler\.vmAuto\.graceMs: -5 must be >= 0/,
    },
    {
      label: 'vmAuto.windowMs must be > 0',
      input: { vmAuto: { windowMs: 0 } },
      message: /autoscaler\.vmAuto\.windowMs: 0 must be > 0/,
    },
    { label: 'peakRate must be > 0', input: { peakRate: 0 }, message: /autoscaler\.peakRate: 0 must be > 0/ },
    {
      label: 'peakRate is required by vm-max',
      input: { policy: 'vm-max' },
      message: /autoscaler\.peakRate: required by policy 'vm-max'/,
    },
    {
      label: 'libra.perVmCapacity must be > 0',
      input: { libra: { perVmCapacity: -16 } },
      message: /autoscaler\.libra\.perVmCapacity: -16 must be > 0/,
    },
    { label: 'policy must be a known name', input: { policy: 'magic' }, message: /autoscaler\.policy: / },
    { label: 'deviation must be libra or ewstd', input: { deviation: 'std' }, message: /autoscaler\.deviation: / },
    { label: 'a field of the wrong type is named', input: { alpha: 'high' }, message: /autoscaler\.alpha: .*number/ },
    { label: 'an unknown field is rejected (typos)', input: { alfa: 0.3 }, message: /autoscaler\.?.*alfa/ },
  ];
  for (const r of rules) {
    test(r.label, () => {
      assert.throws(() => compile(r.input), { name: 'ConfigError', message: r.message });
    });
  }

  test('all problems are reported at once', () => {
    assert.throws(() => compile({ alpha: 2, mu: 2 }), {
      name: 'ConfigError',
      message: /autoscaler\.alpha: 2 must be in \(0, 1\]; autoscaler\.mu: 2 must be in \(0, 1\]/,
    });
  });

  test('the VM instance type must have a price', () => {
    const globals = { ...compileConfig({ vm: { instanceType: 'x9.huge' } }), usdPerAction: 0 };
    assert.throws(() => compileAutoscalerConfig({}, globals, PROFILE), {
      name: 'ConfigError',
      message: /vm\.instanceType: no price for VM instance type "x9\.huge"/,
    });
  });

  const profileRules: Array<{ label: string; edit: (p: StageProfile[]) => StageProfile[]; message: RegExp }> = [
    { label: 'the profile must have a stage', edit: () => [], message: /profile: no stages/ },
    {
      label: 'profile stages are numbered 1..K in order',
      edit: (p) => [p[0] as StageProfile, { ...(p[2] as StageProfile) }],
      message: /profile\[1\]\.stage: 3 must be 2/,
    },
    {
      label: 'a stage’s VM p95 must be > 0',
      edit: (p) => p.map((s, i) => (i === 1 ? { ...s, vmServiceMs: { ...s.vmServiceMs, p95: 0 } } : s)),
      message: /profile\[1\]\.vmServiceMs\.p95: 0 must be > 0/,
    },
    {
      label: 'a stage’s VM slots must be a whole number >= 1',
      edit: (p) => p.map((s, i) => (i === 0 ? { ...s, vmSlots: 0 } : s)),
      message: /profile\[0\]\.vmSlots: 0 must be an integer >= 1/,
    },
    {
      label: 'a reach probability must be in [0, 1]',
      edit: (p) => p.map((s, i) => (i === 2 ? { ...s, reachProbability: 1.5 } : s)),
      message: /profile\[2\]\.reachProbability: 1\.5 must be in \[0, 1\]/,
    },
  ];
  for (const r of profileRules) {
    test(r.label, () => {
      assert.throws(() => compileAutoscalerConfig({}, GLOBALS, r.edit(PROFILE)), {
        name: 'ConfigError',
        message: r.message,
      });
    });
  }
});
