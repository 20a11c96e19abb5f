/** common/routing.ts: the check that a routing plan fits its model, each bad field named in the message. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allVmPlan,
  checkStoredPlan,
  fusedRunAt,
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
    {
      what: 'two fused runs that touch',
      plan: {
        ...allVmPlan(MODEL, STAGES),
        fused: [
          { first: 1, last: 2 },
          { first: 3, last: 4 },
        ],
      },
    },
    { what: 'an empty list of fused runs', plan: { ...allVmPlan(MODEL, STAGES), fused: [] } },
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
    {
      what: 'a fused run of one stage',
      plan: { ...allVmPlan(MODEL, STAGES), fused: [{ first: 2, last: 2 }] },
      message: /fused\[0\]: first 2 must be below last 2/,
    },
    {
      what: 'a fused run past the last stage',
      plan: { ...allVmPlan(MODEL, STAGES), fused: [{ first: 3, last: 5 }] },
      message: /fused\[0\]: .* must name stages first\.\.last of mnist-ee \(1\.\.4\)/,
    },
    {
      what: 'overlapping fused runs',
      plan: {
        ...allVmPlan(MODEL, STAGES),
        fused: [
          { first: 1, last: 3 },
          { first: 3, last: 4 },
        ],
      },
      message: /fused\[1\]: starts at stage 3, inside or before the run ending at 3/,
    },
    {
      what: 'fused runs as an object, not a list',
      plan: { ...allVmPlan(MODEL, STAGES), fused: { first: 1, last: 2 } as unknown as [] },
      message: /fused: expected an array of runs/,
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

describe('planFromSpec: fused runs', () => {
  test('`all-vm+fuse:1-4` runs the whole model as one activity, every stage on VMs', () => {
    const plan = planFromSpec('all-vm+fuse:1-4', MODEL, STAGES, 0);
    assert.deepEqual(plan.fused, [{ first: 1, last: 4 }]);
    assert.deepEqual(
      plan.stages.map((s) => s.vmShare),
      [1, 1, 1, 1],
    );
    assert.equal(fusedRunAt(plan, 1)?.last, 4);
    assert.equal(fusedRunAt(plan, 2), undefined);
  });

  test('`vm-prefix:1+fuse:2-4` keeps stage 1 on its pool and fuses the serverless rest', () => {
    const plan = planFromSpec('vm-prefix:1+fuse:2-4', MODEL, STAGES, 0);
    assert.deepEqual(plan.fused, [{ first: 2, last: 4 }]);
    assert.deepEqual(
      plan.stages.map((s) => s.vmShare),
      [1, 0, 0, 0],
    );
  });

  test('a spec without fuse parts has no runs', () => {
    assert.equal(planFromSpec('all-faas', MODEL, STAGES, 0).fused, undefined);
  });

  for (const bad of ['all-vm+fuse:3-3', 'all-vm+fuse:0-2', 'all-vm+fuse:2-9', 'all-vm+fuse:1', 'all-vm+merge:1-2']) {
    test(`rejects ${bad}, naming the part`, () => {
      assert.throws(() => planFromSpec(bad, MODEL, STAGES, 0), {
        name: 'InvalidPlanSpecError',
        message: /must be fuse:A-B with 1 <= A < B <= 4/,
      });
    });
  }
});

describe('checkStoredPlan: the one check of a stored value, for writers and readers', () => {
  const good = allVmPlan(MODEL, STAGES, 1_000);

  test('a plan as the writers make it passes unchanged', () => {
    assert.equal(checkStoredPlan(good, MODEL), good);
    const fused = { ...planFromSpec('all-faas+fuse:1-4', MODEL, STAGES, 1_000) };
    assert.equal(checkStoredPlan(fused, MODEL), fused);
  });

  const bad: Array<{ what: string; value: unknown; message: RegExp }> = [
    { what: 'a number', value: 5, message: /^plan for mnist-ee: expected a plan object, got 5$/ },
    { what: 'null', value: null, message: /^plan for mnist-ee: expected a plan object, got null$/ },
    { what: 'a list', value: [good], message: /^plan for mnist-ee: expected a plan object/ },
    {
      what: 'another model under this key',
      value: { ...good, model: 'other' },
      message: /^plan for mnist-ee: model: expected "mnist-ee", got "other"$/,
    },
    {
      what: 'no source',
      value: { ...good, source: undefined },
      message: /^plan for mnist-ee: source: expected a non-empty string, got undefined$/,
    },
    {
      what: 'a time that is not a number',
      value: { ...good, updatedAt: 'now' },
      message: /^plan for mnist-ee: updatedAt: expected epoch ms, got "now"$/,
    },
    {
      what: 'stages that are not a list',
      value: { ...good, stages: { stage: 1 } },
      message: /^plan for mnist-ee: stages: expected a list of at most 100 stage routes$/,
    },
    {
      what: 'a stage route that is not an object',
      value: { ...good, stages: [null] },
      message: /^plan for mnist-ee: stages\[0\]: expected a stage route object, got null$/,
    },
    {
      what: 'a share out of range',
      value: { ...good, stages: [{ stage: 1, vmShare: 2 }] },
      message: /^plan for mnist-ee: stages\[0\]\.vmShare: 2 is not in \[0, 1\]$/,
    },
    { what: 'another version', value: { ...good, v: 2 }, message: /^v: expected 1, got 2$/ },
  ];
  for (const c of bad) {
    test(`rejects ${c.what}, naming the field`, () => {
      assert.throws(
        () => checkStoredPlan(c.value, MODEL),
        (err: unknown) => err instanceof InvalidRoutingPlanError && c.message.test(err.message),
      );
    });
  }
});
