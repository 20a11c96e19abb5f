/**
 * autoscaler/policies/libra.ts: LIBRA exactly as its authors' simulator does it, on virtual time. Each decide call
 * is one epoch; windows are 1 s so x_t = stage-1 arrivals. VM boot 100 s; rho 0.8; U 300 s.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LIBRA_IC2E_PRESET, type CompiledAutoscalerConfig } from '../../../autoscaler/config';
import { libraPolicy, libraSizing, type LibraState } from '../../../autoscaler/policies/libra';
import { SEC, compile, near, obs } from '../../helpers/autoscaler-fixture';

interface Epoch {
  at: number;
  x: number;
  want: { vms: number; quota: number; vmShare: number; mean?: number; dev?: number };
}

function epochs(config: CompiledAutoscalerConfig, list: Epoch[]): LibraState {
  let state = libraPolicy.initialState(config);
  for (const e of list) {
    const r = libraPolicy.decide(obs(e.at, [e.x, 0, 0]), config, state, e.at);
    state = r.state;
    const where = `at ${e.at / SEC} s: ${r.decision.stages[0]?.reason}`;
    assert.equal(r.decision.valid, true, where);
    // the whole model is one unit: one whole-model pool, the same share on every stage, and no re-routing
    for (const d of r.decision.stages) {
      assert.equal(d.desiredVms, 0, `${where}: per-stage pools stay empty (LIBRA VMs run the whole model)`);
      assert.equal(r.decision.wholeModelVms, e.want.vms, where);
      assert.ok(near(d.vmShare, e.want.vmShare), `${where}: vmShare ${d.vmShare}`);
      assert.equal(d.overflowAfterMs, undefined);
    }
    assert.equal(state.quota, e.want.quota, where);
    if (e.want.mean !== undefined) assert.ok(near(state.est.mean, e.want.mean), `${where}: mean ${state.est.mean}`);
    if (e.want.dev !== undefined) assert.ok(near(state.est.dev, e.want.dev), `${where}: dev ${state.est.dev}`);
  }
  return state;
}

describe('LIBRA rounding: vm_share = int(mean + dev), vms = ceil(vm_share / 16), quota = int(0.8 · vm_share)', () => {
  const cases = [
    { mean: 32, dev: 0, want: { vmShare: 32, vms: 2, quota: 25 } }, // 32/16 = 2 exactly; 25.6 → 25
    { mean: 33, dev: 0, want: { vmShare: 33, vms: 3, quota: 26 } }, // 2.0625 → 3; 26.4 → 26
    { mean: 32.9, dev: 0, want: { vmShare: 32, vms: 2, quota: 25 } }, // int truncates 32.9 → 32
    { mean: 30, dev: 2.5, want: { vmShare: 32, vms: 2, quota: 25 } }, // int(32.5) = 32
    { mean: 16.99, dev: 0, want: { vmShare: 16, vms: 1, quota: 12 } }, // 16 → 1 VM; 12.8 → 12
    { mean: 17, dev: 0, want: { vmShare: 17, vms: 2, quota: 13 } }, // 1.0625 → 2; 13.6 → 13
    { mean: 0.5, dev: 0.4, want: { vmShare: 0, vms: 0, quota: 0 } }, // int(0.9) = 0 → no VM
  ];
  for (const c of cases) {
    test(`mean ${c.mean} + dev ${c.dev} → vm_share ${c.want.vmShare}, ${c.want.vms} VMs, quota ${c.want.quota}`, () => {
      assert.deepEqual(libraSizing(c.mean, c.dev, 1, 16, 0.8), c.want);
    });
  }
});

describe('LIBRA epochs', () => {
  const c16 = compile({ libra: { perVmCapacity: 16 }, maxVms: 300 });

  test('first epoch sizing; a scale-up keeps the OLD quota until the new VMs are up, then the new one', () => {
    const state = epochs(c16, [
      // first epoch: mean 40, dev 0 → vm_share 40 → ceil(2.5) = 3 VMs (grew from 0): quota stays 0 until 100 s
      { at: 0, x: 40, want: { vms: 3, quota: 0, vmShare: 0, mean: 40, dev: 0 } },
      { at: 1 * SEC, x: 40, want: { vms: 3, quota: 0, vmShare: 0 } },
      { at: 99 * SEC, x: 40, want: { vms: 3, quota: 0, vmShare: 0 } },
      // VMs up: quota int(0.8 · 40) = 32 → 32 / 40 = 0.8
      { at: 100 * SEC, x: 40, want: { vms: 3, quota: 32, vmShare: 0.8 } },
      // U: dev = 0.2·|40 − 100| = 12, mean = 32 + 20 = 52 → vm_share 64 → 4 VMs (grew): quota 32 kept → 0.32
      { at: 300 * SEC, x: 100, want: { vms: 4, quota: 32, vmShare: 0.32, mean: 52, dev: 12 } },
      // dev = 9.6 + 0.2·48 = 19.2, mean = 41.6 + 20 = 61.6; no update until 600 s; still the old quota
      { at: 399 * SEC, x: 100, want: { vms: 4, quota: 32, vmShare: 0.32, mean: 61.6, dev: 19.2 } },
      // 100 s after the scale-up: quota int(0.8 · 64) = int(51.2) = 51 → 0.51
      // (estimator: dev = 15.36 + 0.2·38.4 = 23.04, mean = 49.28 + 20 = 69.28)
      { at: 400 * SEC, x: 100, want: { vms: 4, quota: 51, vmShare: 0.51, mean: 69.28, dev: 23.04 } },
    ]);
    assert.equal(state.vmShare, 64);
    assert.equal(state.pendingQuota, undefined);
  });

  test('a scale-down applies the new quota at once', () => {
    // alpha = mu = 1: mean = x_t, dev = |x_{t-1} − x_t|
    epochs(compile({ libra: { perVmCapacity: 16 }, maxVms: 300, alpha: 1, mu: 1 }), [
      // 64 → 4 VMs; quota int(51.2) = 51 once they are up at 100 s
      { at: 0, x: 64, want: { vms: 4, quota: 0, vmShare: 0 } },
      { at: 100 * SEC, x: 64, want: { vms: 4, quota: 51, vmShare: 51 / 64 } },
      // not an update epoch: mean 20, dev 44; 51 >= 20 → share 1
      { at: 299 * SEC, x: 20, want: { vms: 4, quota: 51, vmShare: 1 } },
      // U: mean 20, dev 0 → vm_share 20 → ceil(1.25) = 2 VMs (fewer): quota int(16) = 16 at once → 16/20 = 0.8
      { at: 300 * SEC, x: 20, want: { vms: 2, quota: 16, vmShare: 0.8 } },
    ]);
  });

  test('the whole-model capacity derived from the profile is 2.5 q/s per VM', () => {
    // vm_share 10 → ceil(10 / 2.5) = 4 VMs
    epochs(compile(), [{ at: 0, x: 10, want: { vms: 4, quota: 0, vmShare: 0 } }]);
  });

  test('LIBRA’s own setup (min 10 VMs) clamps a small pool up', () => {
    // 40 → ceil(40 / 16) = 3 → clamped to 10
    epochs(compile(LIBRA_IC2E_PRESET), [{ at: 0, x: 40, want: { vms: 10, quota: 0, vmShare: 0 } }]);
  });

  test('before the first query there is no epoch: no data', () => {
    const r = libraPolicy.decide(obs(0, [0, 0, 0]), c16, libraPolicy.initialState(c16), 0);
    assert.deepEqual(r.decision, { valid: false, stages: [], reason: 'no-data' });
  });
});

describe('LIBRA and stage fusion', () => {
  test('with fusion on (the default) the whole model is one run; with it off, none', () => {
    const on = libraPolicy.decide(
      obs(0, [5, 0, 0]),
      compile({ policy: 'libra' }),
      libraPolicy.initialState(compile()),
      0,
    );
    assert.deepEqual(on.decision.fused, [{ first: 1, last: 3 }]);
    const offConfig = compile({ policy: 'libra', fuse: false });
    const off = libraPolicy.decide(obs(0, [5, 0, 0]), offConfig, libraPolicy.initialState(offConfig), 0);
    assert.equal(off.decision.valid, true);
    assert.equal(off.decision.fused, undefined);
  });
});
