/** common/routing.ts: the check that a routing plan fits its model, each bad field named in the message. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allVmPlan,
  InvalidRoutingPlanError,
  planFromSpec,
  validateRoutingPlan,
  type RoutingPlan,
  type StageRoute,
} from '../../../common/routing';

const MODEL = 'mnist-ee';
const STAGES = 4;

/** A valid 4-stage plan with `stages` replaced. */
function planWith(stages: StageRoute[]): RoutingPlan {
  return { ...allVmPlan(MODEL, STAGES, 1_000), stages };
}

describe('validateRoutingPlan', () => {
  const valid: Array<{ what: string; plan: RoutingPlan }> = [
    { what: 'every stage on VMs', plan: allVmPlan(MODEL, STAGES) },
    { what: 'a VM prefix with overflow', plan: planFromSpec('vm-prefix:2', MODEL, STAGES, 0, 250) },
    { what: 'fractional shares at the bounds', plan: planFromSpec('shares:1,0.5,0.25,0', MODEL, STAGES, 0) },
    { what: 'fewer routes than stages (the rest default to VMs)', plan: planWith([{ stage: 3, vmShare: 0 }]) },
  ];
  for (const c of valid) {
    test(`accepts ${c.what} and returns the same plan`, () => {
      assert.equal(validateRoutingPlan(c.plan, STAGES), c.plan);
    });
  }

  const invalid: Array<{ what: string; plan: RoutingPlan; message: RegExp }> = [
    {
      what: 'another version',
      plan: { ...allVmPlan(MODEL, STAGES), v: 2 as unknown as 1 },
      message: /^v: expected 1, got 2$/,
    },
    {
      what: 'stage 0',
      plan: planWith([{ stage: 0, vmShare: 1 }]),
      message: /stages\[0\]\.stage: 0 is not a stage of mnist-ee \(1\.\.4\)/,
    },
    {
      what: 'a stage past the last',
      plan: planWith([{ stage: 5, vmShare: 1 }]),
      message: /stages\[0\]\.stage: 5 is not a stage/,
    },
    {
      what: 'a fractional stage number',
      plan: planWith([{ stage: 1.5, vmShare: 1 }]),
      message: /stages\[0\]\.stage: 1\.5 is not a stage/,
    },
    {
      what: 'a stage listed twice',
      plan: planWith([
        { stage: 2, vmShare: 1 },
        { stage: 2, vmShare: 0 },
      ]),
      message: /stages\[1\]\.stage: stage 2 appears twice/,
    },
    {
      what: 'a share above 1',
      plan: planWith([{ stage: 1, vmShare: 1.5 }]),
      message: /stages\[0\]\.vmShare: 1\.5 is not in \[0, 1\]/,
    },
    {
      what: 'a negative share',
      plan: planWith([{ stage: 1, vmShare: -0.1 }]),
      message: /stages\[0\]\.vmShare: -0\.1 is not in \[0, 1\]/,
    },
    {
      what: 'a NaN share',
      plan: planWith([{ stage: 1, vmShare: NaN }]),
      message: /stages\[0\]\.vmShare: NaN is not in \[0, 1\]/,
    },
    {
      what: 'a zero overflow delay',
      plan: planWith([{ stage: 1, vmShare: 1, overflowAfterMs: 0 }]),
      message: /stages\[0\]\.overflowAfterMs: 0 must be a positive number of ms/,
    },
  ];
  for (const c of invalid) {
    test(`rejects ${c.what}, naming the field`, () => {
      assert.throws(
        () => validateRoutingPlan(c.plan, STAGES),
        (err: unknown) => {
          assert.ok(err instanceof InvalidRoutingPlanError, String(err));
          assert.equal(err.name, 'InvalidRoutingPlanError');
          assert.match(err.message, c.message);
          return true;
        },
      );
    });
  }
});
