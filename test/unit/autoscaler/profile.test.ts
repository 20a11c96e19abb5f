/**
 * autoscaler/profile.ts: the committed profile of the default model stays valid, broken copies are refused with
 * field-named errors, and the pure choices (resource option per stage, function memory model, cheapest memory
 * within a budget, the VM service time the policies size with: the whole handling in a live worker where it was
 * measured, else session.run) give the hand-computed numbers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cheapestFaasMemory,
  describeVmService,
  estimateFaasOption,
  faasCpuSlowdown,
  handlingCpuFloorMs,
  loadProfile,
  parseProfile,
  profilePath,
  toStageProfiles,
  type FaasMeasured,
  type ModelProfile,
  type StageProfileEntry,
  type VmHandling,
} from '../../../autoscaler/profile';
import { compileAutoscalerConfig } from '../../../autoscaler/config';
import { capacityNote, exitProfile, summarizeServiceTimes } from '../../../bench/profiler';
import { GLOBALS } from '../../helpers/autoscaler-fixture';
import { DEFAULT_FAAS_PRICE_PER_GB_SECOND_USD, DEFAULT_FAAS_PRICE_PER_REQUEST_USD } from '../../../common/config';
import { MODELS_DIR } from '../../../common/paths';
import { loadManifest, MANIFEST_FILE } from '../../../models/manifest';

const MODEL = 'mnist-ee';
const PRICES = {
  faasPerRequestUsd: DEFAULT_FAAS_PRICE_PER_REQUEST_USD, // 2e-7 $
  faasPerGbSecondUsd: DEFAULT_FAAS_PRICE_PER_GB_SECOND_USD, // 1.66667e-5 $
  faasBillingGranularityMs: 1,
};

/** A fresh copy of the committed file's JSON (typed as a profile for the mutations; it is checked separately). */
const committedRaw = (): ModelProfile => JSON.parse(fs.readFileSync(profilePath(MODEL), 'utf8')) as ModelProfile;

describe('the committed profile of the default model', () => {
  test('loads and validates against its manifest (re-run `serflow profile` when this fails)', () => {
    const profile = loadProfile(MODEL);
    const manifest = loadManifest(MODEL);
    assert.equal(profile.model, MODEL);
    assert.equal(profile.stages.length, manifest.stages.length);
  });

  test('measures VM threads 1 and 2, function memory 512/1024/2048 MB, and at least 200 runs per VM option', () => {
    const profile = loadProfile(MODEL);
    for (const s of profile.stages) {
      assert.deepEqual(
        s.vm.map((o) => o.threads),
        [1, 2],
        `stage ${s.stage} vm threads`,
      );
      for (const o of s.vm) assert.ok(o.runs >= 200, `stage ${s.stage} vm ${o.threads}: ${o.runs} runs`);
      for (const m of [512, 1024, 2048])
        assert.ok(
          s.faas.some((o) => o.memoryMb === m),
          `stage ${s.stage} ${m} MB`,
        );
      assert.ok(s.faasMeasured.coldStartMs.runs >= 3, `stage ${s.stage} cold starts`);
    }
  });

  test('both shipped profiles carry the live handling on every VM option, and it is slower than session.run', () => {
    for (const model of [MODEL, 'mnist-ee-heavy']) {
      const profile = loadProfile(model);
      for (const s of profile.stages) {
        for (const o of s.vm) {
          const where = `${model} stage ${s.stage} vm ${o.threads}`;
          assert.ok(o.handling, `${where}: no handling (re-run \`serflow profile --model ${model}\`)`);
          assert.ok(o.handling.serviceMs.p95 >= o.serviceMs.p95, `${where}: handling p95 below session.run p95`);
          assert.ok(o.handling.runs >= 200 && o.handling.saturatedRuns >= 200, `${where}: runs`);
        }
      }
      const stages = toStageProfiles(profile, { vmThreads: 1, faasMemoryMb: () => 512 });
      assert.ok(
        stages.every((p) => p.vmServiceBasis === 'handling'),
        model,
      );
    }
  });

  test('both shipped profiles: the exit profile matches the manifest calibration evaluation at the same threshold', () => {
    for (const model of [MODEL, 'mnist-ee-heavy']) {
      const profile = loadProfile(model);
      const cal = loadManifest(model).calibrationEvaluation;
      // A profile measured on another threshold or calibration set cannot be compared: that is a failure to fix
      // (re-profile, or re-evaluate the manifest), not a reason to skip the comparison.
      assert.ok(cal, `${model}: the manifest has a calibration evaluation`);
      assert.equal(profile.threshold, cal.threshold, `${model}: profile and manifest at the same threshold`);
      assert.equal(profile.calibration.samples, cal.samples, `${model}: the same calibration samples`);
      assert.equal(cal.perExit.length, profile.stages.length);
      cal.perExit.forEach((e, i) => {
        // Python and Node ORT may disagree on a borderline confidence or two out of ~1,000 samples.
        assert.ok(Math.abs(e.exitShare - profile.stages[i]!.exitShare) <= 0.005, `${model} stage ${i + 1} exit share`);
      });
    }
  });
});

