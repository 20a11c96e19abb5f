/**
 * A local serverless platform that behaves like AWS Lambda (ecosystem-notes §5.1): one process per function
 * instance, one request per instance at a time, cold starts (a real process start and model load, plus the
 * configured platform extra), keep-alive of idle instances, and an account concurrency limit beyond which calls
 * are throttled. Every billable fact goes to the billing stream.
 *
 * Two layers, kept apart as in Knative's autoscaler (style.md habits 1-2):
 * - the instance pool (`function-pool.ts`): a pure state machine of `(state, event, now)` deciding warm / cold /
 *   throttled and which idle instances the keep-alive reclaims; no clock, process or NATS inside, so it is tested
 *   table-driven on virtual time;
 * - actuation: `createLocalServerlessPlatform` spawns and stops instance processes, talks to them over NATS
 *   request/reply and publishes billing events, applying the pool's decisions.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { NatsConnection, Subscription } from 'nats';
import type { BillingFact, BillingPublisher } from '../../billing/publisher';
import type { SerflowConfig } from '../../common/config';
import type { StageCallContext, StageInput, StageOutput, StageRunInput } from '../../common/contracts';
import { InvalidInputError, UnknownStageError } from '../../common/errors';
import { functionInstanceSubject } from '../../common/naming';
import { traceHeaders } from '../../infra/tracing';
import { loadManifest, type ModelManifest } from '../../models/manifest';
import {
  FunctionThrottledError,
  type FunctionInstanceInfo,
  type FunctionInvocation,
  type FunctionRef,
  type ServerlessPlatform,
} from '../../infra/providers';
import {
  functionReadySubject,
  type FunctionErrorInfo,
  type FunctionReadyMessage,
  type FunctionReply,
  type FunctionRequest,
} from '../../workers/function-instance';
import { CHILD_MAIN_SCRIPT, spawnManaged, stopPid, tailLog, type ManagedProcess } from './processes';
import {
  acquireInstance,
  checkFunctionRef,
  EMPTY_POOL,
  functionMemoryMb,
  functionName,
  isFused,
  lastStageOf,
  markReady,
  nextExpiryAt,
  reclaimExpired,
  releaseInstance,
  removeInstance,
  type PoolLimits,
  type PoolState,
} from './function-pool';

// ---------------------------------------------------------------------------------------------------------------
// Errors

/**
 * A function instance process exited (or stopped answering) while it had a request: the invocation's outcome is
 * unknown. Retryable: the caller runs the stage again (on another instance). The instance is dropped.
 */
export class FunctionInstanceLostError extends Error {
  override readonly name = 'FunctionInstanceLostError';
  /** The process died under the call (the invocation ran, and is billed), rather than never answering. */
  readonly processDied: boolean;
  constructor(message: string, options?: ErrorOptions & { processDied?: boolean }) {
    super(message, options);
    this.processDied = options?.processDied ?? false;
  }
}

/** A new instance did not become ready (process exited or timed out during init). Retryable. */
export class FunctionStartError extends Error {
  override readonly name = 'FunctionStartError';
}

/** The platform was closed while the call was waiting or running. Retryable (on another platform). */
export class PlatformClosedError extends Error {
  override readonly name = 'PlatformClosedError';
}

/**
 * The function's handler ran and failed. `type`, `message` and `nonRetryable` are the instance's report (bad input
 * is non-retryable); the invocation is billed like a successful one.
 */
