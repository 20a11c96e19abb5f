/**
 * Offline profiling (method.md, "Offline profiling"): measures a model on this machine and returns its profile
 * (autoscaler/profile.ts), validated.
 *
 * 1. Calibration pass: every calibration sample runs through every stage in order (one-thread inference pools),
 *    keeping each stage's real input activation and each exit's confidence. The exit profile q_k / p_k follows
 *    from the confidences with the workflow's exit rule; the activation sizes from the outputs.
 * 2. VM path: each stage on `createInferencePool` (the stage worker's inference), once per thread count, with
 *    twice as many executions in flight as threads so every thread stays busy; warm-up runs are discarded, then
 *    `runs` executions on the stage's real inputs (cycled) give the distribution of `session.run()` time and the
 *    throughput.
 * 3. Function path: the real local serverless platform on a private nats-server: `coldStarts` new instances per
 *    stage (one platform per cold start, closed after it, so the next call must start a new instance), then
 *    `warmCalls` calls on the last one. The platform's configured cold-start extra is set to 0 and the time
 *    scale to 1, so `initMs` is the real start alone.
 *
 * Everything started here (threads, nats-server, instance processes, the temporary store) is stopped before
 * `profileModel` returns or throws.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createActivationStore } from '../infra/activation-store';
import { createInferencePool } from '../models/runtime/inference-pool';
import { stageRunnerOptions, type StageRunner } from '../models/runtime/stage-runner';
import { createBillingPublisher } from '../billing/publisher';
import type { SerflowConfig } from '../common/config';
import type { StageCallContext, StageInput } from '../common/contracts';
import { quantile, sampleIndices, summarizeLatency } from '../common/stats';
import { freePort, stopPid } from '../deploy/local/processes';
import { createLocalServerlessPlatform } from '../deploy/local/serverless-platform';
import { startNatsServer } from '../deploy/local/nats-server';
import { ensureNatsResources } from '../infra/nats';
import { loadSplit } from '../models/dataset';
import { concreteInputDims, loadManifest, softmaxMax, type ModelManifest, type StageSpec } from '../models/manifest';
import { shouldExit } from '../common/exit-rule';
import {
  DEFAULT_FAAS_MEMORY_OPTIONS_MB,
  LAMBDA_FULL_VCPU_MEMORY_MB,
  estimateFaasOption,
  parseProfile,
  PROFILE_VERSION,
  type FaasMeasured,
  type ModelProfile,
  type ServiceTime,
  type StageProfileEntry,
  type VmOption,
} from '../autoscaler/profile';

/** Measured executions per stage and VM option, after warm-up: a p99 with 10 samples above it (stages take µs). */
export const DEFAULT_PROFILE_RUNS = 1000;
/** Each VM measurement lasts at least this long, ms, so its throughput is not a few ms of scheduling noise. */
export const VM_MIN_MEASURE_WALL_MS = 2_000;
/** Fewer runs than this make the p99 a guess (2 samples above it): refused. */
export const MIN_PROFILE_RUNS = 200;
/** Executions discarded per pool before measuring (ORT's first runs allocate and tune). */
export const PROFILE_WARMUP_RUNS = 50;
/** VM options measured: one and two inference threads (a c6i.large has 2 vCPUs). */
export const DEFAULT_PROFILE_VM_THREADS: readonly number[] = [1, 2];
/** New function instances started per stage; a cold start takes ~0.2 s here, a few show the spread. */
export const DEFAULT_PROFILE_COLD_STARTS = 5;
/** Warm function calls measured per stage (after FAAS_WARMUP_CALLS). */
export const DEFAULT_PROFILE_WARM_CALLS = 200;
const FAAS_WARMUP_CALLS = 5;
/** Seed of the calibration sample choice when `samples` is below the split size. */
export const DEFAULT_PROFILE_SEED = 1;
/** Time the private nats-server gets to accept connections. */
const NATS_READY_TIMEOUT_MS = 15_000;
/** Difference in an exit share from the manifest's calibration evaluation worth a warning (Python vs Node ORT). */
const EXIT_SHARE_WARN_DIFF = 0.005;

