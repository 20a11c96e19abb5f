/**
 * The offline profile of a model (method.md, "Offline profiling"): per stage, the service-time distribution on
 * each resource option (VM worker threads; function memory sizes), the function cold start, the activation size
 * and the exit profile q_k / p_k at a threshold on the calibration split. Written by `serflow profile`
 * (bench/profiler.ts) to `models/<model>/profile.json`; read by the policies through `toStageProfiles`.
 *
 * This module is the file format (a versioned zod schema), its loading with field-named errors, and the pure
 * choices made from it (which resource option a stage uses, the cheapest function memory within a budget).
 * No measurement and no I/O beyond reading the file.
 *
 * VM capacity. A VM option carries the time inside `session.run()` (`serviceMs`) and, in newer profiles, the whole
 * handling in a live stage worker (`handling`): per execution the larger of its wall handling and its CPU floor
 * (`handlingCpuFloorMs`: what the worker's CPU, all threads and its one main thread, carries per slot). The
 * policies size with the handling where it is there (mu = vmSlots × 1000 / p95), so a VM is not credited with
 * the thousands of executions per second `session.run()` alone suggests for a 0.03 ms stage; a profile without it
 * still loads (version 1 either way) and sizes with `serviceMs`, as before.
 *
 * Function memory model. A local function instance is one process running its stage on one ONNX Runtime
 * thread: it gets a full core whatever memory it is configured with. On AWS Lambda CPU is allotted in proportion
 * to memory, one full vCPU at 1,769 MB. A single-threaded stage (intraOpThreads 1) cannot use more than one vCPU,
 * so the measured times stand for memory >= 1,769 MB, and below that everything CPU-bound is slower by the CPU
 * share: `estimated = measured × max(1, 1769 / memoryMb)`. Applied to every quantile and the mean of the warm
 * service time (the cv is unchanged by scaling) and to the cold start (process start and model load are CPU-bound
 * too). Options with a factor of 1 keep the measured figures (`estimated: false`); the others are marked
 * `estimated: true`. Example: measured p50 0.30 ms → 512 MB: 0.30 × 1769 / 512 = 1.0365 ms; 2048 MB: 0.30 ms.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { faasInvocationCostUsd, type Prices } from '../billing/prices';
import { MODELS_DIR } from '../common/paths';
import { formatZodIssues } from '../common/zod-issues';
import { loadManifest, type ModelManifest } from '../models/manifest';
import type { StageProfile } from './types';

export const PROFILE_VERSION = 1;
export const PROFILE_FILE = 'profile.json';

/** Memory at which Lambda gives a function one full vCPU (AWS Lambda docs: "1,769 MB = 1 vCPU"). */
export const LAMBDA_FULL_VCPU_MEMORY_MB = 1769;

/** Function memory sizes a profile lists by default: Lambda's default-ish small size, double, and above 1 vCPU. */
export const DEFAULT_FAAS_MEMORY_OPTIONS_MB: readonly number[] = [512, 1024, 2048];

/** Two exit shares summing to 1 within float noise of ~1,000 additions. */
const SHARE_SUM_TOLERANCE = 1e-6;

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** The profile file is not valid JSON, does not match the schema, or does not fit the model; names the field. */
export class InvalidProfileError extends Error {
  override readonly name = 'InvalidProfileError';
}

/** The model has no profile file yet (run `serflow profile`). */
export class MissingProfileError extends Error {
  override readonly name = 'MissingProfileError';
}

/** A resource option asked of the profile (VM threads) was not measured; the message lists the measured ones. */
export class ProfileOptionError extends Error {
  override readonly name = 'ProfileOptionError';
}

// ---------------------------------------------------------------------------------------------------------------
// Schema

const ms = z.number().nonnegative();
const fraction = z.number().min(0).max(1);
const runs = z.number().int().positive();

/** Service-time distribution, ms; `cv` = standard deviation / mean (a measure of the tail's weight). */
export const ServiceTimeSchema = z
  .object({ p50: ms, p95: ms, p99: ms, mean: ms, cv: z.number().nonnegative() })
  .superRefine((s, ctx) => {
    if (s.p95 < s.p50) ctx.addIssue({ code: 'custom', path: ['p95'], message: `expected >= p50 (${s.p50})` });
    if (s.p99 < s.p95) ctx.addIssue({ code: 'custom', path: ['p99'], message: `expected >= p95 (${s.p95})` });
  });

