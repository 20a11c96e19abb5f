/**
 * sim/judge.ts: the judge's runs are the simulator's comparisons, reduced to the figures the judgement reads, for
 * every case × profile × pricing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../common/config';
import { loadTrace } from '../../../eval/workload/traces';
import { runSimComparison } from '../../../sim/compare';
import { runJudge } from '../../../sim/judge';
import { setupFromConfig } from '../../../sim/setup';

describe('runJudge', () => {
  const config = loadConfig({ orchestration: { cpuMsPerAction: 4 } }, {});
  const trace = loadTrace('mmpp:base=3,ratio=5,burst=20,duration=120,seed=1');
  const progress: string[] = [];
  const result = runJudge({
    config,
    cases: [{ id: 'm', group: 'mmpp', baseRate: 3, trace }],
    profiles: [{ model: config.defaultModel, sloMs: 200 }],
    pricings: ['temporal-cloud', 'self-hosted'],
    policies: ['serflow', 'faas-only', 'libra'],
    seed: 1,
    command: 'test',
    onProgress: (p) => progress.push(`${p.done}/${p.total} ${p.pricing} ${p.queriesDone}/${p.queriesTotal}`),
  });

  test('one run per case, profile and pricing, with progress after each', () => {
    assert.equal(result.runs.length, 2);
    const n = trace.counts.reduce((sum, x) => sum + x, 0);
    assert.deepEqual(progress, [`1/2 temporal-cloud ${n}/${2 * n}`, `2/2 self-hosted ${2 * n}/${2 * n}`]);
    assert.deepEqual(result.cases, [
      {
        id: 'm',
        group: 'mmpp',
        baseRate: 3,
        source: trace.source,
        durationS: 120,
        queries: trace.counts.reduce((s, x) => s + x, 0),
        meanRate: trace.counts.reduce((s, x) => s + x, 0) / 120,
        peakRate: Math.max(...trace.counts),
      },
    ]);
  });

  test('the figures are those of the simulator’s comparison at the same seed', () => {
    const setup = setupFromConfig(config, config.defaultModel, { sloMs: 200, orchestrationPricing: 'self-hosted' });
    const { report } = runSimComparison({
      setup,
      trace,
      rateFactor: 1,
      startS: 0,
      policies: ['serflow', 'faas-only', 'libra'],
      seed: 1,
      command: 'test',
    });
    const run = result.runs.find((r) => r.pricing === 'self-hosted');
    assert.ok(run && report.bound && run.bound);
    for (const name of ['serflow', 'faas-only', 'libra']) {
      const p = report.policies[name]!;
      assert.deepEqual(run.policies[name], {
        totalUsd: p.totalUsd,
        vmUsd: p.vmUsd,
        serverlessUsd: p.serverlessUsd,
        orchestrationUsd: p.orchestrationUsd,
        computeUsd: p.vmUsd + p.serverlessUsd,
        sloAttainment: p.sloAttainment,
      });
    }
    assert.equal(run.bound.totalUsd, report.bound.totalUsd);
    assert.equal(run.bound.computeUsd, report.bound.totalUsd - report.bound.orchestrationUsd);
  });

  test('the two pricings bill the same actions at their own price per action', () => {
    const tc = result.runs.find((r) => r.pricing === 'temporal-cloud')!;
    const sh = result.runs.find((r) => r.pricing === 'self-hosted')!;
    const ratio = (result.usdPerAction['temporal-cloud'] as number) / (result.usdPerAction['self-hosted'] as number);
    const faas = 'faas-only';
    assert.ok(
      Math.abs(tc.policies[faas]!.orchestrationUsd / sh.policies[faas]!.orchestrationUsd - ratio) < 1e-6 * ratio,
    );
  });
});
