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
 * 3. Live handling (honest capacity): a private embedded stack (Temporal dev server + nats-server, no
 *    workers) and, per stage and thread count, one real stage-worker process (the one a VM runs, with
 *    `workers.inferenceThreads` = threads), driven directly on its VM task queue with `runStage` standalone
 *    activities from the Temporal client in a closed loop: first saturated (2 × `workers.stageConcurrency` in
 *    flight, so its slots never idle) for the worker process's CPU per execution (all threads, and its main thread,
 *    from /proc), then one execution per slot for the wall handling time (`handlerMs` of the stage outputs). The
 *    service time the policies size with is per execution max(handlerMs, CPU floor) (autoscaler/profile.ts
 *    `handlingCpuFloorMs`), stored as `vm[].handling`.
 * 4. Function path: the real local serverless platform on a private nats-server: `coldStarts` new instances per
 *    stage (one platform per cold start, closed after it, so the next call must start a new instance), then
 *    `warmCalls` calls on the last one. The platform's configured cold-start extra is set to 0 and the time
 *    scale to 1, so `initMs` is the real start alone.
 *
 * Everything started here (threads, servers, worker and instance processes, the temporary stores) is stopped before
 * `profileModel` returns or throws.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, type Connection } from '@temporalio/client';
import { createActivationStore, type ActivationStore } from '../infra/activation-store';
import { createInferencePool } from '../models/runtime/inference-pool';
import { stageRunnerOptions, type StageRunner } from '../models/runtime/stage-runner';
import { createBillingPublisher } from '../billing/publisher';
import type { SerflowConfig } from '../common/config';
import type { StageCallContext, StageInput, StageOutput, TensorRef } from '../common/contracts';
import { stageTaskQueue } from '../common/naming';
import { quantile, sampleIndices, summarizeLatency } from '../common/stats';
import { CHILD_MAIN_SCRIPT, freePort, spawnManaged, stopPid, tailLog } from '../deploy/local/processes';
import { startStack, type RunningStack } from '../deploy/local/stack';
import { connectClientConnection } from '../infra/temporal';
import { connectNats } from '../infra/nats';
import { retryUntil } from '../infra/retry';
import { listWorkers } from '../infra/worker-status';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import { processCpuMs } from './overhead/cpu';
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
  handlingCpuFloorMs,
  parseProfile,
  PROFILE_VERSION,
  type FaasMeasured,
  type ModelProfile,
  type ServiceTime,
  type StageProfileEntry,
  type VmHandling,
  type VmOption,
  describeVmService,
  toStageProfiles,
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
/** Live handling: executions in flight per activity slot of the worker while its CPU is measured (slots never idle). */
export const HANDLING_SATURATION_PER_SLOT = 2;
/** Live handling: the saturated phase lasts at least this long, ms (CPU is read in 10 ms clock ticks). */
export const HANDLING_MIN_SATURATED_WALL_MS = 3_000;
/** Live handling: how long the worker's idle CPU (timers, polls, status) is measured, ms. */
export const HANDLING_IDLE_MS = 3_000;
/** Live handling: distinct real inputs of a stage sent, cycled (the claim-checked ones are stored once each). */
const HANDLING_INPUTS = 32;
/** Time a live stage worker gets to load its model and poll. */
const HANDLING_WORKER_READY_MS = 60_000;
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
  /**
   * Measure the whole handling in a live stage worker (step 3; Linux: CPU is read from /proc). Without it the
   * profile has no `vm[].handling` and the policies size VMs with the session.run() time. @default true
   */
  handling?: boolean;
  /** Executions of a stage per VM option in each handling phase. @default `runs` */
  handlingRuns?: number;
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

/** The private embedded stack of the live-handling step and what drives it. */
interface HandlingRig {
  config: SerflowConfig;
  stack: RunningStack;
  connection: Connection;
  client: Client;
  nc: Awaited<ReturnType<typeof connectNats>>;
  store: ActivationStore;
  logDir: string;
  close(): Promise<void>;
}