/**
 * The CPU floor of one slot's execution, ms: `threads` × 1000 / the most executions per second the worker's CPU
 * carries. Two limits, each with the worker's time-driven CPU (timers, polls, status; `idle…PerSecond`) taken off
 * its budget first:
 * - the process, all threads: a slot is charged at least one execution's whole CPU, and more slots than vCPUs
 *   share the cores: (1000 × min(threads, vcpus) − idleCpuMsPerSecond) / cpuMsPerExecution per second;
 * - the main (event-loop) thread, which does all the handling but `session.run()` and is one for all slots:
 *   (1000 − idleMainThreadCpuMsPerSecond) / mainThreadCpuMsPerExecution per second.
 * Without idle CPU this is max(cpu × max(1, threads / vcpus), threads × main).
 * Example: 1.2 ms per execution, 0.9 ms of it on the main thread, no idle CPU, 2 vCPUs: 1 thread → 1.2 ms;
 * 2 threads → max(1.2, 2 × 0.9) = 1.8 ms (the main thread, not the cores, caps two slots at 1000 / 0.9 ≈ 1111/s).
 * With 30 ms/s idle CPU (25 of it on the main thread), 1 thread: max(1.2 × 1000 / 970, 0.9 × 1000 / 975) = 1.237 ms.
 */
export function handlingCpuFloorMs(o: {
  threads: number;
  vcpus: number;
  cpuMsPerExecution: number;
  mainThreadCpuMsPerExecution: number;
  idleCpuMsPerSecond: number;
  idleMainThreadCpuMsPerSecond: number;
}): number {
  const processBudget = 1000 * Math.min(o.threads, o.vcpus) - o.idleCpuMsPerSecond;
  const mainBudget = 1000 - o.idleMainThreadCpuMsPerSecond;
  if (!(processBudget > 0 && mainBudget > 0)) return Number.POSITIVE_INFINITY;
  return Math.max(
    (o.threads * 1000 * o.cpuMsPerExecution) / processBudget,
    (o.threads * 1000 * o.mainThreadCpuMsPerExecution) / mainBudget,
  );
}

/** Tolerance of the floor check: the fields are rounded to µs each. */
const FLOOR_TOLERANCE_MS = 0.002;

/**
 * What a live stage worker process (workers/stage-worker.ts, one per VM) really spends per execution of its stage,
 * driven through Temporal (`runStage` activities on the stage's VM task queue): the whole handling (poll, decode,
 * validate, `session.run()`, exit decision, encode or claim-check the next activation, publish the stage event,
 * complete), not `session.run()` alone. Written by `serflow profile` since it measures live handling; older profiles
 * lack it and the policies then size VMs with `serviceMs` (see `toStageProfiles`).
 */
