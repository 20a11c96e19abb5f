/**
 * SERFLOW's fusion choice (autoscaler/policies/serflow-fusion.ts) against costs computed by hand.
 *
 * Prices of the cases: request fee R = 2e-7 $, an action A = 2.5e-5 $ (Temporal Cloud's list price); function
 * memories 1024, 2048, 1024 MB; duration parts of C_F at those memories D = 1e-6, 4e-6, 1e-6 $, so
 * C_F = 1.2e-6, 4.2e-6, 1.2e-6 $. A run's function needs the largest memory of its stages (M).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { faasTailCostRates, fusedRunsFor } from '../../../autoscaler/policies/serflow-fusion';
import type { CompiledAutoscalerConfig } from '../../../autoscaler/config';
import type { StageDecision } from '../../../autoscaler/types';
import { compile, near, obs, withFusionPrices } from '../../helpers/autoscaler-fixture';
import { faasOnlyPolicy } from '../../../autoscaler/policies/faas-only';

function priced(usdPerAction: number): CompiledAutoscalerConfig {
  return withFusionPrices(compile({ policy: 'serflow' }), usdPerAction);
}

const serverless = (stage: number): StageDecision => ({ stage, desiredVms: 0, vmShare: 0, reason: '' });
const onVm = (stage: number): StageDecision => ({ stage, desiredVms: 1, vmShare: 1, reason: '' });

describe('SERFLOW fusion: cost rates of a serverless tail', () => {
  test('at Temporal Cloud prices the whole model as one invocation is cheaper despite the larger memory', () => {
    // separate = 10·(1.2e-6 + 2.5e-5) + 5·(4.2e-6 + 2.5e-5) + 1·(1.2e-6 + 2.5e-5) = 4.342e-4 $/s
    // fused    = 10·(2e-7 + 2.5e-5) + 10·1e-6·2048/1024 + 5·4e-6·1 + 1·1e-6·2 = 2.94e-4 $/s
    const r = faasTailCostRates(priced(2.5e-5), [10, 5, 1], 0);
    assert.ok(near(r.separate, 4.342e-4), `separate ${r.separate}`);
    assert.ok(near(r.fused, 2.94e-4), `fused ${r.fused}`);
  });

  test('without an action price the memory penalty outweighs the saved request fees', () => {
    // separate = 10·1.2e-6 + 5·4.2e-6 + 1·1.2e-6 = 3.42e-5; fused = 10·2e-7 + 2e-5 + 2e-5 + 2e-6 = 4.4e-5
    const config = priced(0);
    const r = faasTailCostRates(config, [10, 5, 1], 0);
    assert.ok(near(r.separate, 3.42e-5), `separate ${r.separate}`);
    assert.ok(near(r.fused, 4.4e-5), `fused ${r.fused}`);
    assert.deepEqual(fusedRunsFor(config, [1, 2, 3].map(serverless), [10, 5, 1], 0), []);
  });
});

describe('SERFLOW fusion: the runs of a decision', () => {
  const config = priced(2.5e-5);

  test('with every stage serverless, the whole model is one run', () => {
    assert.deepEqual(fusedRunsFor(config, [1, 2, 3].map(serverless), [10, 5, 1], 0), [{ first: 1, last: 3 }]);
  });

  test('a stage on its own VM pool stays its own activity; the tail after it is fused', () => {
    // Tail 2..3 at M = 2048: separate = 5·2.92e-5 + 2.62e-5 = 1.722e-4; fused = 5·2.52e-5 + 2e-5 + 2e-6 = 1.48e-4.
    const stages = [onVm(1), serverless(2), serverless(3)];
    assert.deepEqual(fusedRunsFor(config, stages, [10, 5, 1], 0), [{ first: 2, last: 3 }]);
  });

  test('a VM share on the last stage leaves no serverless tail', () => {
    const stages = [serverless(1), serverless(2), { ...serverless(3), vmShare: 0.5 }];
    assert.deepEqual(fusedRunsFor(config, stages, [10, 5, 1], 0), []);
  });

  test("the shared pool's prefix is one run; a one-stage tail is not a run", () => {
    const stages = [onVm(1), onVm(2), serverless(3)];
    assert.deepEqual(fusedRunsFor(config, stages, [10, 5, 1], 2), [{ first: 1, last: 2 }]);
  });

  test('a shared prefix of one stage is no run, and the tail after it still is', () => {
    const stages = [onVm(1), serverless(2), serverless(3)];
    assert.deepEqual(fusedRunsFor(config, stages, [10, 5, 1], 1), [{ first: 2, last: 3 }]);
  });

  test('before any load the reach probabilities weigh the stages', () => {
    // Reach 1, 0.5, 0.1 (the fixture): separate = 2.62e-5 + 0.5·2.92e-5 + 0.1·2.62e-5 = 4.342e-5;
    // fused = 2.52e-5 + 2e-6 + 2e-6 + 0.2e-6 = 2.94e-5 → fused.
    assert.deepEqual(fusedRunsFor(config, [1, 2, 3].map(serverless), [0, 0, 0], 0), [{ first: 1, last: 3 }]);
    const r = faasTailCostRates(config, [1, 0.5, 0.1], 0);
    assert.ok(near(r.separate, 4.342e-5) && near(r.fused, 2.94e-5), `${r.separate} ${r.fused}`);
  });
});

describe('FaaS-only gets the same fusion rule', () => {
  test('fused where the rule finds it cheaper (reach-weighted), not where it does not, never with fuse off', () => {
    const decide = (config: CompiledAutoscalerConfig) =>
      faasOnlyPolicy.decide(obs(0, [0, 0, 0]), config, {}, 0).decision.fused;
    // Reach 1, 0.5, 0.1: the 4.342e-5 vs 2.94e-5 $/s case above.
    assert.deepEqual(decide(priced(2.5e-5)), [{ first: 1, last: 3 }]);
    assert.equal(decide(priced(0)), undefined);
    assert.equal(decide({ ...priced(2.5e-5), fuse: false }), undefined);
  });
});