/** Start a Temporal dev server and a nats-server (no workers) under `workDir`, with a client and a NATS connection. */
async function startHandlingRig(
  config: SerflowConfig,
  workDir: string,
  log: (l: string) => void,
): Promise<HandlingRig> {
  // Always private and embedded, whatever servers the configuration names: nothing else polls these queues.
  const rigConfig: SerflowConfig = {
    ...config,
    homeDir: workDir,
    temporal: { ...config.temporal, address: undefined, port: 0, uiPort: 0 },
    nats: { ...config.nats, url: undefined, port: 0 },
  };
  const stack = await startStack({
    config: rigConfig,
    workers: false,
    dataDir: path.join(workDir, 'data'),
    onProgress: (l) => log(`handling stack: ${l}`),
  });
  const closers: (() => Promise<unknown>)[] = [() => stack.stop()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const connection = await connectClientConnection({
      address: stack.info.temporalAddress,
      embedded: stack.info.embeddedTemporal,
    });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: rigConfig.temporal.namespace });
    const nc = await connectNats(stack.info.natsUrl, 'serflow-profiler');
    closers.push(() => nc.close());
    const store = await createActivationStore(nc);
    return { config: rigConfig, stack, connection, client, nc, store, logDir: path.join(workDir, 'logs'), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Closed loop of `inFlight` lanes calling `call(lane, n)` until at least `total` calls are done and `minWallMs`
 * have passed; returns every output and the wall ms.
 */
async function closedLoop<T>(
  call: (lane: number, n: number) => Promise<T>,
  total: number,
  inFlight: number,
  signal?: AbortSignal,
  minWallMs = 0,
): Promise<{ outputs: T[]; wallMs: number }> {
  const outputs: T[] = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async (l: number) => {
    while (next < total || performance.now() - t0 < minWallMs) {
      signal?.throwIfAborted();
      outputs.push(await call(l, next++));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, l) => lane(l)));
  return { outputs, wallMs: performance.now() - t0 };
}

/**
 * The whole handling of stage `spec` in one live stage-worker process with `threads` inference threads (module
 * comment, step 3). The worker is the one a VM of the local provider runs (`child-main.js stage --vm-id …`), with
 * the configuration's stage concurrency; it is stopped before this returns or throws.
 */