export const VmHandlingSchema = z
  .object({
    /**
     * The service time the policies size a slot with: per execution max(handlerMs, cpuFloorMs), summarized. So
     * mu = threads × 1000 / serviceMs.p95 is at most what the worker's CPU carries.
     */
    serviceMs: ServiceTimeSchema,
    /** Wall time of the handling inside the worker (the stage output's `handlerMs`, 1 ms clock), `inFlight` at a time. */
    handlerMs: ServiceTimeSchema,
    /** Of which `session.run()` (the stage output's `serviceMs`), the same executions. */
    sessionRunMs: ServiceTimeSchema,
    /**
     * CPU of the worker process, all threads, per execution, with its slots saturated (from /proc), its idle CPU
     * over the same wall time taken off: what one more execution costs. The raw figure is this +
     * idleCpuMsPerSecond / saturatedThroughputPerSec.
     */
    cpuMsPerExecution: z.number().positive(),
    /** Of which its main (event-loop) thread (idle main-thread CPU taken off likewise). */
    mainThreadCpuMsPerExecution: z.number().positive(),
    /** CPU the polling worker spends per wall second with no work (timers, polls, status), all threads. */
    idleCpuMsPerSecond: ms,
    /** Of which its main thread. */
    idleMainThreadCpuMsPerSecond: ms,
    /** `handlingCpuFloorMs` of the CPU figures, `threads` and `vcpus`. */
    cpuFloorMs: ms,
    /** vCPUs the floor assumes (the measuring machine's cores, standing for the instance type's). */
    vcpus: z.number().int().positive(),
    /** Concurrent activities the worker accepted (`workers.stageConcurrency`). */
    stageConcurrency: z.number().int().positive(),
    /** Executions in flight while `handlerMs` was measured (one per slot: no execution waits for a thread). */
    inFlight: z.number().int().positive(),
    /** Executions in flight while the CPU was measured (more than the worker accepts: its slots never idle). */
    saturatedInFlight: z.number().int().positive(),
    /** Executions per wall second in the saturated phase, on the shared measuring machine (a lower bound). */
    saturatedThroughputPerSec: z.number().positive(),
    /** Executions behind `handlerMs` / `serviceMs`. */
    runs,
    /** Executions behind the CPU figures. */
    saturatedRuns: runs,
  })
  .superRefine((h, ctx) => {
    const keys = ['p50', 'p95', 'p99', 'mean'] as const;
    for (const k of keys) {
      const least = Math.max(h.handlerMs[k], h.cpuFloorMs);
      if (h.serviceMs[k] < least - FLOOR_TOLERANCE_MS) {
        ctx.addIssue({
          code: 'custom',
          path: ['serviceMs', k],
          message: `expected >= max(handlerMs.${k}, cpuFloorMs) = ${least} (the service time of a slot is per execution the larger)`,
        });
      }
    }
    if (h.mainThreadCpuMsPerExecution > h.cpuMsPerExecution + FLOOR_TOLERANCE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['mainThreadCpuMsPerExecution'],
        message: `expected <= cpuMsPerExecution (${h.cpuMsPerExecution}): the main thread is one of the process's`,
      });
    }
    if (h.idleMainThreadCpuMsPerSecond >= 1000) {
      ctx.addIssue({ code: 'custom', path: ['idleMainThreadCpuMsPerSecond'], message: 'expected < 1000 (one thread)' });
    }
    if (h.idleCpuMsPerSecond >= 1000 * h.vcpus) {
      ctx.addIssue({
        code: 'custom',
        path: ['idleCpuMsPerSecond'],
        message: `expected < ${1000 * h.vcpus} (1000 × vcpus)`,
      });
    }
  });

/** One VM resource option of a stage: a worker with `threads` inference threads, all busy. */
export const VmOptionSchema = z
  .object({
    instanceType: z.string().min(1),
    threads: z.number().int().positive(),
    /** Time inside `session.run()` per execution, with `threads` executions in parallel. */
    serviceMs: ServiceTimeSchema,
    /** Executions per second the worker completed with every thread busy (the measured mu, before any SLO). */
    throughputPerSec: z.number().positive(),
    runs,
    /** The whole handling in a live stage worker with `threads` inference threads; absent in older profiles. */
    handling: VmHandlingSchema.optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.handling) return;
    const want = handlingCpuFloorMs({ threads: o.threads, ...o.handling });
    if (Math.abs(o.handling.cpuFloorMs - want) > FLOOR_TOLERANCE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['handling', 'cpuFloorMs'],
        message: `expected ${round(want, 3)} (handlingCpuFloorMs of threads, vcpus and the CPU figures)`,
      });
    }
  });

export const ColdStartSchema = z.object({ p50: ms, max: ms, runs }).superRefine((c, ctx) => {
  if (c.max < c.p50) ctx.addIssue({ code: 'custom', path: ['max'], message: `expected >= p50 (${c.p50})` });
});

/** What one local function instance measured (one full core, whatever its configured memory). */
export const FaasMeasuredSchema = z.object({
  /** Memory the local platform was configured with; it does not change a local instance's CPU. */
  configuredMemoryMb: z.number().int().positive(),
  /** Warm handler duration (what Lambda bills): decode, inference, activation hand-off, event publish. */
  serviceMs: ServiceTimeSchema,
  /** Of which the ONNX run. */
  inferenceMs: ServiceTimeSchema,
  /** Warm call as the caller sees it (request/reply over NATS + handler). */
  invokeMs: ServiceTimeSchema,
  /** Real start of a new instance (process start, NATS connect, model load, warm-up run), no configured extra. */
  coldStartMs: ColdStartSchema,
  runs,
});