export interface ProfileModelOptions {
  config: SerflowConfig;
  /** @default config.defaultModel */
  model?: string;
  /** Exit threshold of the exit profile. @default the manifest's defaultThreshold */
  threshold?: number;
  /** Calibration samples used (a seeded random subset when fewer than the split). @default the whole split */
  samples?: number;
  /** @default DEFAULT_PROFILE_SEED */
  seed?: number;
  /** Measured executions per stage and VM option. @default DEFAULT_PROFILE_RUNS, at least MIN_PROFILE_RUNS */
  runs?: number;
  /** @default DEFAULT_PROFILE_VM_THREADS */
  vmThreads?: readonly number[];
  /** @default DEFAULT_FAAS_MEMORY_OPTIONS_MB plus the configured `faas.memoryMb` and `faas.stageMemoryMb` sizes */
  faasMemoryOptionsMb?: readonly number[];
  /** @default DEFAULT_PROFILE_COLD_STARTS */
  coldStarts?: number;
  /** @default DEFAULT_PROFILE_WARM_CALLS */
  warmCalls?: number;
  /** One line per step (the CLI writes them to stderr). */
  onProgress?: (line: string) => void;
  /** Abort between measurements (Ctrl-C); everything started is still stopped. */
  signal?: AbortSignal;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The latency summary (common/stats.ts) in ms rounded to µs, without the max (the profile does not keep it), and
 * cv = population std / mean (4 decimals).
 */
export function summarizeServiceTimes(values: readonly number[]): ServiceTime {
  if (values.length === 0) throw new RangeError('summarizeServiceTimes: no values');
  const { p50, p95, p99, mean } = summarizeLatency(values, 3);
  const exactMean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - exactMean) ** 2, 0) / values.length;
  return { p50, p95, p99, mean, cv: exactMean > 0 ? round(Math.sqrt(variance) / exactMean, 4) : 0 };
}

/**
 * Exit shares q_k and reach probabilities p_k from per-sample confidences (`confidences[i][k-1]`) with the
 * workflow's exit rule: a sample exits at the first stage with confidence >= threshold, or at the last stage.
 */
export function exitProfile(
  confidences: readonly (readonly number[])[],
  threshold: number,
  stages: number,
): { exitShare: number[]; reachProbability: number[] } {
  const exits = new Array<number>(stages).fill(0);
  for (const c of confidences) {
    for (let k = 1; k <= stages; k++) {
      if (shouldExit(c[k - 1] ?? Number.NaN, threshold, k, stages)) {
        exits[k - 1]!++;
        break;
      }
    }
  }
  const n = confidences.length;
  const exitShare = exits.map((e) => e / n);
  let reached = n;
  const reachProbability = exits.map((e) => {
    const p = reached / n;
    reached -= e;
    return p;
  });
  return { exitShare, reachProbability };
}

interface StageInputs {
  data: Float32Array[];
  dims: number[];
}

/** Stage `spec` on `threads` inference threads, as a stage worker runs it. */
function stageRunner(manifest: ModelManifest, spec: StageSpec, config: SerflowConfig, threads: number): StageRunner {
  return createInferencePool({
    ...stageRunnerOptions(manifest, spec, config.modelsDir, config.workers.intraOpThreads),
    threads,
  });
}

/**
 * Run at least `total` executions, `inFlight` at a time, and keep going until `minWallMs` have passed (a
 * throughput over a few ms of µs-long runs is noise); returns each execution's service time and the wall ms.
 */
async function measureRunner(
  runner: StageRunner,
  inputs: StageInputs,
  total: number,
  inFlight: number,
  signal?: AbortSignal,
  minWallMs = 0,
): Promise<{ serviceMs: number[]; wallMs: number }> {
  const serviceMs: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < total || performance.now() - t0 < minWallMs) {
      signal?.throwIfAborted();
      const i = next++;
      // The runner transfers its input buffer to the thread: hand it a copy.
      const data = new Float32Array(inputs.data[i % inputs.data.length]!);
      const out = await runner.run(data, inputs.dims);
      serviceMs.push(out.serviceMs);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { serviceMs, wallMs: performance.now() - t0 };
}

/** The memory options to list: the defaults plus every configured size, sorted. */
function memoryOptions(config: SerflowConfig, explicit?: readonly number[]): number[] {
  const all = explicit ?? [
    ...DEFAULT_FAAS_MEMORY_OPTIONS_MB,
    config.faas.memoryMb,
    ...Object.values(config.faas.stageMemoryMb),
  ];
  return [...new Set(all)].sort((a, b) => a - b);
}