async function measureHandling(
  rig: HandlingRig,
  o: {
    manifest: ModelManifest;
    spec: StageSpec;
    threads: number;
    threshold: number;
    inputs: StageInputs;
    runs: number;
    log: (l: string) => void;
    signal?: AbortSignal;
  },
): Promise<VmHandling> {
  const { config, stack, client, nc, store } = rig;
  const { manifest, spec, threads, threshold, inputs, runs, signal } = o;
  const model = manifest.name;
  const K = manifest.stages.length;
  const k = spec.index;
  const vcpus = os.cpus().length;
  const stageConcurrency = config.workers.stageConcurrency;
  const saturatedInFlight = HANDLING_SATURATION_PER_SLOT * stageConcurrency;
  const workerConfig: SerflowConfig = { ...config, workers: { ...config.workers, inferenceThreads: threads } };
  const vmId = `profile-${model}-s${k}-t${threads}-${process.pid}`;
  const taskQueue = stageTaskQueue(model, k);
  const worker = spawnManaged({
    name: vmId,
    command: process.execPath,
    args: [
      CHILD_MAIN_SCRIPT,
      'stage',
      '--model',
      model,
      '--stage',
      String(k),
      '--vm-id',
      vmId,
      '--instance-type',
      config.vm.instanceType,
      '--temporal',
      stack.info.temporalAddress,
      '--nats',
      stack.info.natsUrl,
      '--parent-pid',
      String(process.pid),
    ],
    logDir: rig.logDir,
    env: { SERFLOW_CONFIG_JSON: JSON.stringify(workerConfig) },
  });
  try {
    await retryUntil(`stage ${k} worker (${threads} thread(s))`, HANDLING_WORKER_READY_MS, async () => {
      if (worker.child.exitCode !== null) {
        throw new Error(`exited (${worker.child.exitCode}):\n${tailLog(worker.logFile)}`);
      }
      const running = (await listWorkers(nc)).some((w) => w.id === vmId && w.state === 'running');
      if (!running) throw new Error('not running yet');
    });
    // Real inputs of the stage, each stored once as a query would hand it on (inline or claim-checked).
    const src = inputs.data.slice(0, HANDLING_INPUTS);
    const refs: TensorRef[] = [];
    for (const [j, data] of src.entries()) {
      refs.push(
        await store.toRef(data, inputs.dims, `profile-${model}-s${k}/input-${j}`, config.activations.inlineMaxBytes),
      );
    }
    let seq = 0;
    const call = async (lane: number, n: number): Promise<StageOutput> => {
      // One query id per lane: the activation a lane's execution claim-checks overwrites its previous one.
      const queryId = `profile-${model}-s${k}-t${threads}-lane-${lane}`;
      const input: StageInput = {
        queryId,
        model,
        stage: k,
        lastStage: K,
        threshold,
        activation: refs[n % refs.length]!,
        inlineActivationMaxBytes: config.activations.inlineMaxBytes,
      };
      return client.activity.execute<StageOutput>('runStage', {
        id: `${queryId}-${++seq}`,
        taskQueue,
        args: [input],
        // As the workflow schedules a stage (workflows/activity-options.ts), but no retry: a failure is an error here.
        startToCloseTimeout: config.stages.timeoutMs,
        heartbeatTimeout: config.stages.heartbeatTimeoutMs,
        retry: { maximumAttempts: 1, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
      });
    };
    const cpuNow = () => {
      const c = processCpuMs(worker.pid);
      if (!c) throw new Error(`stage ${k} worker (pid ${worker.pid}): no CPU figures in /proc`);
      return c;
    };
    await closedLoop(call, PROFILE_WARMUP_RUNS, saturatedInFlight, signal);
    // Idle: the CPU the polling worker spends by the clock (timers, long polls, status records), per second.
    const idle0 = cpuNow();
    const tIdle = performance.now();
    await delay(HANDLING_IDLE_MS, undefined, { signal });
    const idle1 = cpuNow();
    const idleS = (performance.now() - tIdle) / 1000;
    const idleCpuMsPerSecond = round((idle1.total - idle0.total) / idleS, 1);
    const idleMainThreadCpuMsPerSecond = round((idle1.mainThread - idle0.mainThread) / idleS, 1);
    // Saturated: the worker's CPU per execution, all threads and the main thread, its idle CPU over the same
    // wall time taken off (the driver on this shared machine may not reach the worker's own capacity).
    const cpu0 = cpuNow();
    const sat = await closedLoop(call, runs, saturatedInFlight, signal, HANDLING_MIN_SATURATED_WALL_MS);
    const cpu1 = cpuNow();
    const n = sat.outputs.length;
    const satS = sat.wallMs / 1000;
    const rawCpu = (cpu1.total - cpu0.total) / n;
    const rawMain = (cpu1.mainThread - cpu0.mainThread) / n;
    const cpuMsPerExecution = round((cpu1.total - cpu0.total - idleCpuMsPerSecond * satS) / n);
    const mainThreadCpuMsPerExecution = round(
      (cpu1.mainThread - cpu0.mainThread - idleMainThreadCpuMsPerSecond * satS) / n,
    );
    if (!(cpuMsPerExecution > 0 && mainThreadCpuMsPerExecution > 0)) {
      throw new Error(
        `stage ${k} worker (${threads} thread(s)): CPU per execution ${rawCpu} ms (main ${rawMain}) is not above ` +
          `its idle CPU (${idleCpuMsPerSecond} ms/s, main ${idleMainThreadCpuMsPerSecond}): measure again`,
      );
    }
    const cpuFloorMs = round(
      handlingCpuFloorMs({
        threads,
        vcpus,
        cpuMsPerExecution,
        mainThreadCpuMsPerExecution,
        idleCpuMsPerSecond,
        idleMainThreadCpuMsPerSecond,
      }),
    );
    // One execution per slot: the wall handling of an execution that waits for no other.
    const cpu2 = cpuNow();
    const one = await closedLoop(call, runs, threads, signal);
    const cpu3 = cpuNow();
    const handler = one.outputs.map((x) => x.handlerMs);
    const handling: VmHandling = {
      serviceMs: summarizeServiceTimes(handler.map((h) => Math.max(h, cpuFloorMs))),
      handlerMs: summarizeServiceTimes(handler),
      sessionRunMs: summarizeServiceTimes(one.outputs.map((x) => x.serviceMs)),
      cpuMsPerExecution,
      mainThreadCpuMsPerExecution,
      idleCpuMsPerSecond,
      idleMainThreadCpuMsPerSecond,
      cpuFloorMs,
      vcpus,
      stageConcurrency,
      inFlight: threads,
      saturatedInFlight,
      saturatedThroughputPerSec: round((n / sat.wallMs) * 1000, 1),
      runs: one.outputs.length,
      saturatedRuns: n,
    };
    const lightCpu = round((cpu3.total - cpu2.total) / one.outputs.length);
    o.log(
      `stage ${k} live worker ${threads} thread(s): CPU ${cpuMsPerExecution} ms/execution (main thread ` +
        `${mainThreadCpuMsPerExecution}) + idle ${idleCpuMsPerSecond} ms/s (main ${idleMainThreadCpuMsPerSecond}); ` +
        `raw ${round(rawCpu)} ms (main ${round(rawMain)}) saturated at ${handling.saturatedThroughputPerSec}/s, ` +
        `${lightCpu} ms at ${threads} in flight; floor ${cpuFloorMs} ms; handler p50 ${handling.handlerMs.p50} / p95 ${handling.handlerMs.p95} ms ` +
        `(session.run p50 ${handling.sessionRunMs.p50}); service p50 ${handling.serviceMs.p50} / p95 ` +
        `${handling.serviceMs.p95} ms → mu ${round((threads * 1000) / handling.serviceMs.p95, 1)}/s`,
    );
    return handling;
  } finally {
    await stopPid(worker.pid);
  }
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
  const handlingRuns = options.handlingRuns ?? runs;
  if (!Number.isInteger(handlingRuns) || handlingRuns < MIN_PROFILE_RUNS) {
    throw new RangeError(`handlingRuns ${handlingRuns}: expected an integer >= ${MIN_PROFILE_RUNS}`);
  }
  let handling = options.handling ?? true;
  if (handling && processCpuMs(process.pid) === null) {
    log('no /proc here (not Linux): the live handling is not measured, VMs will be sized with session.run() times');
    handling = false;
  }

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

  // 3. Live handling: one real stage worker per stage and thread count on a private stack, driven by Temporal.
  const loadBeforeHandling = os.loadavg().map((x) => round(x, 2));
  if (handling) {
    const rigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-profile-handling-'));
    log(`live handling: starting a private Temporal dev server and nats-server (work dir ${rigDir})`);
    try {
      const rig = await startHandlingRig(config, rigDir, log);
      try {
        for (const spec of manifest.stages) {
          for (const option of vm[spec.index - 1]!) {
            signal?.throwIfAborted();
            option.handling = await measureHandling(rig, {
              manifest,
              spec,
              threads: option.threads,
              threshold,
              inputs: inputs[spec.index - 1]!,
              runs: handlingRuns,
              log,
              signal,
            });
          }
        }
      } finally {
        await rig.close();
      }
    } finally {
      fs.rmSync(rigDir, { recursive: true, force: true });
    }
  }
  const loadAfterHandling = os.loadavg().map((x) => round(x, 2));

  // 4. Function path: the real local serverless platform on a private nats-server.
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
      ...(handling
        ? [
            'vm[].handling (honest capacity): one real stage-worker process per stage and thread count ' +
              `(the process a VM runs, stageConcurrency ${config.workers.stageConcurrency}), driven on its VM task ` +
              'queue with runStage standalone activities from the Temporal client on a private embedded stack, real ' +
              `stage inputs (${HANDLING_INPUTS} cycled, inline or claim-checked as configured). Saturated phase ` +
              `(${HANDLING_SATURATION_PER_SLOT} × stageConcurrency in flight, >= ${handlingRuns} executions and ` +
              `${HANDLING_MIN_SATURATED_WALL_MS / 1000} s, after ${PROFILE_WARMUP_RUNS} warm-up and ` +
              `${HANDLING_IDLE_MS / 1000} s idle for idleCpuMsPerSecond): cpuMsPerExecution / ` +
              "mainThreadCpuMsPerExecution = the worker process's CPU (all threads / its main thread, /proc utime + " +
              'stime) per execution, its idle CPU over the same time taken off (the driver on this shared machine ' +
              "does not reach the worker's capacity, so time-driven CPU would be spread over too few executions). " +
              "Then one execution per slot: handlerMs = the stage outputs' handlerMs (the whole " +
              'handling in executeStage: fetch/decode, validate, session.run, exit decision, encode or claim-check the ' +
              'next activation, publish the stage event; Date.now(), 1 ms resolution) and sessionRunMs their ' +
              'session.run() part. serviceMs = per execution max(handlerMs, cpuFloorMs), cpuFloorMs = threads × 1000 / ' +
              'min((1000 × min(threads, vcpus) − idleCpuMsPerSecond) / cpuMsPerExecution, (1000 − ' +
              'idleMainThreadCpuMsPerSecond) / mainThreadCpuMsPerExecution): a slot is charged at least one ' +
              "execution's whole CPU, and all slots share one main thread (autoscaler/profile.ts handlingCpuFloorMs).",
            'Capacity: the policies (autoscaler/profile.ts toStageProfiles) size a VM with vm[].handling.serviceMs ' +
              'where present (vmServiceBasis "handling"), mu = threads × 1000 / handling.serviceMs.p95; without it ' +
              'with serviceMs (session.run alone, vmServiceBasis "session.run").',
          ]
        : [
            'No vm[].handling: the policies size VMs with serviceMs (session.run alone), which overstates what a ' +
              'worker carries for short stages.',
          ]),
      `Machine load: load average ${loadAtStart.join(' / ')} (1 / 5 / 15 min) at the start, ` +
        `${loadBeforeHandling.join(' / ')} before and ${loadAfterHandling.join(' / ')} after the live handling, on ` +
        `${os.cpus().length} cores${loadAtStart[0]! >= 0.5 ? ', so other work shared the machine while profiling' : ''}; ` +
        'the live handling also runs the Temporal server, nats-server and the driving client on the same cores. ' +
        'Wall figures (session.run times, handlerMs, throughputs) are inflated by CPU contention; the CPU figures ' +
        "(/proc) count the worker's own work only.",
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
  if (handling) profile.notes.push(capacityNote(stages));
  const parsed = parseProfile(profile, `${model} (just measured)`);
  log(
    describeVmService(
      toStageProfiles(parsed, {
        vmThreads: vmThreads.includes(config.workers.inferenceThreads) ? config.workers.inferenceThreads : 1,
        faasMemoryMb: (k) => config.faas.stageMemoryMb[String(k)] ?? config.faas.memoryMb,
      }),
    ),
  );
  return parsed;
}

/**
 * The note comparing, per stage and thread count, mu = threads × 1000 / p95 from the whole handling (what the
 * policies use) with the one from session.run() alone, e.g. `stage 1: 1 thread 812/s (session.run 25641/s), …`.
 */
export function capacityNote(stages: readonly StageProfileEntry[]): string {
  const mu = (threads: number, p95: number) => Math.round((threads * 1000) / p95);
  const per = stages.map(
    (s) =>
      `stage ${s.stage}: ` +
      s.vm
        .map(
          (o) =>
            `${o.threads} thread${o.threads > 1 ? 's' : ''} ` +
            `${o.handling ? `${mu(o.threads, o.handling.serviceMs.p95)}/s` : 'not measured'} ` +
            `(session.run ${mu(o.threads, o.serviceMs.p95)}/s)`,
        )
        .join(', '),
  );
  return `mu per VM (threads × 1000 / p95), whole handling (session.run alone): ${per.join('; ')}.`;
}