/** One function memory option: measured figures when memory >= 1,769 MB, else scaled by 1769 / memoryMb. */
export const FaasOptionSchema = z.object({
  memoryMb: z.number().int().min(128).max(10_240),
  /** Factor applied to the measured times: max(1, 1769 / memoryMb). */
  cpuSlowdown: z.number().min(1),
  estimated: z.boolean(),
  serviceMs: ServiceTimeSchema,
  coldStartMs: z.object({ p50: ms, max: ms }),
  runs,
});

export const StageProfileEntrySchema = z.object({
  stage: z.number().int().positive(),
  /** sha256 of the ONNX file measured (as in the manifest): a retrained model makes the profile stale. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  vm: z.array(VmOptionSchema).min(1),
  faasMeasured: FaasMeasuredSchema,
  faas: z.array(FaasOptionSchema).min(1),
  /** Bytes of the output activation handed to the next stage (float32, batch 1); 0 on the last stage. */
  activationBytes: z.number().int().nonnegative(),
  activationDims: z.array(z.number().int().positive()).nullable(),
  /** q_k: share of calibration queries that exit here. */
  exitShare: fraction,
  /** p_k: share that reach this stage (p_1 = 1, p_k = 1 − (q_1 + … + q_{k−1})). */
  reachProbability: fraction,
});

export const ModelProfileSchema = z
  .object({
    profileVersion: z.literal(PROFILE_VERSION),
    model: z.string().min(1),
    measuredAt: z.iso.datetime(),
    machine: z.object({
      cpus: z.number().int().positive(),
      cpuModel: z.string(),
      node: z.string().min(1),
      onnxruntime: z.string().min(1),
      /** 1, 5 and 15 min load averages when the measurement started (other work inflates every figure). */
      loadAverage: z.array(z.number().nonnegative()).length(3).optional(),
    }),
    threshold: z.number().gt(0).max(1),
    calibration: z.object({
      split: z.literal('calibration'),
      samples: z.number().int().positive(),
      seed: z.number().int(),
    }),
    /** How the figures were obtained and what they stand for (the function memory model above). */
    notes: z.array(z.string()),
    stages: z.array(StageProfileEntrySchema).min(1),
  })
  .superRefine((p, ctx) => {
    const K = p.stages.length;
    let reached = 1;
    p.stages.forEach((s, i) => {
      const at = (...rest: (string | number)[]) => ['stages', i, ...rest];
      if (s.stage !== i + 1) {
        ctx.addIssue({ code: 'custom', path: at('stage'), message: `expected ${i + 1} (stages are listed in order)` });
      }
      if (Math.abs(s.reachProbability - reached) > SHARE_SUM_TOLERANCE) {
        ctx.addIssue({
          code: 'custom',
          path: at('reachProbability'),
          message: `expected ${round(reached, 6)} (1 − exit shares of the stages before)`,
        });
      }
      reached -= s.exitShare;
      if (!s.vm.some((o) => o.threads === 1)) {
        ctx.addIssue({ code: 'custom', path: at('vm'), message: 'expected an option with threads 1' });
      }
      const seen = new Set<string>();
      s.vm.forEach((o, j) => {
        const key = `${o.instanceType}/${o.threads}`;
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: at('vm', j), message: `duplicate option ${key}` });
        seen.add(key);
      });
      const mems = new Set<number>();
      s.faas.forEach((o, j) => {
        if (mems.has(o.memoryMb)) {
          ctx.addIssue({ code: 'custom', path: at('faas', j, 'memoryMb'), message: `duplicate ${o.memoryMb}` });
        }
        mems.add(o.memoryMb);
      });
      const last = i === K - 1;
      if (last && (s.activationBytes !== 0 || s.activationDims !== null)) {
        ctx.addIssue({
          code: 'custom',
          path: at('activationBytes'),
          message: 'expected 0 and null dims on the last stage',
        });
      }
      if (!last && s.activationDims === null) {
        ctx.addIssue({
          code: 'custom',
          path: at('activationDims'),
          message: 'expected dims (only the last stage has none)',
        });
      }
    });
    if (Math.abs(reached) > SHARE_SUM_TOLERANCE) {
      ctx.addIssue({
        code: 'custom',
        path: ['stages'],
        message: `exit shares sum to ${round(1 - reached, 6)}, expected 1`,
      });
    }
  });

