/**
 * Orchestration pricing of a run (billing/orchestration-pricing.ts): Temporal Cloud by default, self-hosted from the
 * configured CPU per action or the overhead benchmark's result, and a clear error naming the file and the command
 * that writes it when neither has it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  cpuMsPerActionFromOverhead,
  OVERHEAD_RESULTS_FILE,
  resolveOrchestration,
} from '../../../billing/orchestration-pricing';
import { MissingOrchestrationCostError } from '../../../billing/prices';
import { loadConfig } from '../../../common/config';

describe('orchestration pricing', () => {
  let dir: string;
  const file = (name: string, text?: string) => {
    const p = path.join(dir, name);
    if (text !== undefined) writeFileSync(p, text);
    return p;
  };
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'serflow-orch-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const config = loadConfig({}, {});
  // c6i.large at 0.085 $/h over 2 vCPUs: 1.18056e-5 $ per vCPU-second
  const perCpuMs = 0.085 / 3600 / 2 / 1000;

  test('the results file lives in bench/results/', () => {
    assert.match(OVERHEAD_RESULTS_FILE, /bench[\\/]results[\\/]overhead\.json$/);
  });

  test('Temporal Cloud: 25 $ per million actions, no file read', () => {
    const o = resolveOrchestration(config.orchestration, config.prices, { overheadFile: file('absent.json') });
    assert.equal(o.pricing, 'temporal-cloud');
    assert.equal(o.usdPerAction, 25e-6);
    assert.equal(o.cpuMsSource, undefined);
  });

  test('self-hosted from the configured CPU per action, before the file', () => {
    const configured = loadConfig({ orchestration: { cpuMsPerAction: 4 } }, {});
    const o = resolveOrchestration(configured.orchestration, configured.prices, {
      pricing: 'self-hosted',
      overheadFile: file('absent.json'),
    });
    assert.ok(Math.abs(o.usdPerAction - 4 * perCpuMs) < 1e-18);
    assert.equal(o.cpuMsSource, 'config');
  });

  test('self-hosted from the overhead benchmark’s orchestration.cpuMsPerAction', () => {
    const measured = file('measured.json', JSON.stringify({ orchestration: { cpuMsPerAction: 2.5 } }));
    assert.equal(cpuMsPerActionFromOverhead(measured), 2.5);
    const o = resolveOrchestration(config.orchestration, config.prices, {
      pricing: 'self-hosted',
      overheadFile: measured,
    });
    assert.equal(o.cpuMsPerAction, 2.5);
    assert.ok(Math.abs(o.usdPerAction - 2.5 * perCpuMs) < 1e-18);
    assert.equal(o.cpuMsSource, measured);
  });

  test('self-hosted without a measurement fails naming the file and `npm run bench:overhead`', () => {
    const cases: Array<[string, RegExp]> = [
      [file('absent.json'), /does not exist/],
      [file('old.json', JSON.stringify({ pipeline: {} })), /has no orchestration\.cpuMsPerAction/],
      [file('bad.json', JSON.stringify({ orchestration: { cpuMsPerAction: -1 } })), /-1, not a positive number/],
      [file('broken.json', '{'), /is not JSON/],
    ];
    for (const [overheadFile, why] of cases) {
      assert.throws(
        () => resolveOrchestration(config.orchestration, config.prices, { pricing: 'self-hosted', overheadFile }),
        (err: unknown) => {
          assert.ok(err instanceof MissingOrchestrationCostError, String(err));
          assert.ok(err.message.includes(overheadFile), err.message);
          assert.ok(err.message.includes('npm run bench:overhead'), err.message);
          assert.match(err.message, why);
          return true;
        },
      );
    }
  });
});
