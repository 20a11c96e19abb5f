/**
 * The simulator (sim/): samplers, the engine on hand-computed cases, determinism, the clairvoyant bound, and the
 * libra-ic2e preset against LIBRA's simulator's published figures on the shorter shared traces.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPolicy } from '../../../autoscaler/policies';
import { faasInvocationCostUsd } from '../../../billing/prices';
import { loadConfig } from '../../../common/config';
import { parseExitSchedule } from '../../../eval/workload/schedules';
import { loadTrace } from '../../../eval/workload/traces';
import { boundOf } from '../../../sim/clairvoyant';
import { runSimComparison } from '../../../sim/compare';
import { runSimulation, type SimRunInput } from '../../../sim/engine';
import { conditionalExits, drawExitStages, reachOf } from '../../../sim/exit-model';
import { LIBRA_REFERENCE } from '../../../sim/libra-reference';
import { quantileOf, samplerFrom } from '../../../sim/sampler';
import { libraIc2eSetup, setupFromConfig } from '../../../sim/setup';

const near = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (tolerance ${rel * 100} %)`);

describe('samplers keep the profiled tail', () => {
  test('p50, p95 and p99 are reproduced', () => {
    const s = samplerFrom({ p50: 10, p95: 30, p99: 90 });
    near(quantileOf(s, 0.5), 10, 0.01, 'p50');
    near(quantileOf(s, 0.95), 30, 0.01, 'p95');
    near(quantileOf(s, 0.99), 90, 0.02, 'p99');
    assert.ok(quantileOf(s, 0.999) > 90, 'the tail goes on beyond p99');
  });
  test('equal quantiles give a constant', () => {
    assert.equal(samplerFrom({ p50: 1000, p95: 1000, p99: 1000 }).constant, 1000);
  });
});

describe('exits', () => {
  test('conditional exit probabilities from shares 0.5/0.3/0.2: 0.5, 0.6, 1', () => {
    const p = conditionalExits([0.5, 0.3, 0.2]);
    [0.5, 0.6, 1].forEach((want, k) => near(p[k] as number, want, 1e-9, `stage ${k + 1}`));
    assert.deepEqual(
      reachOf([0.5, 0.3, 0.2]).map((x) => Math.round(x * 10) / 10),
      [1, 0.5, 0.2],
    );
  });
  test('drawn exits follow the shares', () => {
    const arrivals = new Float64Array(100_000).map((_, i) => i);
    const exits = drawExitStages(arrivals, [{ fromMs: 0, exitProbability: conditionalExits([0.5, 0.3, 0.2]) }], 7);
    const counts = [0, 0, 0];
    for (const k of exits) counts[k] = (counts[k] as number) + 1;
    [0.5, 0.3, 0.2].forEach((q, k) => near((counts[k] as number) / 1e5, q, 0.02, `share ${k + 1}`));
  });
});

/** A one-stage cloud with deterministic 100 ms service, for hand-computed runs. */
function oneStage(over: Partial<SimRunInput> = {}): SimRunInput {
  const setup = libraIc2eSetup();
  const config = setup.compile('faas-only', 1);
  const fixed = samplerFrom({ p50: 100, p95: 100, p99: 100 });
  return {
    arrivalsMs: new Float64Array([0, 10, 20, 1000]),
    windowMs: 2000,
    stages: [
      {
        stage: 1,
        vmService: fixed,
        vmSlots: 1,
        faasService: fixed,
        faasMemoryMb: 512,
        faasColdStartMs: 0,
        faasInitBilledMs: 0,
      },
    ],
    exitStage: new Int8Array(4),
    platform: { ...setup.platform, faasAccountConcurrency: Infinity },
    policy: createPolicy('faas-only'),
    config,
    sloMs: 150,
    seed: 1,
    seriesStepMs: 1000,
    ...over,
  };
}

describe('engine, hand-computed', () => {
  test('faas-only: every query costs one 100 ms invocation and takes 100 ms', () => {
    const r = runSimulation(oneStage());
    const one = faasInvocationCostUsd({ memoryMb: 512, durationMs: 100, initMs: 0 }, libraIc2eSetup().platform.prices);
    near(r.serverlessUsd, 4 * one, 1e-12, 'cost');
    assert.equal(r.vmUsd, 0);
    assert.deepEqual([...r.latencyMs], [100, 100, 100, 100]);
    assert.equal(r.completed, 4);
  });

  test('account concurrency 1: the 2nd and 3rd queries wait for the 1st (throttling), in order', () => {
    const r = runSimulation(oneStage({ platform: { ...oneStage().platform, faasAccountConcurrency: 1 } }));
    // 0 → runs 0..100; 10 → waits until 100, runs to 200; 20 → waits until 200, runs to 300; 1000 → no wait
    assert.deepEqual([...r.waitMs], [0, 90, 180, 0]);
    assert.deepEqual([...r.latencyMs], [100, 190, 280, 100]);
  });

  test('VM-max on the libra-ic2e cloud: 292 VMs billed for the whole window; the first 100 s wait for the boot', () => {
    const setup = libraIc2eSetup();
    const trace = loadTrace('constant:rate=32,duration=600');
    const { report } = runSimComparison({
      setup,
      trace,
      rateFactor: 1,
      startS: 0,
      policies: ['vm-max'],
      seed: 1,
      command: 't',
    });
    const f = report.policies['vm-max'];
    assert.ok(f);
    near(f.vmUsd, (292 * 600 * 0.1) / 3600, 1e-9, 'VM cost');
    assert.equal(f.delay.delayed, 32 * 100, 'every request of the first 100 s waited');
    assert.equal(f.delay.maxS, 100);
    assert.equal(f.serverlessUsd, 0);
  });

  test('the same seed gives the same run; another seed another one', () => {
    const config = loadConfig({}, {});
    const setup = setupFromConfig(config, config.defaultModel);
    const trace = loadTrace('bursts:base=20,peak=200,every=60,length=10,duration=300');
    const run = (seed: number) =>
      runSimComparison({ setup, trace, rateFactor: 1, startS: 0, policies: ['serflow', 'spock'], seed, command: 't' })
        .report.policies;
    const a = run(1);
    const b = run(1);
    const c = run(2);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.serflow?.latencyMs, c.serflow?.latencyMs);
  });
});