export type ServiceTime = z.infer<typeof ServiceTimeSchema>;
export type VmOption = z.infer<typeof VmOptionSchema>;
export type VmHandling = z.infer<typeof VmHandlingSchema>;
export type FaasMeasured = z.infer<typeof FaasMeasuredSchema>;
export type FaasOption = z.infer<typeof FaasOptionSchema>;
export type StageProfileEntry = z.infer<typeof StageProfileEntrySchema>;
export type ModelProfile = z.infer<typeof ModelProfileSchema>;

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

/**
 * Validate a parsed profile object. `source` names it in messages (usually the file path).
 * @throws InvalidProfileError `profile <source>: stages[1].vm[0].serviceMs.p95: expected number, got string` (one line per issue)
 */
export function parseProfile(raw: unknown, source = '(inline)'): ModelProfile {
  const res = ModelProfileSchema.safeParse(raw);
  if (!res.success) {
    const lines = formatZodIssues(res.error.issues, raw);
    throw new InvalidProfileError(lines.map((l) => `profile ${source}: ${l}`).join('\n'));
  }
  return res.data;
}

/** Path of a model's profile file. */
export function profilePath(model: string, modelsDir: string = MODELS_DIR): string {
  return path.join(modelsDir, model, PROFILE_FILE);
}

/**
 * Check a valid profile against the model it claims to describe: same name, same number of stages, and the same
 * ONNX files (sha256) as the manifest, so a retrained model never runs on a stale profile.
 * @throws InvalidProfileError naming the field
 */
export function checkProfileFitsManifest(profile: ModelProfile, manifest: ModelManifest, source = '(inline)'): void {
  const issues: string[] = [];
  if (profile.model !== manifest.name) {
    issues.push(`model: expected ${JSON.stringify(manifest.name)}, got ${JSON.stringify(profile.model)}`);
  }
  if (profile.stages.length !== manifest.stages.length) {
    issues.push(
      `stages: expected ${manifest.stages.length} entries (the manifest's stages), got ${profile.stages.length}`,
    );
  }
  profile.stages.forEach((s, i) => {
    const spec = manifest.stages[i];
    if (spec && spec.sha256 !== s.sha256) {
      issues.push(
        `stages[${i}].sha256: measured ${s.sha256.slice(0, 12)}…, but the manifest's ${spec.file} is ${spec.sha256.slice(0, 12)}…: the profile is stale, re-run \`serflow profile\``,
      );
    }
  });
  if (issues.length) throw new InvalidProfileError(issues.map((l) => `profile ${source}: ${l}`).join('\n'));
}

/**
 * Read, validate and check `<modelsDir>/<model>/profile.json` against the model's manifest.
 * @throws MissingProfileError when there is no profile file
 * @throws InvalidProfileError when it is not JSON, not a valid profile, or stale
 * @throws UnknownModelError / InvalidManifestError from the manifest
 */