/** A private nats-server with JetStream on a free port and a temporary store; `stop` removes everything. */
async function startPrivateNats(config: SerflowConfig, workDir: string) {
  const server = await startNatsServer({
    port: await freePort(),
    storeDir: path.join(workDir, 'jetstream'),
    logDir: workDir,
    clientName: 'serflow-profiler',
    readyTimeoutMs: NATS_READY_TIMEOUT_MS,
  });
  const { url, nc } = server;
  const stop = async () => {
    await nc.close().catch(() => undefined);
    await stopPid(server.process.pid);
  };
  try {
    await ensureNatsResources(nc, config);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, nc, stop };
}

/** Measure `model` on this machine and return its validated profile (see the module comment). */
export async function profileModel(options: ProfileModelOptions): Promise<ModelProfile> {
  const { config, signal } = options;
  const log = options.onProgress ?? (() => undefined);
  const model = options.model ?? config.defaultModel;
  const manifest = loadManifest(model, config.modelsDir);
  const K = manifest.stages.length;
  const threshold = options.threshold ?? manifest.defaultThreshold;
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`threshold ${threshold}: expected a number in (0, 1]`);
  const runs = options.runs ?? DEFAULT_PROFILE_RUNS;
  if (!Number.isInteger(runs) || runs < MIN_PROFILE_RUNS) {
    throw new RangeError(`runs ${runs}: expected an integer >= ${MIN_PROFILE_RUNS} (a p99 needs samples above it)`);
  }
  const vmThreads = [...new Set(options.vmThreads ?? DEFAULT_PROFILE_VM_THREADS)].sort((a, b) => a - b);
  if (!vmThreads.includes(1)) throw new RangeError('vmThreads: must include 1');
  const coldStarts = options.coldStarts ?? DEFAULT_PROFILE_COLD_STARTS;
  const warmCalls = options.warmCalls ?? DEFAULT_PROFILE_WARM_CALLS;
  if (!(coldStarts >= 1 && warmCalls >= 1)) throw new RangeError('coldStarts and warmCalls: expected at least 1');
  const seed = options.seed ?? DEFAULT_PROFILE_SEED;

  // Other work on the machine inflates every figure: recorded with them.
  const loadAtStart = os.loadavg().map((x) => round(x, 2));
  const split = loadSplit(manifest, 'calibration');
  const samples = Math.min(options.samples ?? split.images.length, split.images.length);
  if (!(samples >= 1)) throw new RangeError(`samples ${options.samples}: expected a positive integer`);
  const picked =
    samples === split.images.length ? split.images.map((_, i) => i) : sampleIndices(split.images.length, samples, seed);

  // 1. Calibration pass: real inputs of every stage, confidences of every exit.
  log(`${model}: calibration pass over ${samples} samples, ${K} stages, threshold ${threshold}`);
  const inputDims = concreteInputDims(manifest.stages[0]!);
  const inputs: StageInputs[] = manifest.stages.map(() => ({ data: [], dims: [] }));
  inputs[0]!.dims = inputDims;
  const activationDims: (number[] | null)[] = new Array<number[] | null>(K).fill(null);
  const confidences: number[][] = [];
  const oneThread = manifest.stages.map((spec) => stageRunner(manifest, spec, config, 1));
  try {
    for (const idx of picked) {
      signal?.throwIfAborted();
      const conf: number[] = [];
      let data: Float32Array = new Float32Array(split.images[idx]!);
      let dims = inputDims;
      for (let k = 1; k <= K; k++) {
        inputs[k - 1]!.data.push(new Float32Array(data));
        inputs[k - 1]!.dims = dims;
        const out = await oneThread[k - 1]!.run(data, dims);
        conf.push(softmaxMax(out.logits).confidence);
        if (k === K) break;
        if (!out.activation || !out.activationDims) throw new Error(`${model} stage ${k} produced no activation`);
        activationDims[k - 1] = out.activationDims;
        data = out.activation;
        dims = out.activationDims;
      }
      confidences.push(conf);
    }
  } finally {
    await Promise.all(oneThread.map((r) => r.close()));
  }
  const exits = exitProfile(confidences, threshold, K);
  log(`exit shares ${exits.exitShare.map((q) => q.toFixed(4)).join(' / ')}`);
  const cal = manifest.calibrationEvaluation;
  if (cal && cal.threshold === threshold && cal.samples === samples) {
    cal.perExit.forEach((e, i) => {
      const diff = Math.abs(e.exitShare - (exits.exitShare[i] ?? 0));
      if (diff > EXIT_SHARE_WARN_DIFF) {
        log(`warning: stage ${i + 1} exit share ${exits.exitShare[i]} differs from the manifest's ${e.exitShare}`);
      }
    });
  }

  // 2. VM path: each stage on 1 and 2 inference threads, all busy.
  const vm: VmOption[][] = manifest.stages.map(() => []);
  for (const spec of manifest.stages) {
    for (const threads of vmThreads) {
      signal?.throwIfAborted();
      const k = spec.index;
      const runner = stageRunner(manifest, spec, config, threads);
      try {
        await runner.warmUp(inputs[k - 1]!.dims);
        await measureRunner(runner, inputs[k - 1]!, PROFILE_WARMUP_RUNS, 2 * threads, signal);
        const m = await measureRunner(runner, inputs[k - 1]!, runs, 2 * threads, signal, VM_MIN_MEASURE_WALL_MS);
        const serviceMs = summarizeServiceTimes(m.serviceMs);
        const done = m.serviceMs.length;
        const throughputPerSec = round((done / m.wallMs) * 1000, 1);
        vm[k - 1]!.push({ instanceType: config.vm.instanceType, threads, serviceMs, throughputPerSec, runs: done });
        log(
          `stage ${k} VM ${threads} thread(s): p50 ${serviceMs.p50} ms, p95 ${serviceMs.p95} ms, p99 ${serviceMs.p99} ms, ${throughputPerSec}/s`,
        );
      } finally {
        await runner.close();
      }
    }
  }

  // 3. Function path: the real local serverless platform on a private nats-server.
  const faasConfig: SerflowConfig = {
    ...config,
    timeScale: 1,
    faas: { ...config.faas, coldStartExtraMs: 0, accountConcurrency: Math.max(1, config.faas.accountConcurrency) },
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-profile-'));
  const faasMeasured: FaasMeasured[] = [];
  log(`starting a private nats-server (work dir ${workDir})`);
  const nats = await startPrivateNats(faasConfig, workDir);
  try {
    const billing = createBillingPublisher(nats.nc, 1);
    const store = await createActivationStore(nats.nc);
    let seq = 0;
    const call = (k: number, i: number): Promise<[StageInput, StageCallContext]> => {
      const n = ++seq;
      const src = inputs[k - 1]!;
      const workflowId = `profile-${model}-${n}`;
      return store
        .toRef(src.data[i % src.data.length]!, src.dims, `${workflowId}/input`, config.activations.inlineMaxBytes)
        .then((activation) => [
          {
            queryId: `profile-${n}`,
            model,
            stage: k,
            lastStage: K,
            threshold,
            activation,
            inlineActivationMaxBytes: config.activations.inlineMaxBytes,
          },
          { workflowId, runId: 'profile', attempt: 1, scheduledAt: Date.now(), taskQueue: 'profile' },
        ]);
    };
    for (const spec of manifest.stages) {
      const k = spec.index;
      const cold: number[] = [];
      const duration: number[] = [];
      const inference: number[] = [];
      const invoke: number[] = [];
      for (let c = 0; c < coldStarts; c++) {
        signal?.throwIfAborted();
        const platform = createLocalServerlessPlatform({
          config: faasConfig,
          natsUrl: nats.url,
          nc: nats.nc,
          billing,
          logDir: path.join(workDir, 'logs'),
          log: (line) => log(line),
        });
        try {
          const first = await platform.invoke({ model, stage: k }, ...(await call(k, c)));
          if (!first.coldStart) throw new Error(`stage ${k}: the first call on a new platform was not a cold start`);
          cold.push(first.initMs - faasConfig.faas.coldStartExtraMs);
          if (c < coldStarts - 1) continue;
          for (let i = 0; i < FAAS_WARMUP_CALLS + warmCalls; i++) {
            signal?.throwIfAborted();
            const args = await call(k, i);
            const t0 = performance.now();
            const inv = await platform.invoke({ model, stage: k }, ...args);
            const wall = performance.now() - t0;
            if (inv.coldStart) throw new Error(`stage ${k}: a warm call started a new instance`);
            if (i < FAAS_WARMUP_CALLS) continue;
            duration.push(inv.durationMs);
            inference.push(inv.output.serviceMs);
            invoke.push(wall);
          }
        } finally {
          await platform.close();
        }
      }
      const measured: FaasMeasured = {
        configuredMemoryMb: config.faas.stageMemoryMb[String(k)] ?? config.faas.memoryMb,
        serviceMs: summarizeServiceTimes(duration),
        inferenceMs: summarizeServiceTimes(inference),
        invokeMs: summarizeServiceTimes(invoke),
        coldStartMs: {
          p50: round(quantile(cold, 0.5)),
          max: round(Math.max(...cold)),
          runs: cold.length,
        },
        runs: duration.length,
      };
      faasMeasured.push(measured);
      log(
        `stage ${k} function: warm p50 ${measured.serviceMs.p50} ms (inference ${measured.inferenceMs.p50} ms), ` +
          `cold start p50 ${measured.coldStartMs.p50} ms (max ${measured.coldStartMs.max} ms)`,
      );
    }
  } finally {
    await nats.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }

  const memories = memoryOptions(config, options.faasMemoryOptionsMb);
  const cpus = os.cpus();
  // Shares rounded to 6 decimals; the last one takes the rounding remainder and every p_k is computed from the
  // rounded shares, so "p_k = 1 − (q_1 + … + q_{k−1})" and "shares sum to 1" hold in the file as written.
  const shares = exits.exitShare.map((q) => round(q, 6));
  shares[K - 1] = round(1 - shares.slice(0, -1).reduce((a, q) => a + q, 0), 6);
  let reached = 1;
  const stages: StageProfileEntry[] = manifest.stages.map((spec, i) => {
    const dims = spec.outputs.activation ? activationDims[i]! : null;
    const reachProbability = round(reached, 6);
    reached -= shares[i]!;
    return {
      stage: spec.index,
      sha256: spec.sha256,
      vm: vm[i]!,
      faasMeasured: faasMeasured[i]!,
      faas: memories.map((m) => estimateFaasOption(faasMeasured[i]!, m)),
      activationBytes: dims ? dims.reduce((a, d) => a * d, 1) * Float32Array.BYTES_PER_ELEMENT : 0,
      activationDims: dims,
      exitShare: shares[i]!,
      reachProbability,
    };
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  const profile: ModelProfile = {
    profileVersion: PROFILE_VERSION,
    model,
    measuredAt: new Date().toISOString(),
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      node: process.version,
      onnxruntime: ortVersion,
      loadAverage: loadAtStart,
    },
    threshold,
    calibration: { split: 'calibration', samples, seed },
    notes: [
      `VM figures: this machine stands for a ${config.vm.instanceType}; serviceMs is the time inside session.run() with ` +
        `every one of \`threads\` inference threads busy (intraOpThreads ${config.workers.intraOpThreads}), ` +
        `${PROFILE_WARMUP_RUNS} warm-up runs discarded.`,
      'faasMeasured: a local function instance (one process, one ONNX Runtime thread) gets a full core whatever ' +
        'its configured memory; serviceMs is the warm handler duration (what Lambda bills), coldStartMs the real ' +
        'instance start (process, NATS connect, model load, warm-up run) without the configured platform extra.',
      `faas options: on AWS Lambda CPU is proportional to memory, one vCPU at ${LAMBDA_FULL_VCPU_MEMORY_MB} MB, and a ` +
        `single-threaded stage cannot use more; so every time of an option is the measured one × ` +
        `max(1, ${LAMBDA_FULL_VCPU_MEMORY_MB} / memoryMb) (cpuSlowdown), cv unchanged. Options with cpuSlowdown 1 ` +
        'carry the measured figures (estimated: false); the others are estimates (estimated: true).',
      'exitShare / reachProbability: the workflow exit rule on the calibration split at `threshold`; a sample no ' +
        'exit is confident about exits at the last stage.',
    ],
    stages,
  };
  return parseProfile(profile, `${model} (just measured)`);
}
