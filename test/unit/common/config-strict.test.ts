/** The configuration rejects what it would otherwise silently ignore: unknown keys and a routing plan spec it cannot read. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileConfig } from '../../../common/config';
import { ConfigError } from '../../../common/errors';
import { planFromSpec } from '../../../common/routing';

describe('compileConfig: unknown keys', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a misspelt field in a section', { stages: { timeoutMS: 5000 } }, /stages: .*"timeoutMS"/],
    ['an unknown top-level section', { workerz: { stageConcurrency: 2 } }, /"workerz"/],
    ['a misspelt field of the queries section', { queries: { deadline: 5 } }, /queries: .*"deadline"/],
  ];
  for (const [what, raw, message] of cases) {
    test(`${what} is a ConfigError naming the key`, () => {
      assert.throws(
        () => compileConfig(raw),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  test('a compiled configuration compiles again unchanged (what the stack hands its children)', () => {
    const config = compileConfig({ stages: { timeoutMs: 3_000 }, routing: { plan: 'vm-prefix:2' } });
    assert.deepEqual(compileConfig(JSON.parse(JSON.stringify(config))), config);
  });

  test('the free-form sections still take any key', () => {
    const config = compileConfig({
      autoscaler: { policy: 'serflow', anything: 1 },
      faas: { stageMemoryMb: { 3: 1024 } },
    });
    assert.deepEqual(config.autoscaler, { policy: 'serflow', anything: 1 });
  });
});

describe('compileConfig: routing.plan', () => {
  for (const spec of ['all-vm', 'all-faas', 'vm-prefix:2', 'shares:1,1,0.5,0', 'shares:1,.5,1.,0', 'all-vm+fuse:1-4']) {
    test(`${spec} is accepted, and the stack can publish it for a 4-stage model`, () => {
      assert.equal(compileConfig({ routing: { plan: spec } }).routing.plan, spec);
      assert.equal(planFromSpec(spec, 'mnist-ee', 4, 0).stages.length, 4);
    });
  }
  // One grammar: whatever the config refuses, the stack could not publish either (for any stage count).
  for (const spec of ['shares:', 'shares:1,,1', 'shares:1.5', 'shares: 1', 'vm-prefix:', 'vm-prefix:-1', 'all-vm:2']) {
    test(`${JSON.stringify(spec)} is refused by the config and by planFromSpec alike`, () => {
      assert.throws(() => compileConfig({ routing: { plan: spec } }), ConfigError);
      for (const stages of [1, 2, 3, 4]) {
        assert.throws(() => planFromSpec(spec, 'm', stages, 0), { name: 'InvalidPlanSpecError' });
      }
    });
  }
  for (const spec of ['teleport', 'shares:', 'vm-prefix:x', 'all-vm+fuse:1', 'all-vm ']) {
    test(`${JSON.stringify(spec)} is a ConfigError naming routing.plan and the accepted forms`, () => {
      assert.throws(
        () => compileConfig({ routing: { plan: spec } }),
        (err: unknown) =>
          err instanceof ConfigError && /routing\.plan: expected a plan spec: all-vm \| all-faas/.test(err.message),
      );
    });
  }
});