export function loadProfile(model: string, modelsDir: string = MODELS_DIR): ModelProfile {
  const manifest = loadManifest(model, modelsDir);
  const file = profilePath(model, modelsDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new MissingProfileError(`model ${model} has no profile (${file}): run \`serflow profile --model ${model}\``, {
      cause: err,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidProfileError(`profile ${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const profile = parseProfile(raw, file);
  checkProfileFitsManifest(profile, manifest, file);
  return profile;
}

// ---------------------------------------------------------------------------------------------------------------
// The function memory model

/** CPU slowdown of a function with `memoryMb` relative to the measured one-core instance: max(1, 1769 / memoryMb). */
export function faasCpuSlowdown(memoryMb: number): number {
  return Math.max(1, LAMBDA_FULL_VCPU_MEMORY_MB / memoryMb);
}

/**
 * The figures of one memory option from the measured instance: every time × `faasCpuSlowdown(memoryMb)`
 * (rounded to µs), cv unchanged; `estimated` unless the factor is 1.
 * Example: measured p50 0.3 ms, cold start p50 200 ms → 1024 MB: ×1.7275 → 0.518 ms, 345.5 ms.
 */
export function estimateFaasOption(measured: FaasMeasured, memoryMb: number): FaasOption {
  const f = faasCpuSlowdown(memoryMb);
  const s = measured.serviceMs;
  const scale = (x: number) => round(x * f, 3);
  return {
    memoryMb,
    cpuSlowdown: round(f, 4),
    estimated: f !== 1,
    serviceMs: { p50: scale(s.p50), p95: scale(s.p95), p99: scale(s.p99), mean: scale(s.mean), cv: s.cv },
    coldStartMs: { p50: scale(measured.coldStartMs.p50), max: scale(measured.coldStartMs.max) },
    runs: measured.runs,
  };
}

/** The stage's option for `memoryMb`: the one listed in the profile, else estimated from the measurement. */
export function faasOptionFor(stage: StageProfileEntry, memoryMb: number): FaasOption {
  return stage.faas.find((o) => o.memoryMb === memoryMb) ?? estimateFaasOption(stage.faasMeasured, memoryMb);
}

// ---------------------------------------------------------------------------------------------------------------
// What the policies consume

/**
 * Which measurement a stage's `vmServiceMs` comes from: `handling`, the whole handling in a live stage worker
 * (`VmOption.handling.serviceMs`), or `session.run`, the time inside `session.run()` alone (`VmOption.serviceMs`,
 * what profiles without a handling measurement have; it overstates what a VM carries, most for stages of a
 * fraction of a ms).
 */
export type VmServiceBasis = 'handling' | 'session.run';

export interface StageProfileSelection {
  /** Inference threads per VM worker (`workers.inferenceThreads`); must be a measured option. */
  vmThreads: number;
  /** VM instance type to pick; @default the first measured option with `vmThreads` */
  vmInstanceType?: string;
  /** Function memory of each stage (`faas.stageMemoryMb[k] ?? faas.memoryMb`, or `cheapestFaasMemory`). */
  faasMemoryMb(stage: number): number;
  /**
   * The VM service time to size with: 'handling' (an error where it was not measured), 'session.run' (the old
   * figure, for comparison). @default the handling where the profile has it, else session.run
   */
  vmService?: VmServiceBasis;
}

/** A `StageProfile` that also says which measurement its `vmServiceMs` (and so mu = vmSlots × 1000 / p95) is. */
export interface SelectedStageProfile extends StageProfile {
  vmServiceBasis: VmServiceBasis;
}

const stripCv = ({ p50, p95, p99, mean }: ServiceTime) => ({ p50, p95, p99, mean });

/**
 * One line saying what the VM capacity of `stages` rests on, per stage: its basis and mu = vmSlots × 1000 / p95.
 * Example: `VM service time: whole handling in a live stage worker (stages 1-4); mu per VM 1/s: 1: 812, 2: 790`.
 */
export function describeVmService(stages: readonly SelectedStageProfile[]): string {
  const by = (b: VmServiceBasis) => stages.filter((s) => s.vmServiceBasis === b).map((s) => s.stage);
  const handling = by('handling');
  const run = by('session.run');
  const parts = [
    handling.length ? `whole handling in a live stage worker (stages ${handling.join(', ')})` : '',
    run.length
      ? `session.run() alone (stages ${run.join(', ')}${handling.length ? '' : '; the profile predates the handling measurement, re-run `serflow profile`'})`
      : '',
  ].filter(Boolean);
  const mu = stages.map((s) => `${s.stage}: ${Math.round((s.vmSlots * 1000) / s.vmServiceMs.p95)}`).join(', ');
  return `VM service time: ${parts.join('; ')}; mu per VM (vmSlots × 1000 / p95, per s): ${mu}`;
}

/**
 * The per-stage figures the policies need (`StageProfile`, autoscaler/types.ts), for the configured resources.
 * `vmServiceMs` is the whole handling in a live stage worker where the profile measured it (`VmOption.handling`),
 * else the `session.run()` time; `vmServiceBasis` says which (`selection.vmService` forces one).
 * @throws ProfileOptionError when `vmThreads` (and `vmInstanceType`) was not measured for a stage, or `vmService`
 * is 'handling' and a stage's option has no handling measurement
 */
export function toStageProfiles(profile: ModelProfile, selection: StageProfileSelection): SelectedStageProfile[] {
  return profile.stages.map((s, i) => {
    const vm = s.vm.find(
      (o) =>
        o.threads === selection.vmThreads &&
        (selection.vmInstanceType === undefined || o.instanceType === selection.vmInstanceType),
    );
    if (!vm) {
      const have = s.vm.map((o) => `${o.instanceType} × ${o.threads} threads`).join(', ');
      throw new ProfileOptionError(
        `profile of ${profile.model}: stages[${i}].vm has no option with ${selection.vmThreads} threads` +
          `${selection.vmInstanceType ? ` on ${selection.vmInstanceType}` : ''} (measured: ${have}); re-run \`serflow profile\``,
      );
    }
    if (selection.vmService === 'handling' && !vm.handling) {
      throw new ProfileOptionError(
        `profile of ${profile.model}: stages[${i}].vm option ${vm.instanceType} × ${vm.threads} threads has no ` +
          'handling measurement (measured before `serflow profile` measured live handling); re-run `serflow profile`',
      );
    }
    const basis: VmServiceBasis = vm.handling && selection.vmService !== 'session.run' ? 'handling' : 'session.run';
    const faas = faasOptionFor(s, selection.faasMemoryMb(s.stage));
    return {
      stage: s.stage,
      vmServiceMs: stripCv(basis === 'handling' && vm.handling ? vm.handling.serviceMs : vm.serviceMs),
      vmServiceBasis: basis,
      vmSlots: vm.threads,
      faasMemoryMb: faas.memoryMb,
      faasServiceMs: stripCv(faas.serviceMs),
      faasColdStartMs: faas.coldStartMs.p50,
      exitShare: s.exitShare,
      reachProbability: s.reachProbability,
    };
  });
}