describe('exit drift', () => {
  test('a schedule that sends every query to the last stage halfway through doubles deep executions accordingly', () => {
    const config = loadConfig({}, {});
    const setup = setupFromConfig(config, config.defaultModel);
    const trace = loadTrace('constant:rate=20,duration=600');
    const run = (spec?: string) =>
      runSimComparison({
        setup,
        trace,
        rateFactor: 1,
        startS: 0,
        policies: ['faas-only'],
        seed: 4,
        bound: false,
        command: 't',
        ...(spec ? { exitSchedule: parseExitSchedule(spec, setup.stages.length) } : {}),
      }).report.policies['faas-only'];
    const base = run();
    const drift = run('0=profile;300=0,0,0,1');
    assert.ok(base && drift);
    const stage4 = (f: typeof base) => (f.stageExecutions[3]?.serverless ?? 0) + (f.stageExecutions[3]?.vm ?? 0);
    const q4 = setup.profile[3]?.reachProbability ?? 0;
    // second half: every one of the 6,000 queries reaches stage 4; first half: the profile's reach
    near(stage4(drift), 6000 + 6000 * q4, 0.05, 'stage-4 executions with the drift');
    near(stage4(base), 12000 * q4, 0.1, 'stage-4 executions without it');
  });
});

describe('clairvoyant bound', () => {
  test('20 q/s for 100 s, 10 per VM-second, P = 1, C = 0.2, launch 10: two VMs all along → 220', () => {
    const counts = [new Float64Array(100).fill(20)];
    const b = boundOf(counts, [{ slotMs: 100, faasUsd: 0.2 }], 1, 1, 10);
    // all functions: 400; one VM: 100 + 10 + 10·0.2·100 = 310; two VMs: 200 + 20 = 220
    near(b.totalUsd, 220, 1e-9, 'bound');
    near(b.vmUsd, 220, 1e-9, 'all of it on VMs');
    assert.equal(b.vmSeconds, 200 + 20, 'VM-seconds include the boots');
  });

  test('a short burst is cheaper in functions than a VM launch', () => {
    const counts = [new Float64Array(100)];
    (counts[0] as Float64Array).fill(20, 0, 3);
    const b = boundOf(counts, [{ slotMs: 100, faasUsd: 0.2 }], 1, 1, 10);
    near(b.totalUsd, 3 * 20 * 0.2, 1e-9, 'all functions');
  });

  test('no policy pays less than the bound on the same run', () => {
    const config = loadConfig({}, {});
    const setup = setupFromConfig(config, config.defaultModel);
    const trace = loadTrace('step:from=50,to=400,at=600,duration=1800');
    const { report } = runSimComparison({
      setup,
      trace,
      rateFactor: 1,
      startS: 0,
      policies: ['serflow', 'libra', 'faas-only', 'spock'],
      seed: 3,
      command: 't',
    });
    assert.ok(report.bound);
    for (const p of Object.values(report.policies)) {
      assert.ok((p.costRatioToBound as number) >= 1, `${p.policy}: ${p.costRatioToBound}× the bound`);
    }
  });
});

describe("libra-ic2e preset against LIBRA's simulator (square and sin traces; WITS runs in `serflow sim`)", () => {
  for (const name of ['square', 'sin']) {
    test(`${name}: LIBRA's costs and requests by each within 2 %`, () => {
      const { report } = runSimComparison({
        setup: libraIc2eSetup(),
        trace: loadTrace(name),
        rateFactor: 1,
        startS: 0,
        policies: ['libra'],
        seed: 1,
        referenceTrace: name,
        bound: false,
        command: 't',
      });
      const ref = LIBRA_REFERENCE[name]?.libra;
      const f = report.policies.libra;
      assert.ok(ref && f);
      near(f.totalUsd, ref.totalUsd, 0.02, 'total $');
      near(f.vmUsd, ref.vmUsd, 0.02, 'VM $');
      near(f.serverlessUsd, ref.serverlessUsd, 0.02, 'serverless $');
      near(f.queriesByVm, ref.byVm, 0.02, 'requests by VM');
      near(f.queriesByServerless, ref.byServerless, 0.02, 'requests by serverless');
      assert.equal(f.delay.delayed, ref.delayed);
      const fidelity = report.targets.filter((t) => t.name.startsWith('fidelity'));
      assert.ok(fidelity.length > 0 && fidelity.every((t) => t.met), JSON.stringify(fidelity));
    });
  }
});