describe('parseProfile: field-named errors on broken copies', () => {
  type Mutation = { what: string; mutate(p: ModelProfile): void; message: RegExp };
  /** The same object seen loosely, to put values of the wrong type in. */
  const loose = (o: object) => o as Record<string, unknown>;
  const cases: Mutation[] = [
    {
      what: 'a p95 that is a string',
      mutate: (p) => (loose(p.stages[1]!.vm[0]!.serviceMs).p95 = 'fast'),
      message: /^profile broken\.json: stages\[1\]\.vm\[0\]\.serviceMs\.p95: expected number, got string$/,
    },
    {
      what: 'a missing exit share',
      mutate: (p) => delete loose(p.stages[0]!).exitShare,
      message: /^profile broken\.json: stages\[0\]\.exitShare: expected number, got missing$/m,
    },
    {
      what: 'another profile version',
      mutate: (p) => (loose(p).profileVersion = 2),
      message: /^profile broken\.json: profileVersion: .*1/,
    },
    {
      what: 'a p99 below the p95',
      mutate: (p) => (p.stages[2]!.faasMeasured.serviceMs.p99 = p.stages[2]!.faasMeasured.serviceMs.p95 / 2),
      message: /^profile broken\.json: stages\[2\]\.faasMeasured\.serviceMs\.p99: expected >= p95/,
    },
    {
      what: 'a reach probability that does not follow from the exit shares',
      mutate: (p) => (p.stages[2]!.reachProbability = 0.5),
      message:
        /^profile broken\.json: stages\[2\]\.reachProbability: expected 0\.\d+ \(1 − exit shares of the stages before\)$/,
    },
    {
      what: 'exit shares that do not sum to 1',
      mutate: (p) => (p.stages[3]!.exitShare += 0.1),
      message: /^profile broken\.json: stages: exit shares sum to 1\.1, expected 1$/,
    },
    {
      what: 'no one-thread VM option',
      mutate: (p) => (p.stages[0]!.vm = p.stages[0]!.vm.filter((o) => o.threads !== 1)),
      message: /^profile broken\.json: stages\[0\]\.vm: expected an option with threads 1$/,
    },
    {
      what: 'stages out of order',
      mutate: (p) => (p.stages[0]!.stage = 2),
      message: /^profile broken\.json: stages\[0\]\.stage: expected 1 \(stages are listed in order\)$/,
    },
    {
      what: 'an activation on the last stage',
      mutate: (p) => (p.stages[3]!.activationBytes = 100),
      message: /^profile broken\.json: stages\[3\]\.activationBytes: expected 0 and null dims on the last stage$/,
    },
    {
      what: 'a function memory below Lambda minimum',
      mutate: (p) => (p.stages[0]!.faas[0]!.memoryMb = 64),
      message: /^profile broken\.json: stages\[0\]\.faas\[0\]\.memoryMb: .*128/,
    },
    {
      what: 'a duplicated function memory option',
      mutate: (p) => (p.stages[1]!.faas[1]!.memoryMb = p.stages[1]!.faas[0]!.memoryMb),
      message: /^profile broken\.json: stages\[1\]\.faas\[1\]\.memoryMb: duplicate \d+$/,
    },
    {
      what: 'a negative cold start',
      mutate: (p) => (p.stages[1]!.faasMeasured.coldStartMs.p50 = -1),
      message: /^profile broken\.json: stages\[1\]\.faasMeasured\.coldStartMs\.p50: /,
    },
    {
      what: 'a bad sha256',
      mutate: (p) => (p.stages[0]!.sha256 = 'abc'),
      message: /^profile broken\.json: stages\[0\]\.sha256: expected 64 lowercase hex digits$/,
    },
    {
      what: 'a measuredAt that is not an ISO date-time',
      mutate: (p) => (p.measuredAt = 'yesterday'),
      message: /^profile broken\.json: measuredAt: /,
    },
    {
      what: 'no stages',
      mutate: (p) => (p.stages = []),
      message: /^profile broken\.json: stages: /,
    },
  ];
  for (const c of cases) {
    test(`refuses ${c.what}`, () => {
      const raw = committedRaw();
      c.mutate(raw);
      assert.throws(() => parseProfile(raw, 'broken.json'), { name: 'InvalidProfileError', message: c.message });
    });
  }

  test('the unmutated copy parses (the mutations above are the only faults)', () => {
    assert.doesNotThrow(() => parseProfile(committedRaw(), 'ok.json'));
  });
});