export interface FaasMemoryChoice {
  memoryMb: number;
  /** Expected cost of one warm invocation at this memory, USD (billed on the mean duration). */
  costUsd: number;
  /** The option's p95 warm service time, ms (what was held against the budget). */
  p95Ms: number;
}

/**
 * The cheapest function memory of a stage whose warm p95 service time fits `budgetMs`, among the profile's
 * options. Cost of an option = `faasInvocationCostUsd` of a warm invocation lasting its mean service time
 * (rounded up to the billing granularity, as billed); equal costs go to the smaller memory.
 * Returns undefined when no option fits the budget (the stage cannot meet it on a function).
 *
 * Example at the default prices (2e-7 $/req, 1.66667e-5 $/GB-s, 1 ms): mean 0.4 ms at 512 MB bills 1 ms
 * → 0.5 GB × 0.001 s × 1.66667e-5 + 2e-7 = 2.0833e-7 $; at 1024 MB also 1 ms → 2.1667e-7 $: 512 MB wins if its
 * p95 fits.
 */
export function cheapestFaasMemory(
  stage: StageProfileEntry,
  budgetMs: number,
  prices: Pick<Prices, 'faasPerRequestUsd' | 'faasPerGbSecondUsd' | 'faasBillingGranularityMs'>,
): FaasMemoryChoice | undefined {
  let best: FaasMemoryChoice | undefined;
  const options = [...stage.faas].sort((a, b) => a.memoryMb - b.memoryMb);
  for (const o of options) {
    if (o.serviceMs.p95 > budgetMs) continue;
    const costUsd = faasInvocationCostUsd({ memoryMb: o.memoryMb, durationMs: o.serviceMs.mean, initMs: 0 }, prices);
    if (!best || costUsd < best.costUsd) best = { memoryMb: o.memoryMb, costUsd, p95Ms: o.serviceMs.p95 };
  }
  return best;
}