export class FunctionInvocationError extends Error {
  override readonly name = 'FunctionInvocationError';
  readonly type: string;
  readonly nonRetryable: boolean;
  constructor(info: FunctionErrorInfo, options?: ErrorOptions) {
    super(info.message, options);
    this.type = info.type;
    this.nonRetryable = info.nonRetryable;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The platform

/** Wall time a new instance gets to start its process, load its model and report ready. */
export const DEFAULT_INSTANCE_READY_TIMEOUT_MS = 30_000;

/** Time an instance process gets to finish after SIGTERM before it is killed (it holds at most one request). */
export const INSTANCE_STOP_GRACE_MS = 5_000;

/** Lifecycle changes of instances, for the host's logs and status. */
export type FunctionInstanceEvent =
  | { type: 'started'; instance: FunctionInstanceInfo; pid: number; logFile: string }
  | { type: 'ready'; instance: FunctionInstanceInfo; pid: number; initWallMs: number }
  | {
      type: 'reclaimed';
      instance: FunctionInstanceInfo;
      reason: 'keep-alive' | 'crashed' | 'start-failed' | 'unresponsive' | 'platform-closed';
    };

export interface LocalServerlessPlatformOptions {
  /** `faas` (memory, cold-start extra, keep-alive, concurrency), `timeScale`, `modelsDir`, `stages.timeoutMs`. */
  config: SerflowConfig;
  /** NATS URL the instances connect to. */
  natsUrl: string;
  /** The platform's own connection: requests to instances, their ready messages. */
  nc: NatsConnection;
  billing: BillingPublisher;
  /** One log file per instance, `fn-<instanceId>.log`. */
  logDir: string;
  onInstance?: (event: FunctionInstanceEvent) => void;
  /** Diagnostics (billing publish failures, instance crashes). @default console.error */
  log?: (line: string) => void;
  /** Entry script of an instance process (run with the role `function`). @default `CHILD_MAIN_SCRIPT` */
  instanceScript?: string;
  /** @default DEFAULT_INSTANCE_READY_TIMEOUT_MS */
  readyTimeoutMs?: number;
  /**
   * Wall time an invocation may take on its instance before the instance is declared unresponsive (killed, the
   * call failed as retryable). @default config `stages.timeoutMs`
   */
  invokeTimeoutMs?: number;
}

/** The local platform, with what a test or the host may need beyond the provider interface. */
export interface LocalServerlessPlatform extends ServerlessPlatform {
  /** Process id of an instance, while it exists. */
  pidOf(instanceId: string): number | undefined;
}

interface InstanceProcess {
  proc: ManagedProcess;
  /** Rejects the request in progress on this instance (set while one is). */
  fail?: (err: Error) => void;
  /** Set when the platform stops the process itself (exit is expected). */
  stopping: boolean;
}

/**
 * An instance id: unique across platform runs, and one NATS subject token (`[A-Za-z0-9_-]`). A fused function's
 * names its stages: `mnist-ee-s1_4-<tag>-<seq>`.
 */
function instanceIdFor(fn: FunctionRef, tag: string, seq: number): string {
  const stages = isFused(fn) ? `${fn.stage}_${lastStageOf(fn)}` : `${fn.stage}`;
  return `${fn.model.replace(/[^A-Za-z0-9_-]/g, '_')}-s${stages}-${tag}-${seq}`;
}

/**
 * The outputs a fused function's reply must carry: one per stage it ran, consecutive from its first stage, ending at
 * an exit or at its last stage. Anything else is a broken instance (a protocol error, not the caller's input).
 */
export function checkRunOutputs(fn: FunctionRef, id: string, stages: StageOutput[] | undefined): StageOutput[] {
  const last = stages?.[stages.length - 1];
  const ok =
    !!stages &&
    !!last &&
    stages.every((o, i) => o.stage === fn.stage + i) &&
    (last.exited || last.stage === lastStageOf(fn)) &&
    stages.slice(0, -1).every((o) => !o.exited);
  if (!ok) {
    throw new FunctionInvocationError({
      type: 'ProtocolError',
      message: `function instance ${id} (${functionName(fn)}) answered with stages ${JSON.stringify(stages?.map((o) => o.stage))}, not a run from stage ${fn.stage} to an exit or stage ${lastStageOf(fn)}`,
      nonRetryable: false,
    });
  }
  return stages;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Create the platform. Instances are started on demand; nothing runs until the first `invoke`.
 *
 * Billing of a cold start: `initMs` = measured wall time of the real start (spawn to ready: Node, NATS connect,
 * ONNX model load and warm-up run), unscaled, plus `faas.coldStartExtraMs`, which is in cloud ms. The real part
 * is compute this machine actually did, and measured compute is never scaled (like handler durations); the extra
 * stands for what a local process does not do (sandbox creation, code download) and is stated in cloud time. The
 * wall wait for the extra is `coldStartExtraMs / timeScale`.
 */
export function createLocalServerlessPlatform(options: LocalServerlessPlatformOptions): LocalServerlessPlatform {
  const { config, nc, billing } = options;
  const { faas, timeScale } = config;
  const log = options.log ?? ((line: string) => console.error(line));
  const script = options.instanceScript ?? CHILD_MAIN_SCRIPT;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_INSTANCE_READY_TIMEOUT_MS;
  const invokeTimeoutMs = options.invokeTimeoutMs ?? config.stages.timeoutMs;
  const limits: PoolLimits = {
    accountConcurrency: faas.accountConcurrency,
    keepAliveWallMs: faas.keepAliveMs / timeScale,
  };
  const coldStartExtraWallMs = faas.coldStartExtraMs / timeScale;
  const tag = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const manifests = new Map<string, ModelManifest>();
  const processes = new Map<string, InstanceProcess>();
  /** Cold starts in progress, so `close()` can end their waits. */
  const starting = new Set<(err: Error) => void>();
  let state: PoolState = EMPTY_POOL;
  let seq = 0;
  let closed = false;
  let reclaimTimer: NodeJS.Timeout | undefined;
  let reclaimAt: number | undefined;

  const info = (id: string) => state.instances.find((i) => i.instanceId === id);

  const publish = async (fact: BillingFact) => {
    try {
      await billing.publish(fact);
    } catch (err) {
      // The invocation happened either way; failing (and so retrying) the stage would run and bill it twice.
      log(`serverless platform: billing event ${fact.type} not published: ${(err as Error).message}`);
    }
  };

  const notify = (event: FunctionInstanceEvent) => {
    try {
      options.onInstance?.(event);
    } catch (err) {
      log(`serverless platform: onInstance hook threw: ${(err as Error).message}`);
    }
  };

  /**
   * Check the function exists before starting anything for it, and that a fused function is called for a run it
   * holds: a bad name or run is the caller's error, not retryable. Returns the function in its normal form (a
   * `lastStage` equal to its stage dropped: that is the one-stage function).
   */
  const checkFunction = (fn: FunctionRef, input: StageInput): FunctionRef => {
    let manifest = manifests.get(fn.model);
    if (!manifest) {
      manifest = loadManifest(fn.model, config.modelsDir); // throws UnknownModelError
      manifests.set(fn.model, manifest);
    }
    checkFunctionRef(fn, manifest.stages.length);
    if (!isFused(fn)) return { model: fn.model, stage: fn.stage };
    const where = `query ${input.queryId}: function ${functionName(fn)}`;
    if (input.model !== fn.model || input.stage !== fn.stage) {
      throw new UnknownStageError(
        `${where} runs from stage ${fn.stage} of ${fn.model}; it was called with ${input.model} stage ${input.stage}`,
      );
    }
    if (!(Number.isInteger(input.lastStage) && input.lastStage >= lastStageOf(fn))) {
      throw new InvalidInputError(
        `${where} runs to stage ${lastStageOf(fn)}, past the query's lastStage ${input.lastStage}`,
      );
    }
    return { model: fn.model, stage: fn.stage, lastStage: lastStageOf(fn) };
  };

  const scheduleReclaim = () => {
    if (closed) return;
    const at = nextExpiryAt(state, limits.keepAliveWallMs);
    if (at === reclaimAt) return;
    if (reclaimTimer) clearTimeout(reclaimTimer);
    reclaimTimer = undefined;
    reclaimAt = at;
    if (at === undefined) return;
    reclaimTimer = setTimeout(runReclaim, Math.max(0, at - Date.now()));
    reclaimTimer.unref();
  };

  /** Drop an instance from the pool and stop its process (if still running); publish its end. */
  const retire = (
    instance: FunctionInstanceInfo,
    reason: Extract<FunctionInstanceEvent, { type: 'reclaimed' }>['reason'],
  ) => {
    state = removeInstance(state, instance.instanceId);
    const p = processes.get(instance.instanceId);
    processes.delete(instance.instanceId);
    notify({ type: 'reclaimed', instance, reason });
    const done = publish({
      type: 'faas.instance.reclaimed',
      at: Date.now(),
      model: instance.model,
      stage: instance.stage,
      instanceId: instance.instanceId,
      reason,
    });
    if (!p) return done;
    p.stopping = true;
    return Promise.all([done, stopPid(p.proc.pid, INSTANCE_STOP_GRACE_MS)]).then(() => undefined);
  };

  function runReclaim() {
    reclaimTimer = undefined;
    reclaimAt = undefined;
    const result = reclaimExpired(state, Date.now(), limits.keepAliveWallMs);
    state = result.state;
    for (const instance of result.reclaimed) void retire(instance, 'keep-alive');
    scheduleReclaim();
  }

  /** The process exited: expected when we stopped it; otherwise it crashed (mid-request or idle). */
  const onExit = (id: string, code: number | string) => {
    const p = processes.get(id);
    if (!p || p.stopping) return;
    log(
      `serverless platform: instance ${id} exited unexpectedly (${code}); log ${p.proc.logFile}:\n${tailLog(p.proc.logFile, 10)}`,
    );
    const lost = new FunctionInstanceLostError(`function instance ${id} exited (${code}) while in use`, {
      processDied: true,
    });
    p.fail?.(lost);
    const instance = info(id);
    processes.delete(id);
    if (instance) void retire(instance, instance.state === 'starting' ? 'start-failed' : 'crashed');
    scheduleReclaim();
  };

  /**
   * A cold start: the platform's extra init (wall wait), then the real process start until the instance reports
   * ready. Returns the measured wall ms of the real part.
   */
  const startInstance = async (instance: FunctionInstanceInfo): Promise<number> => {
    const id = instance.instanceId;
    let abort!: (err: Error) => void;
    const aborted = new Promise<never>((_, reject) => (abort = reject));
    aborted.catch(() => undefined);
    starting.add(abort);
    let sub: Subscription | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([sleep(coldStartExtraWallMs), aborted]);
      // close() may have run before this start registered its abort: never spawn for a closed platform.
      if (closed) throw new PlatformClosedError('the serverless platform was closed during a cold start');
      // Listen for the ready message before the process exists, so it cannot be missed.
      sub = nc.subscribe(functionReadySubject(id), { max: 1 });
      const readyMsg = (async () => {
        for await (const m of sub) {
          m.respond('{"ok":true}');
          return m.json<FunctionReadyMessage>();
        }
        throw new FunctionStartError(`function instance ${id}: ready subscription closed`);
      })();
      const t0 = performance.now();
      const proc = spawnManaged({
        name: `fn-${id}`,
        command: process.execPath,
        args: [
          script,
          'function',
          ...['--model', instance.model, '--stage', String(instance.stage)],
          ...(instance.lastStage !== undefined ? ['--last-stage', String(instance.lastStage)] : []),
          ...['--instance-id', id, '--nats', options.natsUrl, '--parent-pid', String(process.pid)],
        ],
        logDir: options.logDir,
        env: { SERFLOW_CONFIG_JSON: JSON.stringify(config) },
      });
      const p: InstanceProcess = { proc, stopping: false };
      processes.set(id, p);
      const exitedEarly = proc.exited.then((code) => {
        throw new FunctionStartError(
          `function instance ${id} exited (${code}) before it was ready; log ${proc.logFile}:\n${tailLog(proc.logFile, 10)}`,
        );
      });
      exitedEarly.catch(() => undefined);
      void proc.exited.then((code) => onExit(id, code));
      notify({ type: 'started', instance, pid: proc.pid, logFile: proc.logFile });
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new FunctionStartError(
                `function instance ${id} not ready after ${readyTimeoutMs} ms (log ${proc.logFile})`,
              ),
            ),
          readyTimeoutMs,
        );
      });
      await Promise.race([readyMsg, exitedEarly, timedOut, aborted]);
      const initWallMs = performance.now() - t0;
      notify({ type: 'ready', instance, pid: proc.pid, initWallMs });
      return initWallMs;
    } finally {
      starting.delete(abort);
      if (timer) clearTimeout(timer);
      sub?.unsubscribe();
    }
  };

  /** Send the request to a (busy) instance and wait for its reply, the instance's death, or the timeout. */
  const callInstance = async (id: string, request: FunctionRequest): Promise<FunctionReply> => {
    const p = processes.get(id);
    if (!p) throw new FunctionInstanceLostError(`function instance ${id} is gone`);
    const lost = new Promise<never>((_, reject) => (p.fail = reject));
    lost.catch(() => undefined);
    try {
      const msg = await Promise.race([
        // The gateway activity's trace context goes along: the instance's span joins the query's trace.
        nc.request(functionInstanceSubject(id), JSON.stringify(request), {
          timeout: invokeTimeoutMs,
          headers: traceHeaders(),
        }),
        lost,
      ]);
      return msg.json<FunctionReply>();
    } catch (err) {
      if (err instanceof FunctionInstanceLostError || err instanceof PlatformClosedError) throw err;
      // Timeout or no responders: the instance cannot be trusted with another request.
      const instance = info(id);
      if (instance) void retire(instance, 'unresponsive');
      throw new FunctionInstanceLostError(`function instance ${id} did not answer: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      p.fail = undefined;
    }
  };

  return {
    async invoke(ref: FunctionRef, input: StageInput, call: StageCallContext): Promise<FunctionInvocation> {
      if (closed) throw new PlatformClosedError('the serverless platform is closed');
      const fn = checkFunction(ref, input);
      const fused = isFused(fn);
      // A fused function is billed as one function: the memory it is configured with is its hungriest stage's.
      const memoryMb = functionMemoryMb(fn, faas);
      const candidate = instanceIdFor(fn, tag, seq + 1);
      const acquired = acquireInstance(state, { ...fn, memoryMb }, Date.now(), candidate, limits);
      state = acquired.state;
      const { decision } = acquired;
      if (decision.kind === 'throttled') {
        await publish({
          type: 'faas.throttled',
          at: Date.now(),
          model: fn.model,
          stage: fn.stage,
          queryId: input.queryId,
          concurrency: decision.concurrency,
        });
        throw new FunctionThrottledError(
          `${functionName(fn)}: account concurrency limit reached (${decision.concurrency} of ${limits.accountConcurrency} executions in flight)`,
        );
      }
      const id = decision.instanceId;
      const coldStart = decision.kind === 'cold';
      let initMs = 0;
      if (coldStart) {
        seq++;
        const instance = info(id)!;
        await publish({
          type: 'faas.instance.started',
          at: instance.startedAt,
          model: fn.model,
          stage: fn.stage,
          instanceId: id,
          memoryMb,
        });
        try {
          initMs = (await startInstance(instance)) + faas.coldStartExtraMs;
        } catch (err) {
          const still = info(id);
          if (still) await retire(still, 'start-failed');
          throw err;
        }
        state = markReady(state, id);
      }
      // One invocation, one event, whatever the function holds; a fused one names its last stage.
      const billInvocation = (durationMs: number) =>
        publish({
          type: 'faas.invoked',
          at: Date.now(),
          model: fn.model,
          stage: fn.stage,
          ...(fused ? { lastStage: lastStageOf(fn) } : {}),
          instanceId: id,
          queryId: input.queryId,
          memoryMb,
          durationMs,
          initMs,
          coldStart,
        });
      let reply: FunctionReply;
      const callStartedAt = Date.now();
      try {
        // A fused function runs from the input's stage to its last stage, with the early exits inside.
        const request = fused
          ? { input: { ...input, runLast: lastStageOf(fn) } satisfies StageRunInput, call }
          : { input, call };
        reply = await callInstance(id, request);
      } catch (err) {
        // The instance is already dropped (crash, timeout) or the platform closed.
        if (info(id)) state = removeInstance(state, id);
        scheduleReclaim();
        // A cloud bills an invocation whose instance died under it, up to the moment it died (Lambda bills a
        // crashed invocation its duration): so does this one. A call that got no answer (NATS away, the instance
        // hung) may never have reached the instance, so it is not billed: the instance's own log says which ran.
        if (!closed && err instanceof FunctionInstanceLostError && err.processDied) {
          await billInvocation(Date.now() - callStartedAt);
        }
        throw err;
      }
      state = releaseInstance(state, id, Date.now());
      scheduleReclaim();
      await billInvocation(reply.durationMs);
      if (!reply.ok) throw new FunctionInvocationError(reply.error);
      const facts = { backend: 'faas', worker: id } as const;
      const stages = fused ? checkRunOutputs(fn, id, reply.stages).map((o) => ({ ...o, ...facts })) : undefined;
      return {
        output: stages ? (stages[stages.length - 1] as StageOutput) : { ...reply.output, ...facts },
        ...(stages ? { stages } : {}),
        instanceId: id,
        coldStart,
        initMs,
        durationMs: reply.durationMs,
        memoryMb,
      };
    },

    list: () => state.instances.map((i) => ({ ...i })),

    pidOf: (id) => processes.get(id)?.proc.pid,

    async close() {
      if (closed) return;
      closed = true;
      if (reclaimTimer) clearTimeout(reclaimTimer);
      const err = new PlatformClosedError('the serverless platform was closed');
      for (const abort of starting) abort(err);
      for (const p of processes.values()) p.fail?.(err);
      await Promise.all(state.instances.map((i) => retire(i, 'platform-closed')));
      // Processes whose pool entry is already gone (being retired) are stopped too.
      await Promise.all(
        [...processes.values()].map((p) => ((p.stopping = true), stopPid(p.proc.pid, INSTANCE_STOP_GRACE_MS))),
      );
      processes.clear();
    },
  };
}