describe('loadProfile', () => {
  let dir: string;
  const copyModel = (profile: unknown) => {
    const m = path.join(dir, MODEL);
    fs.rmSync(m, { recursive: true, force: true });
    fs.mkdirSync(m, { recursive: true });
    fs.copyFileSync(path.join(MODELS_DIR, MODEL, MANIFEST_FILE), path.join(m, MANIFEST_FILE));
    if (profile !== undefined) {
      fs.writeFileSync(path.join(m, 'profile.json'), typeof profile === 'string' ? profile : JSON.stringify(profile));
    }
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-profile-test-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('says how to make a profile when there is none', () => {
    copyModel(undefined);
    assert.throws(() => loadProfile(MODEL, dir), {
      name: 'MissingProfileError',
      message: /has no profile .*run `serflow profile --model mnist-ee`/,
    });
  });

  test('refuses a file that is not JSON, naming it', () => {
    copyModel('{ not json');
    assert.throws(() => loadProfile(MODEL, dir), {
      name: 'InvalidProfileError',
      message: /profile .*profile\.json: not valid JSON/,
    });
  });

  test('refuses a stale profile (the ONNX file changed since it was measured)', () => {
    const raw = committedRaw();
    raw.stages[2]!.sha256 = '0'.repeat(64);
    copyModel(raw);
    assert.throws(() => loadProfile(MODEL, dir), {
      name: 'InvalidProfileError',
      message: /stages\[2\]\.sha256: measured 000000000000…, but the manifest's stage-3\.onnx is .*stale/,
    });
  });

  test('refuses a profile of another model', () => {
    copyModel({ ...committedRaw(), model: 'other' });
    assert.throws(() => loadProfile(MODEL, dir), {
      name: 'InvalidProfileError',
      message: /model: expected "mnist-ee", got "other"/,
    });
  });

  test('loads a valid copy', () => {
    copyModel(committedRaw());
    assert.equal(loadProfile(MODEL, dir).model, MODEL);
  });
});

// A hand-made two-stage profile with round numbers, so every mapped figure can be checked by hand.
const st = (p50: number, p95: number, p99: number, mean: number) => ({ p50, p95, p99, mean, cv: 0.5 });
const measured: FaasMeasured = {
  configuredMemoryMb: 512,
  serviceMs: st(0.3, 0.6, 0.9, 0.4),
  inferenceMs: st(0.1, 0.2, 0.3, 0.12),
  invokeMs: st(0.8, 1.2, 1.6, 0.9),
  coldStartMs: { p50: 200, max: 300, runs: 3 },
  runs: 50,
};
/**
 * Hand-made live-handling measurements. CPU 1.2 ms per execution, 0.9 of it on the main thread, 2 vCPUs:
 * - 1 thread, no idle CPU: floor max(1000 × 1.2 / 1000, 1000 × 0.9 / 1000) = 1.2 ms; handler 2 / 5 / 7 / 2.5 ms
 *   → service (per execution the larger) 2 / 5 / 7 / 2.6 ms: mu = 1000 / 5 = 200/s (session.run: 1000 / 2 = 500/s);
 * - 2 threads, idle 30 ms/s (25 on the main thread): floor max(2000 × 1.2 / 1970, 2000 × 0.9 / 975)
 *   = max(1.218, 1.846) = 1.846 ms (the shared main thread binds); handler 1 / 3 / 4 / 1.5 ms → service
 *   1.846 / 3 / 4 / 2.1 ms: mu = 2 × 1000 / 3 = 666.7/s (session.run: 2 × 1000 / 2.5 = 800/s).
 */
const handling1: VmHandling = {
  serviceMs: st(2, 5, 7, 2.6),
  handlerMs: st(2, 5, 7, 2.5),
  sessionRunMs: st(0.5, 1.5, 2, 0.7),
  cpuMsPerExecution: 1.2,
  mainThreadCpuMsPerExecution: 0.9,
  idleCpuMsPerSecond: 0,
  idleMainThreadCpuMsPerSecond: 0,
  cpuFloorMs: 1.2,
  vcpus: 2,
  stageConcurrency: 4,
  inFlight: 1,
  saturatedInFlight: 8,
  saturatedThroughputPerSec: 300,
  runs: 1000,
  saturatedRuns: 1000,
};
const handling2: VmHandling = {
  ...handling1,
  serviceMs: st(1.846, 3, 4, 2.1),
  handlerMs: st(1, 3, 4, 1.5),
  idleCpuMsPerSecond: 30,
  idleMainThreadCpuMsPerSecond: 25,
  cpuFloorMs: 1.846,
  inFlight: 2,
};
function handStage(
  stage: number,
  exitShare: number,
  reachProbability: number,
  withHandling = false,
): StageProfileEntry {
  return {
    stage,
    sha256: 'a'.repeat(64),
    vm: [
      {
        instanceType: 'c6i.large',
        threads: 1,
        serviceMs: st(1, 2, 3, 1.2),
        throughputPerSec: 800,
        runs: 1000,
        ...(withHandling ? { handling: handling1 } : {}),
      },
      {
        instanceType: 'c6i.large',
        threads: 2,
        serviceMs: st(1.1, 2.5, 4, 1.4),
        throughputPerSec: 1400,
        runs: 1000,
        ...(withHandling ? { handling: handling2 } : {}),
      },
    ],
    faasMeasured: measured,
    faas: [512, 1024, 2048].map((m) => estimateFaasOption(measured, m)),
    activationBytes: stage === 2 ? 0 : 6272,
    activationDims: stage === 2 ? null : [1, 8, 14, 14],
    exitShare,
    reachProbability,
  };
}
/** The raw hand profile; `handling[i]`: stage i+1 carries the live-handling measurement (none by default: an old profile). */
const handRaw = (handling: [boolean, boolean] = [false, false]): ModelProfile => ({
  profileVersion: 1,
  model: 'hand',
  measuredAt: '2025-01-01T00:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'test', node: 'v20', onnxruntime: '1.30.0' },
  threshold: 0.9,
  calibration: { split: 'calibration', samples: 10, seed: 1 },
  notes: [],
  stages: [handStage(1, 0.75, 1, handling[0]), handStage(2, 0.25, 0.25, handling[1])],
});
const handProfile = (handling?: [boolean, boolean]): ModelProfile => parseProfile(handRaw(handling));

describe('the function memory model', () => {
  test('slows CPU by 1769 / memory below one vCPU and not at all above', () => {
    assert.equal(faasCpuSlowdown(512), 1769 / 512); // 3.455078125
    assert.equal(faasCpuSlowdown(1769), 1);
    assert.equal(faasCpuSlowdown(2048), 1);
  });

  test('scales every time of an option and marks it estimated; 2048 MB keeps the measured figures', () => {
    // 512 MB: × 3.455078125 → p50 0.3 → 1.0365234375 → 1.037; mean 0.4 → 1.382; p95 0.6 → 2.073; cold 200 → 691.016
    assert.deepEqual(estimateFaasOption(measured, 512), {
      memoryMb: 512,
      cpuSlowdown: 3.4551,
      estimated: true,
      serviceMs: { p50: 1.037, p95: 2.073, p99: 3.11, mean: 1.382, cv: 0.5 },
      coldStartMs: { p50: 691.016, max: 1036.523 },
      runs: 50,
    });
    // 1024 MB: × 1.7275390625 → p95 0.6 → 1.0365234375 → 1.037; mean 0.4 → 0.691
    const mid = estimateFaasOption(measured, 1024);
    assert.equal(mid.cpuSlowdown, 1.7275);
    assert.deepEqual(mid.serviceMs, { p50: 0.518, p95: 1.037, p99: 1.555, mean: 0.691, cv: 0.5 });
    const big = estimateFaasOption(measured, 2048);
    assert.equal(big.estimated, false);
    assert.deepEqual(big.serviceMs, measured.serviceMs);
    assert.deepEqual(big.coldStartMs, { p50: 200, max: 300 });
  });
});

describe('toStageProfiles', () => {
  test('maps the configured VM threads and per-stage function memory to StageProfile', () => {
    const profiles = toStageProfiles(handProfile(), {
      vmThreads: 1,
      faasMemoryMb: (stage) => (stage === 1 ? 512 : 2048),
    });
    assert.deepEqual(profiles, [
      {
        stage: 1,
        vmServiceMs: { p50: 1, p95: 2, p99: 3, mean: 1.2 },
        vmSlots: 1,
        faasMemoryMb: 512,
        faasServiceMs: { p50: 1.037, p95: 2.073, p99: 3.11, mean: 1.382 },
        faasColdStartMs: 691.016,
        exitShare: 0.75,
        reachProbability: 1,
        vmServiceBasis: 'session.run',
      },
      {
        stage: 2,
        vmServiceMs: { p50: 1, p95: 2, p99: 3, mean: 1.2 },
        vmSlots: 1,
        faasMemoryMb: 2048,
        faasServiceMs: { p50: 0.3, p95: 0.6, p99: 0.9, mean: 0.4 },
        faasColdStartMs: 200,
        exitShare: 0.25,
        reachProbability: 0.25,
        vmServiceBasis: 'session.run',
      },
    ]);
  });

  test('two inference threads take the two-thread measurement and two slots', () => {
    const [s1] = toStageProfiles(handProfile(), { vmThreads: 2, faasMemoryMb: () => 512 });
    assert.deepEqual(s1?.vmServiceMs, { p50: 1.1, p95: 2.5, p99: 4, mean: 1.4 });
    assert.equal(s1?.vmSlots, 2);
  });

  test('a memory size the profile does not list is estimated with the same model', () => {
    // 256 MB: × 1769 / 256 = 6.91015625 → p50 0.3 → 2.073; cold 200 → 1382.031
    const [s1] = toStageProfiles(handProfile(), { vmThreads: 1, faasMemoryMb: () => 256 });
    assert.equal(s1?.faasServiceMs.p50, 2.073);
    assert.equal(s1?.faasColdStartMs, 1382.031);
  });

  test('unmeasured VM threads are an error naming what was measured', () => {
    assert.throws(() => toStageProfiles(handProfile(), { vmThreads: 4, faasMemoryMb: () => 512 }), {
      name: 'ProfileOptionError',
      message:
        /stages\[0\]\.vm has no option with 4 threads \(measured: c6i\.large × 1 threads, c6i\.large × 2 threads\)/,
    });
  });

  test('the committed profile maps with the default configuration (1 thread, 512 MB)', () => {
    const profiles = toStageProfiles(loadProfile(MODEL), { vmThreads: 1, faasMemoryMb: () => 512 });
    assert.equal(profiles.length, 4);
    assert.equal(profiles[0]?.reachProbability, 1);
    for (const p of profiles) assert.equal(p.faasMemoryMb, 512);
  });
});

describe('honest capacity: the VM service time is the whole handling in a live worker where it was measured', () => {
  const mu = (p: { vmSlots: number; vmServiceMs: { p95: number } }) => (p.vmSlots * 1000) / p.vmServiceMs.p95;

  test('with vm[].handling, vmServiceMs is handling.serviceMs (1 thread: mu 200/s, not session.run 500/s)', () => {
    const profiles = toStageProfiles(handProfile([true, true]), { vmThreads: 1, faasMemoryMb: () => 2048 });
    for (const p of profiles) {
      assert.deepEqual(p.vmServiceMs, { p50: 2, p95: 5, p99: 7, mean: 2.6 });
      assert.equal(p.vmServiceBasis, 'handling');
      assert.equal(mu(p), 200);
    }
  });

  test('2 threads: the two-thread handling (floor bound by the shared main thread), mu 666.7/s not 800/s', () => {
    const [s1] = toStageProfiles(handProfile([true, true]), { vmThreads: 2, faasMemoryMb: () => 2048 });
    assert.deepEqual(s1?.vmServiceMs, { p50: 1.846, p95: 3, p99: 4, mean: 2.1 });
    assert.equal(s1?.vmSlots, 2);
    assert.ok(Math.abs(mu(s1) - 2000 / 3) < 1e-9);
  });

  test('without it (an older profile) the session.run figures, as before', () => {
    const [s1] = toStageProfiles(handProfile(), { vmThreads: 1, faasMemoryMb: () => 2048 });
    assert.deepEqual(s1?.vmServiceMs, { p50: 1, p95: 2, p99: 3, mean: 1.2 });
    assert.equal(s1?.vmServiceBasis, 'session.run');
    assert.equal(mu(s1), 500);
  });

  test('per stage: a stage with the measurement uses it, one without falls back, and the line says which', () => {
    const profiles = toStageProfiles(handProfile([false, true]), { vmThreads: 1, faasMemoryMb: () => 2048 });
    assert.deepEqual(
      profiles.map((p) => [p.vmServiceBasis, p.vmServiceMs.p95]),
      [
        ['session.run', 2],
        ['handling', 5],
      ],
    );
    assert.equal(
      describeVmService(profiles),
      'VM service time: whole handling in a live stage worker (stages 2); session.run() alone (stages 1); ' +
        'mu per VM (vmSlots × 1000 / p95, per s): 1: 500, 2: 200',
    );
    assert.match(
      describeVmService(toStageProfiles(handProfile(), { vmThreads: 1, faasMemoryMb: () => 512 })),
      /predates the handling measurement, re-run `serflow profile`/,
    );
  });

  test('vmService forces a basis: session.run for comparison; handling is an error where it was not measured', () => {
    const old = toStageProfiles(handProfile([true, true]), {
      vmThreads: 1,
      faasMemoryMb: () => 2048,
      vmService: 'session.run',
    });
    assert.deepEqual(
      old.map((p) => [p.vmServiceBasis, p.vmServiceMs.p95]),
      [
        ['session.run', 2],
        ['session.run', 2],
      ],
    );
    assert.throws(
      () =>
        toStageProfiles(handProfile([true, false]), { vmThreads: 1, faasMemoryMb: () => 512, vmService: 'handling' }),
      {
        name: 'ProfileOptionError',
        message: /stages\[1\]\.vm option c6i\.large × 1 threads has no handling measurement/,
      },
    );
  });

  test('the compiled autoscaler config takes mu_k from the handling: 1000 / 5 = 200/s per VM', () => {
    const compiled = compileAutoscalerConfig(
      {},
      GLOBALS,
      toStageProfiles(handProfile([true, true]), { vmThreads: 1, faasMemoryMb: () => 512 }),
    );
    assert.deepEqual(
      compiled.stages.map((s) => [s.vmServiceP95Ms, s.muPerVm]),
      [
        [5, 200],
        [5, 200],
      ],
    );
  });

  test('the profile note compares both mu per stage and thread count', () => {
    assert.equal(
      capacityNote(handRaw([true, false]).stages),
      'mu per VM (threads × 1000 / p95), whole handling (session.run alone): ' +
        'stage 1: 1 thread 200/s (session.run 500/s), 2 threads 667/s (session.run 800/s); ' +
        'stage 2: 1 thread not measured (session.run 500/s), 2 threads not measured (session.run 800/s).',
    );
  });
});

describe('handlingCpuFloorMs: the per-slot CPU floor, hand-computed', () => {
  const base = { vcpus: 2, cpuMsPerExecution: 1.2, mainThreadCpuMsPerExecution: 0.9 };
  const none = { idleCpuMsPerSecond: 0, idleMainThreadCpuMsPerSecond: 0 };
  test('one thread, no idle CPU: the whole CPU of an execution, 1.2 ms', () => {
    assert.equal(handlingCpuFloorMs({ ...base, ...none, threads: 1 }), 1.2);
  });
  test('two threads on two vCPUs: the shared main thread binds, 2 × 0.9 = 1.8 ms', () => {
    assert.equal(handlingCpuFloorMs({ ...base, ...none, threads: 2 }), 1.8);
  });
  test('four threads on two vCPUs with a light main thread: the cores bind, 1.2 × 4 / 2 = 2.4 ms', () => {
    assert.equal(handlingCpuFloorMs({ ...base, ...none, threads: 4, mainThreadCpuMsPerExecution: 0.3 }), 2.4);
  });
  test('idle CPU comes off the budgets: 1 thread, 30 ms/s idle (25 main) → 1.2 × 1000 / 970', () => {
    const f = handlingCpuFloorMs({ ...base, threads: 1, idleCpuMsPerSecond: 30, idleMainThreadCpuMsPerSecond: 25 });
    assert.ok(Math.abs(f - 1200 / 970) < 1e-12, `${f}`);
    const f2 = handlingCpuFloorMs({ ...base, threads: 2, idleCpuMsPerSecond: 30, idleMainThreadCpuMsPerSecond: 25 });
    assert.ok(Math.abs(f2 - 1800 / 975) < 1e-12, `${f2}`);
  });
  test('no budget left: an infinite floor (the worker carries nothing)', () => {
    assert.equal(
      handlingCpuFloorMs({ ...base, threads: 1, idleCpuMsPerSecond: 0, idleMainThreadCpuMsPerSecond: 1000 }),
      Number.POSITIVE_INFINITY,
    );
  });
});

describe('parseProfile: the handling measurement is optional and checked', () => {
  test('a profile with it parses and keeps it; one without it parses too (old profiles stay readable)', () => {
    assert.deepEqual(handProfile([true, true]).stages[0]?.vm[0]?.handling, handling1);
    assert.equal(handProfile().stages[0]?.vm[0]?.handling, undefined);
  });

  type Mutation = { what: string; mutate(h: VmHandling): void; message: RegExp };
  const loose = (o: object) => o as Record<string, unknown>;
  const cases: Mutation[] = [
    {
      what: 'a service p95 below the handler p95 (not the per-execution max)',
      mutate: (h) => (h.serviceMs = st(2, 4.5, 7, 2.6)),
      message:
        /^profile h\.json: stages\[0\]\.vm\[0\]\.handling\.serviceMs\.p95: expected >= max\(handlerMs\.p95, cpuFloorMs\) = 5/,
    },
    {
      what: 'a service p50 below the CPU floor (session.run figures passed off as handling)',
      mutate: (h) => (h.serviceMs = { ...h.serviceMs, p50: 1 }),
      message: /stages\[0\]\.vm\[0\]\.handling\.serviceMs\.p50: expected >= max\(handlerMs\.p50, cpuFloorMs\) = 2/,
    },
    {
      what: 'a floor that does not follow from the CPU figures',
      mutate: (h) => (h.cpuFloorMs = 0.5),
      message: /stages\[0\]\.vm\[0\]\.handling\.cpuFloorMs: expected 1\.2 \(handlingCpuFloorMs/,
    },
    {
      what: 'more main-thread CPU than the whole process',
      mutate: (h) => (h.mainThreadCpuMsPerExecution = 2),
      message: /stages\[0\]\.vm\[0\]\.handling\.mainThreadCpuMsPerExecution: expected <= cpuMsPerExecution/,
    },
    {
      what: 'a missing CPU figure',
      mutate: (h) => delete loose(h).cpuMsPerExecution,
      message: /stages\[0\]\.vm\[0\]\.handling\.cpuMsPerExecution: expected number, got missing/,
    },
    {
      what: 'a zero CPU per execution',
      mutate: (h) => (h.cpuMsPerExecution = 0),
      message: /stages\[0\]\.vm\[0\]\.handling\.cpuMsPerExecution: /,
    },
  ];
  for (const c of cases) {
    test(`refuses ${c.what}`, () => {
      const raw = handRaw([true, true]);
      const h = structuredClone(handling1);
      c.mutate(h);
      raw.stages[0]!.vm[0]!.handling = h;
      assert.throws(() => parseProfile(raw, 'h.json'), { name: 'InvalidProfileError', message: c.message });
    });
  }
});

describe('cheapestFaasMemory', () => {
  // Options of the hand stage (mean / p95, ms) and their cost at the default prices, billed on ceil(mean):
  //   512 MB:  1.382 / 2.073 → 2 ms → 2e-7 + 1.66667e-5 × 0.5 GB × 0.002 s = 2.1666670e-7 $
  //   1024 MB: 0.691 / 1.037 → 1 ms → 2e-7 + 1.66667e-5 × 1 GB × 0.001 s   = 2.1666670e-7 $ (the same)
  //   2048 MB: 0.4   / 0.6   → 1 ms → 2e-7 + 1.66667e-5 × 2 GB × 0.001 s   = 2.3333340e-7 $
  const stage = handStage(1, 1, 1);
  const cases: Array<{ budgetMs: number; want: number | undefined; why: string }> = [
    { budgetMs: 5, want: 512, why: 'all fit; 512 and 1024 MB cost the same, the smaller wins' },
    { budgetMs: 2.073, want: 512, why: 'a p95 equal to the budget fits' },
    { budgetMs: 1.5, want: 1024, why: '512 MB p95 2.073 > 1.5; 1024 MB is cheaper than 2048 MB' },
    { budgetMs: 0.8, want: 2048, why: 'only 2048 MB (p95 0.6) fits' },
    { budgetMs: 0.5, want: undefined, why: 'nothing fits' },
  ];
  for (const c of cases) {
    test(`budget ${c.budgetMs} ms → ${c.want ?? 'none'} (${c.why})`, () => {
      assert.equal(cheapestFaasMemory(stage, c.budgetMs, PRICES)?.memoryMb, c.want);
    });
  }

  test('reports the cost and p95 of its pick', () => {
    const pick = cheapestFaasMemory(stage, 1.5, PRICES);
    assert.ok(pick);
    assert.equal(pick.p95Ms, 1.037);
    assert.ok(Math.abs(pick.costUsd - 2.166667e-7) < 1e-15, `${pick.costUsd}`);
  });
});

describe('profiler arithmetic', () => {
  test('exitProfile applies the exit rule: first confident stage, else the last', () => {
    // thresholds 0.9: [0.95,…] exits at 1; [0.5,0.92,…] at 2; [0.5,0.5,0.1] at 3 (last); [0.2,0.3,0.95] at 3
    const { exitShare, reachProbability } = exitProfile(
      [
        [0.95, 0.1, 0.1],
        [0.5, 0.92, 0.1],
        [0.5, 0.5, 0.1],
        [0.2, 0.3, 0.95],
      ],
      0.9,
      3,
    );
    assert.deepEqual(exitShare, [0.25, 0.25, 0.5]);
    assert.deepEqual(reachProbability, [1, 0.75, 0.5]);
  });

  test('summarizeServiceTimes: quantiles, mean and cv of a known sample', () => {
    // 1..100: p50 50.5, p95 95.05, p99 99.01, mean 50.5, population std 28.866 → cv 0.5716
    const s = summarizeServiceTimes(Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual(s, { p50: 50.5, p95: 95.05, p99: 99.01, mean: 50.5, cv: 0.5716 });
  });
});
