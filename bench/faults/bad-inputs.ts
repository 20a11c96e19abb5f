/**
 * The bad-input table of the fault suite: every input SERFLOW accepts, sent malformed through its
 * real entry point on a running stack, with the error it got. Each row says what was sent and what came back, and
 * whether the error is *named*: a rejection of a specific class (not a bare Error / TypeError) whose message names
 * what was wrong (the field, flag or file). After each input class the stack must still serve a good query and
 * every process it started must still be the one it started (else `lostOrStopped` says what went).
 *
 * Entry points, by class: the SDK (`client.infer`), a workflow started directly with a crafted claim-check reference
 * (what any Temporal client can send), the CLI as a child process against the stack, the config / trace / profile /
 * manifest loaders on temp files, stage events and billing facts published on their NATS subjects (read by the
 * autoscaler's intake, the cloud agent and the ledger's reader), values written into the routing-plan bucket, and
 * requests on the pools API subject.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { createStageEventIntake, durableName } from '../../autoscaler/intake';
import { readBillingEvents } from '../../billing/reader';
import { InferenceFailedError, type SerflowClient } from '../../client';
import { BILLING_EVENTS_SUBJECT_PREFIX } from '../../common/billing-events';
import { loadConfig, type SerflowConfig } from '../../common/config';
import type { InferenceQuery, TensorRef } from '../../common/contracts';
import { STAGE_EVENT_VERSION } from '../../common/events';
import {
  ACTIVATIONS_BUCKET,
  INFERENCE_TASK_QUEUE,
  POOLS_API_SUBJECT,
  ROUTING_BUCKET,
  STAGE_EVENTS_STREAM,
  STAGE_EVENTS_SUBJECT_PREFIX,
  inferenceWorkflowId,
} from '../../common/naming';
import { PROJECT_ROOT } from '../../common/paths';
import { isRejectedPlan, ROUTING_PLAN_VERSION, validateRoutingPlan } from '../../common/routing';
import { loadProfile } from '../../autoscaler/profile';
import { loadTrace } from '../../eval/workload/traces';
import { callPoolsApi, type PoolsRequest } from '../../infra/pools-api';
import { createRoutingStore } from '../../infra/routing-store';
import type { StackInfo } from '../../infra/stack-state';
import { listWorkers } from '../../infra/worker-status';
import { isAlive, stopPid } from '../../deploy/local/processes';
import { loadManifest, MANIFEST_FILE } from '../../models/manifest';
import { PROFILE_FILE } from '../../autoscaler/profile';

/** One bad input: which entry point, which case, what was sent, what came back. */
export interface BadInputRow {
  /** The input class (entry point), e.g. `SDK query`, `CLI flags`, `routing plan (KV)`. */
  input: string;
  case: string;
  /** What was sent, short. */
  sent: string;
  /** `<error class>: <message>` (first lines), or `accepted` when nothing rejected it. */
  error: string;
  /** Rejected with a specific error that names what was wrong (see `isNamed`). */
  named: boolean;
  /** What else went wrong after it: a process that stopped or was restarted, a good query that failed. */
  lostOrStopped?: string;
}

/** What the table needs of a running stack (deploy/local/stack.ts `startStack`). */
export interface BadInputEnv {
  /** A client of the stack (its config names the models directory and the default model). */
  client: SerflowClient;
  /** A NATS connection to the stack's server. */
  nc: NatsConnection;
  config: SerflowConfig;
  /** The running stack (its addresses and the processes whose liveness is checked). */
  stackInfo: StackInfo;
  /** Only these input classes (keys of BAD_INPUT_CLASSES). @default all */
  classes?: readonly BadInputClass[];
}

/** Error classes that say nothing about what was wrong: a rejection of one of these is not named. */
const GENERIC_ERRORS = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'accepted']);

/** Signs of a crash rather than a rejection in a message: a stack trace, a JS engine error about a value. */
const CRASH_SIGNS =
  /\n\s+at |\b(TypeError|ReferenceError)\b|Cannot read propert|is not a function|is not iterable|undefined \(reading/;

interface Outcome {
  /** Error class ('accepted' when nothing rejected the input). */
  errorClass: string;
  message: string;
}

interface BadCase {
  case: string;
  sent: string;
  /** Words one of which the message must contain to name what was wrong (field, flag or file), case-insensitive. */
  names: readonly string[];
  run(): Promise<Outcome>;
}

/**
 * A rejection is named when its class is specific (not a bare Error/TypeError/...), the message shows no crash, and
 * it mentions one of `names` (the offending field, flag or file).
 */
export function isNamed(outcome: Outcome, names: readonly string[]): boolean {
  if (GENERIC_ERRORS.has(outcome.errorClass)) return false;
  if (CRASH_SIGNS.test(outcome.message)) return false;
  const text = outcome.message.toLowerCase();
  return names.some((n) => text.includes(n.toLowerCase()));
}

const ACCEPTED: Outcome = { errorClass: 'accepted', message: '' };

function badCase(name: string, sent: string, names: readonly string[], run: () => Promise<Outcome>): BadCase {
  return { case: name, sent, names, run };
}

/** The outcome of `fn`: accepted, or the class and message of what it threw. */
async function outcomeOf(fn: () => unknown): Promise<Outcome> {
  try {
    await fn();
    return ACCEPTED;
  } catch (err) {
    return errorOutcome(err);
  }
}

function errorOutcome(err: unknown): Outcome {
  if (err instanceof InferenceFailedError)
    return { errorClass: `InferenceFailedError[${err.type}]`, message: err.message };
  if (err instanceof Error) return { errorClass: err.name || err.constructor.name, message: err.message };
  return { errorClass: typeof err, message: String(err) };
}

function short(text: string, max = 240): string {
  const one = text.replace(/\s*\n\s*/g, ' | ').trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// Health: after each class the stack must still serve and its processes must be the ones it started
// ---------------------------------------------------------------------------------------------------------------

interface Health {
  /** pid by process name, as the stack started them. */
  pids: Map<string, number>;
  /** Running worker records per task queue (stage VMs, gateway, agent, workflow worker). */
  workers: Map<string, number>;
}

async function runningWorkers(nc: NatsConnection): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const w of await listWorkers(nc)) {
    if (w.state === 'running') out.set(w.taskQueue, (out.get(w.taskQueue) ?? 0) + 1);
  }
  return out;
}

async function snapshotHealth(env: BadInputEnv): Promise<Health> {
  return {
    pids: new Map(env.stackInfo.processes.map((p) => [p.name, p.pid])),
    workers: await runningWorkers(env.nc),
  };
}

/** A 28x28 image of the default model's input shape: a good input. */
function goodInput(dims: readonly number[]): Float32Array {
  const n = dims.reduce((a, d) => a * (d > 0 ? d : 1), 1);
  return Float32Array.from({ length: n }, (_, i) => ((i * 37) % 255) / 255);
}

/** What went missing since `before`: stopped or restarted processes, lost workers, a good query that failed. */
async function checkHealth(env: BadInputEnv, before: Health, dims: readonly number[]): Promise<string | undefined> {
  const problems: string[] = [];
  try {
    await withTimeout(env.client.infer(goodInput(dims), { deadlineMs: 60_000 }), 65_000, 'good query');
  } catch (err) {
    const o = errorOutcome(err);
    problems.push(`a good query failed afterwards (${o.errorClass}: ${short(o.message, 120)})`);
  }
  const now = new Map(env.stackInfo.processes.map((p) => [p.name, p]));
  for (const [name, pid] of before.pids) {
    const p = now.get(name);
    if (!isAlive(pid))
      problems.push(`${name} (pid ${pid}) stopped${p && p.pid !== pid ? ` (restarted as ${p.pid})` : ''}`);
  }
  // Worker records expire after 3 missed heartbeats: a worker that died shows as missing a few seconds later.
  const after = await runningWorkers(env.nc).catch(() => new Map<string, number>());
  for (const [queue, n] of before.workers) {
    const m = after.get(queue) ?? 0;
    if (m < n) problems.push(`${queue}: ${n - m} of ${n} running workers gone`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The input classes
// ---------------------------------------------------------------------------------------------------------------

interface ClassContext {
  env: BadInputEnv;
  model: string;
  inputDims: number[];
  tmp: string;
  /** Call when the class is done (restores what it changed). */
  cleanups: (() => Promise<void> | void)[];
}

type ClassBuilder = (ctx: ClassContext) => Promise<BadCase[]>;

function sdkCases(ctx: ClassContext): Promise<BadCase[]> {
  const { client } = ctx.env;
  const good = goodInput(ctx.inputDims);
  const infer = (input: unknown, options: unknown) => () =>
    outcomeOf(() =>
      withTimeout(
        client.infer(input as Float32Array, { deadlineMs: 30_000, ...(options as object) }),
        40_000,
        'client.infer',
      ),
    );
  const nan = Float32Array.from(good);
  nan[5] = NaN;
  const inf = Float32Array.from(good);
  inf[100] = Infinity;
  const c = badCase;
  return Promise.resolve([
    c('input not a tensor', 'input: "abc"', ['input'], infer('abc', {})),
    c('input missing', 'input: undefined', ['input'], infer(undefined, {})),
    c('input null', 'input: null', ['input'], infer(null, {})),
    c('too few values', 'input: 100 floats', ['values', 'input'], infer(good.slice(0, 100), {})),
    c(
      'oversized input',
      'input: 4,000,000 floats (16 MB)',
      ['values', 'input'],
      infer(new Float32Array(4_000_000), {}),
    ),
    c('NaN value', 'input[5] = NaN', ['NaN', 'index'], infer(nan, {})),
    c('Infinity value', 'input[100] = Infinity', ['Infinity', 'index'], infer(inf, {})),
    c('dims not a list', 'dims: 5', ['dims'], infer(good, { dims: 5 })),
    c('dims wrong rank', 'dims: [1, 1, 784]', ['dims', 'shape', 'rank'], infer(good, { dims: [1, 1, 784] })),
    c('dims negative', 'dims: [1, 1, 28, -28]', ['dims', 'dimension'], infer(good, { dims: [1, 1, 28, -28] })),
    c('threshold out of range', 'threshold: 1.5', ['threshold'], infer(good, { threshold: 1.5 })),
    c('threshold wrong type', 'threshold: "high"', ['threshold'], infer(good, { threshold: 'high' })),
    c('threshold NaN', 'threshold: NaN', ['threshold'], infer(good, { threshold: NaN })),
    c('maxStage 0', 'maxStage: 0', ['maxStage'], infer(good, { maxStage: 0 })),
    c('maxStage beyond the model', 'maxStage: 99', ['maxStage'], infer(good, { maxStage: 99 })),
    c('maxStage fractional', 'maxStage: 2.5', ['maxStage'], infer(good, { maxStage: 2.5 })),
    c('sloMs negative', 'sloMs: -1', ['sloMs'], infer(good, { sloMs: -1 })),
    c('unknown model', 'model: "no-such-model"', ['model'], infer(good, { model: 'no-such-model' })),
    c('model path traversal', 'model: "../models"', ['model'], infer(good, { model: '../models' })),
    c('empty model', 'model: ""', ['model'], infer(good, { model: '' })),
    c('empty queryId', 'queryId: ""', ['queryId'], infer(good, { queryId: '' })),
    c('oversized queryId', 'queryId: 5000 x "q"', ['queryId'], infer(good, { queryId: 'q'.repeat(5000) })),
    c('queryId wrong type', 'queryId: 42', ['queryId'], infer(good, { queryId: 42 })),
    c('deadlineMs 0', 'deadlineMs: 0', ['deadlineMs'], infer(good, { deadlineMs: 0 })),
    c('deadlineMs wrong type', 'deadlineMs: "soon"', ['deadlineMs'], infer(good, { deadlineMs: 'soon' })),
    c(
      'inline limit negative',
      'inlineActivationMaxBytes: -1',
      ['inlineActivationMaxBytes'],
      infer(good, {
        inlineActivationMaxBytes: -1,
      }),
    ),
    c('options not an object', 'options: "fast"', ['options'], () =>
      outcomeOf(() => withTimeout(client.infer(good, 'fast' as never), 40_000, 'client.infer')),
    ),
  ]);
}

/**
 * Claim-check references as any Temporal client can send them: a query built by the SDK, its input replaced, and its
 * workflow started directly (the SDK's own checks are skipped; the workflow and the stage must reject it).
 */
async function claimCheckCases(ctx: ClassContext): Promise<BadCase[]> {
  const { client } = ctx.env;
  const elements = ctx.inputDims.reduce((a, d) => a * d, 1);
  let n = 0;
  const startWith = (input: unknown) => async (): Promise<Outcome> => {
    const queryId = `bad-ref-${process.pid}-${Date.now()}-${++n}`;
    const query: InferenceQuery = await client.buildQuery(goodInput(ctx.inputDims), { queryId });
    const crafted = { ...query, input: input as TensorRef };
    return outcomeOf(async () => {
      await client.temporal.workflow.start('inferenceWorkflow', {
        taskQueue: INFERENCE_TASK_QUEUE,
        workflowId: inferenceWorkflowId(query.model, queryId),
        args: [crafted],
        workflowExecutionTimeout: 30_000,
      });
      await withTimeout(client.getResult(queryId, query.model), 40_000, 'query result');
    });
  };
  const dims = ctx.inputDims;
  const bytes = elements * 4;
  const ref = (r: Record<string, unknown>) => r;
  const c = (name: string, input: Record<string, unknown> | string | null, names: string[]): BadCase => ({
    case: name,
    sent: `input: ${short(JSON.stringify(input), 100)}`,
    names,
    run: startWith(input),
  });
  return [
    c('another bucket', ref({ kind: 'object', dims, bucket: 'someone-elses-bucket', key: 'k', bytes }), ['bucket']),
    c('missing object', ref({ kind: 'object', dims, bucket: ACTIVATIONS_BUCKET, key: 'input/none', bytes }), [
      'not in the object store',
      'key',
    ]),
    c('wrong byte count', ref({ kind: 'object', dims, bucket: ACTIVATIONS_BUCKET, key: 'k', bytes: 7 }), ['bytes']),
    c('empty key', ref({ kind: 'object', dims, bucket: ACTIVATIONS_BUCKET, key: '', bytes }), ['key']),
    c('unknown kind', ref({ kind: 'url', dims, url: 'http://example.com/x' }), ['kind']),
    c('dims not a list', ref({ kind: 'inline', dims: 5, dataBase64: '' }), ['dims']),
    c('dims of another shape', ref({ kind: 'inline', dims: [1, 3, 28, 28], dataBase64: 'AAAA' }), [
      'dims',
      'shape',
      'dimension',
    ]),
    c('inline data not base64 of the shape', ref({ kind: 'inline', dims, dataBase64: '!!!not-base64!!!' }), [
      'dataBase64',
      'values',
      'float32',
    ]),
    c('inline data not a string', ref({ kind: 'inline', dims, dataBase64: 12345 }), ['dataBase64']),
    c('no input', null, ['input']),
    c('input a string', 'pixels', ['input']),
  ];
}

/** Run the CLI (bin/serflow.js) against the stack; resolves with its exit code and stderr. */
function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<{ code: number | string; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'serflow.js'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    const timer = setTimeout(() => {
      if (child.pid) void stopPid(child.pid, 2_000);
      stderr += `\n(hung: killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stderr, stdout });
    });
  });
}

/** The environment a CLI process needs to find the stack (and nothing of this machine's own state). */
function cliEnv(ctx: ClassContext): NodeJS.ProcessEnv {
  const { config, stackInfo } = ctx.env;
  const home = path.join(ctx.tmp, 'cli-home');
  return {
    SERFLOW_HOME: home,
    SERFLOW_CONFIG: '',
    SERFLOW_CONFIG_JSON: JSON.stringify({ ...config, homeDir: home }),
    TEMPORAL_ADDRESS: stackInfo.temporalAddress,
    TEMPORAL_NAMESPACE: stackInfo.namespace,
    NATS_URL: stackInfo.natsUrl,
  };
}

async function cliOutcome(args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const r = await runCli(args, env);
  if (r.code === 0) return { errorClass: 'accepted', message: short(r.stdout, 160) };
  const lines = r.stderr
    .split('\n')
    .filter((l) => l.trim() && !/^\[serflow\]/.test(l) && !/^\(Use `node --trace/.test(l));
  return { errorClass: `exit ${r.code}`, message: lines.join('\n') };
}

function cliCases(ctx: ClassContext): Promise<BadCase[]> {
  const env = cliEnv(ctx);
  const garbageTrace = path.join(ctx.tmp, 'garbage-trace.txt');
  fs.writeFileSync(garbageTrace, '12\nlots\n7\n');
  const badConfig = path.join(ctx.tmp, 'cli-bad-config.json');
  fs.writeFileSync(badConfig, JSON.stringify({ workers: { stageConcurrency: 'four' } }));
  const c = (args: string[], names: string[], extraEnv: NodeJS.ProcessEnv = {}, name?: string): BadCase => ({
    case: name ?? args.join(' '),
    sent: `serflow ${args.join(' ')}`,
    names,
    run: () => cliOutcome(args, { ...env, ...extraEnv }),
  });
  return Promise.resolve([
    c(['infer', '--samples', '-5'], ['--samples']),
    c(['infer', '--samples', 'lots'], ['--samples']),
    c(['infer', '--samples', '1000000000'], ['--samples']),
    c(['infer', '--threshold', '7'], ['--threshold']),
    c(['infer', '--concurrency', '0'], ['--concurrency']),
    c(['infer', '--rate', '-1'], ['--rate']),
    c(['infer', '--samples', '2', '--mix', 'noise:5'], ['mix', 'noise']),
    c(['infer', '--samples', '2', '--model', '../../etc'], ['model']),
    c(['route', 'set', 'teleport'], ['plan spec', 'teleport']),
    c(['route', 'set', 'shares:2,1,1,1'], ['shares']),
    c(['route', 'set', 'vm-prefix:1', '--overflow-ms', '-5'], ['--overflow-ms']),
    c(['pools', 'scale', '--stage', '99', '--vms', '1'], ['stage']),
    c(['pools', 'scale', '--stage', '1', '--vms', 'many'], ['--vms']),
    c(['pools', 'scale', '--stage', '1', '--vms', '100000'], ['--vms', 'vms']),
    c(['pools', 'drain'], ['--vm', '--stage']),
    c(['sim', '--trace', garbageTrace], ['trace', 'line 2'], {}, 'sim --trace <file with a bad line>'),
    c(['cost', '--since', 'yesterdayish'], ['--since']),
    c(['up', '--autoscaler', 'bogus'], ['bogus', 'policy']),
    c(['teleport'], ['teleport', 'command']),
    c(['infer', '--frobnicate'], ['--frobnicate', 'option']),
    c(
      ['status'],
      ['workers.stageConcurrency'],
      { SERFLOW_CONFIG_JSON: '', SERFLOW_CONFIG: badConfig },
      'status with SERFLOW_CONFIG of a bad file',
    ),
  ]);
}

function configCases(ctx: ClassContext): Promise<BadCase[]> {
  const file = (name: string, content: string | Buffer) => {
    const f = path.join(ctx.tmp, name);
    fs.writeFileSync(f, content);
    return f;
  };
  const load = (name: string, content: string | Buffer) => () => {
    const f = file(name, content);
    return outcomeOf(() => loadConfig({}, { SERFLOW_CONFIG: f }));
  };
  const c = badCase;
  const json = (v: unknown) => JSON.stringify(v);
  /** A config file holding `value` as JSON: what was sent is that JSON. */
  const jsonCase = (what: string, name: string, value: unknown, says: string[]) =>
    c(what, json(value), says, load(name, json(value)));
  return Promise.resolve([
    c('not JSON', '{ "workers": ', ['not valid JSON', 'config file'], load('c1.json', '{ "workers": ')),
    c('garbage bytes', '4 KB of random bytes', ['not valid JSON', 'config file'], load('c2.json', garbageBytes(4096))),
    c('a list', '[1, 2]', ['JSON object', 'array'], load('c3.json', '[1, 2]')),
    jsonCase('wrong type', 'c4.json', { workers: { stageConcurrency: 'four' } }, ['workers.stageConcurrency']),
    jsonCase('negative', 'c5.json', { stages: { timeoutMs: -5 } }, ['stages.timeoutMs']),
    jsonCase('out of range', 'c6.json', { faas: { memoryMb: 50 } }, ['faas.memoryMb']),
    jsonCase('port out of range', 'c7.json', { nats: { port: 70000 } }, ['nats.port']),
    jsonCase('misspelt field', 'c8.json', { stages: { timeoutMS: 5000 } }, ['timeoutMS']),
    jsonCase('unknown section', 'c9.json', { workerz: { stageConcurrency: 2 } }, ['workerz']),
    c('missing file', 'SERFLOW_CONFIG=/nonexistent/serflow.json', ['SERFLOW_CONFIG', 'nonexistent'], () =>
      outcomeOf(() => loadConfig({}, { SERFLOW_CONFIG: '/nonexistent/serflow.json' })),
    ),
    c('inline JSON a number', 'SERFLOW_CONFIG_JSON=42', ['SERFLOW_CONFIG_JSON'], () =>
      outcomeOf(() => loadConfig({}, { SERFLOW_CONFIG_JSON: '42' })),
    ),
    c(
      'bad routing plan spec',
      json({ routing: { plan: 'teleport' } }),
      ['routing.plan', 'teleport'],
      load('c10.json', json({ routing: { plan: 'teleport' } })),
    ),
  ]);
}

/** Deterministic garbage: bytes a file or message could hold that are no format at all. */
function garbageBytes(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x & 0xff;
  }
  return b;
}

function traceCases(ctx: ClassContext): Promise<BadCase[]> {
  const load = (name: string, content: string | Buffer) => () => {
    const f = path.join(ctx.tmp, name);
    fs.writeFileSync(f, content);
    return outcomeOf(() => loadTrace(f));
  };
  const c = badCase;
  const dir = path.join(ctx.tmp, 'a-directory.txt');
  fs.mkdirSync(dir, { recursive: true });
  return Promise.resolve([
    c('empty file', '(0 bytes)', ['empty'], load('t1.txt', '')),
    c('garbage bytes', '4 KB of random bytes', ['line 1', 'trace file'], load('t2.txt', garbageBytes(4096))),
    c('negative count', '5\\n-3\\n', ['line 2'], load('t3.txt', '5\n-3\n')),
    c('fractional count', '1.5\\n', ['line 1'], load('t4.txt', '1.5\n')),
    c('blank line inside', '5\\n\\n6\\n', ['line 2'], load('t5.txt', '5\n\n6\n')),
    c('CSV without a TIMESTAMP column', 'a,b\\n1,2\\n', ['TIMESTAMP', 'line 1'], load('t6.csv', 'a,b\n1,2\n')),
    c(
      'CSV bad timestamp',
      'TIMESTAMP\\n2023-13-45 25:00:00\\n',
      ['line 2'],
      load('t7.csv', 'TIMESTAMP\n2023-13-45 25:00:00\n'),
    ),
    c('CSV header only', 'TIMESTAMP\\n', ['no requests', 'no data rows'], load('t8.csv', 'TIMESTAMP\n')),
    c('missing file', '/nonexistent/trace.txt', ['no such trace', 'nonexistent'], () =>
      outcomeOf(() => loadTrace('/nonexistent/trace.txt')),
    ),
    c('a directory', `${path.basename(dir)} (a directory)`, ['cannot read', 'trace file'], () =>
      outcomeOf(() => loadTrace(dir)),
    ),
    c('synthetic rate negative', 'constant:rps=-1,s=10', ['rps', 'constant'], () =>
      outcomeOf(() => loadTrace('constant:rps=-1,s=10')),
    ),
    c('unknown synthetic shape', 'zigzag:rps=1', ['zigzag', 'no such trace'], () =>
      outcomeOf(() => loadTrace('zigzag:rps=1')),
    ),
  ]);
}

/** A models directory with a copy of the stack's default model manifest (and profile), to corrupt. */
function scratchModels(ctx: ClassContext, name: string): { dir: string; modelDir: string } {
  const dir = path.join(ctx.tmp, `models-${name}`);
  const modelDir = path.join(dir, ctx.model);
  fs.mkdirSync(modelDir, { recursive: true });
  fs.copyFileSync(path.join(ctx.env.config.modelsDir, ctx.model, MANIFEST_FILE), path.join(modelDir, MANIFEST_FILE));
  return { dir, modelDir };
}

function profileCases(ctx: ClassContext): Promise<BadCase[]> {
  const realProfile = path.join(ctx.env.config.modelsDir, ctx.model, PROFILE_FILE);
  const good = fs.existsSync(realProfile)
    ? (JSON.parse(fs.readFileSync(realProfile, 'utf8')) as Record<string, unknown>)
    : null;
  let n = 0;
  const load = (content: string | Buffer | null) => () => {
    const { dir, modelDir } = scratchModels(ctx, `p${++n}`);
    if (content !== null) fs.writeFileSync(path.join(modelDir, PROFILE_FILE), content);
    return outcomeOf(() => loadProfile(ctx.model, dir));
  };
  const mutate = (f: (p: Record<string, unknown>) => void) => {
    const p = structuredClone(good ?? {});
    f(p);
    return JSON.stringify(p);
  };
  const stages = () => (good?.stages as Record<string, unknown>[] | undefined) ?? [];
  const c = badCase;
  return Promise.resolve([
    c('no profile', '(no profile.json)', ['no profile', 'serflow profile'], load(null)),
    c('not JSON', '{"v": 1,', ['not valid JSON', PROFILE_FILE], load('{"v": 1,')),
    c('garbage bytes', '4 KB of random bytes', ['not valid JSON', PROFILE_FILE], load(garbageBytes(4096))),
    c('empty object', '{}', ['profile'], load('{}')),
    c('unknown version', 'profileVersion: 99', ['profileVersion'], load(mutate((p) => (p.profileVersion = 99)))),
    c('stages not a list', 'stages: "four"', ['stages'], load(mutate((p) => (p.stages = 'four')))),
    c(
      'one stage dropped',
      `${stages().length - 1} of ${stages().length} stages`,
      ['stage'],
      load(mutate((p) => (p.stages = (p.stages as unknown[]).slice(1)))),
    ),
    c(
      'model of another name',
      'model: "other-model"',
      ['model', 'other-model'],
      load(mutate((p) => (p.model = 'other-model'))),
    ),
  ]);
}

function manifestCases(ctx: ClassContext): Promise<BadCase[]> {
  const good = JSON.parse(
    fs.readFileSync(path.join(ctx.env.config.modelsDir, ctx.model, MANIFEST_FILE), 'utf8'),
  ) as Record<string, unknown>;
  let n = 0;
  const load = (content: string | Buffer) => () => {
    const { dir, modelDir } = scratchModels(ctx, `m${++n}`);
    fs.writeFileSync(path.join(modelDir, MANIFEST_FILE), content);
    return outcomeOf(() => loadManifest(ctx.model, dir));
  };
  const mutate = (f: (m: Record<string, unknown>) => void) => {
    const m = structuredClone(good);
    f(m);
    return JSON.stringify(m);
  };
  const c = badCase;
  return Promise.resolve([
    c('not JSON', '{"name": ', ['not valid JSON', MANIFEST_FILE], load('{"name": ')),
    c('garbage bytes', '4 KB of random bytes', ['not valid JSON', MANIFEST_FILE], load(garbageBytes(4096))),
    c('empty object', '{}', ['manifest', 'stages'], load('{}')),
    c('name not the folder', 'name: "someone-else"', ['name'], load(mutate((m) => (m.name = 'someone-else')))),
    c('stages not a list', 'stages: "four"', ['stages'], load(mutate((m) => (m.stages = 'four')))),
    c('no stages', 'stages: []', ['stages'], load(mutate((m) => (m.stages = [])))),
    c(
      'stage file a number',
      'stages[1].file: 42',
      ['stages[1].file', 'file'],
      load(mutate((m) => ((m.stages as Record<string, unknown>[])[1]!.file = 42))),
    ),
    c(
      'threshold out of range',
      'defaultThreshold: 3',
      ['defaultThreshold'],
      load(mutate((m) => (m.defaultThreshold = 3))),
    ),
    c('model name a path', 'loadManifest("../../etc")', ['unknown model'], () =>
      outcomeOf(() => loadManifest('../../etc', ctx.env.config.modelsDir)),
    ),
  ]);
}

/** Stage events: published on the stage-event subjects, read by a real intake (the autoscaler's) of a probe model. */
async function stageEventCases(ctx: ClassContext): Promise<BadCase[]> {
  const { nc } = ctx.env;
  const js = nc.jetstream();
  const probe = `bad-input-probe-${process.pid}`;
  const intake = await createStageEventIntake(nc, probe, 4);
  ctx.cleanups.push(async () => {
    await intake.close();
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.delete(STAGE_EVENTS_STREAM, durableName(probe)).catch(() => undefined);
  });
  const subject = `${STAGE_EVENTS_SUBJECT_PREFIX}.${probe}.1.exited`;
  const valid = () => ({
    v: STAGE_EVENT_VERSION,
    type: 'stage.exited',
    queryId: 'q',
    workflowId: 'w',
    runId: 'r',
    model: probe,
    stage: 1,
    backend: 'vm',
    worker: 'probe',
    attempt: 1,
    queueMs: 1,
    serviceMs: 1,
    scheduledAt: Date.now(),
    startedAt: Date.now(),
    finishedAt: Date.now(),
    label: 3,
    confidence: 0.9,
    threshold: 0.8,
    confident: true,
  });
  /** Publish, then wait for the intake to count it as malformed; the error is the reason it gives. */
  const send = (payload: Uint8Array | string) => async (): Promise<Outcome> => {
    const before = intake.snapshot().malformed;
    try {
      await js.publish(subject, typeof payload === 'string' ? new TextEncoder().encode(payload) : payload);
    } catch (err) {
      return errorOutcome(err); // refused by NATS itself (e.g. over its payload limit)
    }
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const w = intake.snapshot();
      if (w.malformed > before) {
        const reason = w.malformedErrors.at(-1) ?? '(no reason recorded)';
        intake.commit();
        return { errorClass: 'MalformedStageEvent (counted, terminated)', message: reason };
      }
      if (w.events > 0) {
        intake.commit();
        return ACCEPTED; // counted as a real stage execution
      }
      await sleep(100);
    }
    return { errorClass: 'accepted', message: 'the intake neither counted nor rejected it within 5 s' };
  };
  const json = (f: (e: Record<string, unknown>) => void) => {
    const e: Record<string, unknown> = valid();
    f(e);
    return JSON.stringify(e);
  };
  const c = badCase;
  const cases = [
    c('garbage bytes', '512 random bytes', ['JSON'], send(garbageBytes(512))),
    c('a JSON list', '[1, 2, 3]', ['(root)', 'object', 'type'], send('[1,2,3]')),
    c('unknown version', 'v: 2 (otherwise valid)', ['v'], send(json((e) => (e.v = 2)))),
    c('no version', 'v missing', ['v'], send(json((e) => delete e.v))),
    c('unknown type', 'type: "stage.teleported"', ['type'], send(json((e) => (e.type = 'stage.teleported')))),
    c(
      'missing fields',
      '{ v: 1, type: "stage.exited" }',
      ['queryId', 'stage'],
      send(
        json((e) => {
          for (const k of Object.keys(e)) if (k !== 'v' && k !== 'type') delete e[k];
        }),
      ),
    ),
    c('confidence out of range', 'confidence: 7', ['confidence'], send(json((e) => (e.confidence = 7)))),
    c('stage wrong type', 'stage: "one"', ['stage'], send(json((e) => (e.stage = 'one')))),
    c('oversized', '2 MB payload', ['payload', 'MAX_PAYLOAD'], send(new Uint8Array(2 * 1024 * 1024))),
  ];
  // The intake keeps going: a good event after the bad ones is counted.
  cases.push({
    case: 'good event after the bad ones',
    sent: 'a valid stage.exited event',
    names: [],
    run: async () => {
      await js.publish(subject, new TextEncoder().encode(JSON.stringify(valid())));
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        if (intake.snapshot().events > 0) {
          intake.commit();
          return { errorClass: 'control', message: 'counted (the intake kept running)' };
        }
        await sleep(100);
      }
      return { errorClass: 'control', message: 'NOT counted: the intake stopped taking events' };
    },
  });
  return cases;
}

/** Billing facts: published on the billing subjects (the stream keeps them; the cloud agent follows vm.ready). */
async function billingCases(ctx: ClassContext): Promise<BadCase[]> {
  const { nc } = ctx.env;
  const js = nc.jetstream();
  const since = Date.now() - 1_000;
  /** Publish; then the ledger's reader must report that very message as malformed, with its reason. */
  const send = (type: string, payload: Uint8Array | string) => async (): Promise<Outcome> => {
    let seq: number;
    try {
      const h = natsHeaders();
      h.set('Nats-Msg-Id', `bad-input-${process.pid}-${Date.now()}-${Math.random()}`);
      const ack = await js.publish(
        `${BILLING_EVENTS_SUBJECT_PREFIX}.${type}`,
        typeof payload === 'string' ? new TextEncoder().encode(payload) : payload,
        { headers: h },
      );
      seq = ack.seq;
    } catch (err) {
      return errorOutcome(err);
    }
    const read = await readBillingEvents(nc, { since });
    const bad = read.malformed.find((m) => m.seq === seq);
    if (bad) {
      return {
        errorClass: 'MalformedBillingEvent (reported, not billed)',
        message: `#${bad.seq} ${bad.subject}: ${bad.error}`,
      };
    }
    return { errorClass: 'accepted', message: `billed: the ledger's reader took message ${seq} as a fact` };
  };
  const base = { v: 1, at: Date.now(), timeScale: 1, model: ctx.model, stage: 1 };
  const fact = (f: Record<string, unknown>) => JSON.stringify({ ...base, ...f });
  const c = badCase;
  return Promise.resolve([
    c('garbage bytes on vm.ready', '512 random bytes', ['JSON'], send('vm.ready', garbageBytes(512))),
    c(
      'unknown version',
      'vm.ready with v: 99',
      ['v'],
      send('vm.ready', fact({ v: 99, type: 'vm.ready', vmId: 'x', instanceType: 'c6i.large' })),
    ),
    c('unknown type', 'type: "vm.exploded"', ['type'], send('vm.exploded', fact({ type: 'vm.exploded', vmId: 'x' }))),
    c(
      'missing vmId',
      'vm.terminated without vmId',
      ['vmId'],
      send('vm.terminated', fact({ type: 'vm.terminated', instanceType: 'c6i.large', reason: 'x' })),
    ),
    c(
      'negative duration',
      'faas.invoked durationMs: -5',
      ['durationMs'],
      send(
        'faas.invoked',
        fact({
          type: 'faas.invoked',
          instanceId: 'i',
          queryId: 'q',
          memoryMb: 512,
          durationMs: -5,
          initMs: 0,
          coldStart: false,
        }),
      ),
    ),
    c(
      'lastStage below stage',
      'faas.invoked stage 3, lastStage 2',
      ['lastStage'],
      send(
        'faas.invoked',
        fact({
          type: 'faas.invoked',
          stage: 3,
          lastStage: 2,
          instanceId: 'i',
          queryId: 'q',
          memoryMb: 512,
          durationMs: 5,
          initMs: 0,
          coldStart: false,
        }),
      ),
    ),
    c(
      'timeScale 0',
      'vm.launched timeScale: 0',
      ['timeScale'],
      send(
        'vm.launched',
        fact({
          type: 'vm.launched',
          timeScale: 0,
          vmId: 'x',
          instanceType: 'c6i.large',
          bootDelayMs: 0,
        }),
      ),
    ),
  ]);
}

/** Routing plans: values written into the routing bucket under the model's key; queries must keep running. */
async function routingCases(ctx: ClassContext): Promise<BadCase[]> {
  const { nc } = ctx.env;
  const kv = await nc.jetstream().views.kv(ROUTING_BUCKET);
  const original = await kv.get(ctx.model);
  ctx.cleanups.push(async () => {
    if (original && original.operation === 'PUT') await kv.put(ctx.model, original.value);
    else await kv.delete(ctx.model);
  });
  const store = await createRoutingStore(nc);
  const stages = loadManifest(ctx.model, ctx.env.config.modelsDir).stages.length;
  const good = {
    v: ROUTING_PLAN_VERSION,
    model: ctx.model,
    stages: [1, 2, 3, 4].map((stage) => ({ stage, vmShare: 1 })),
    source: 'bad-inputs',
    updatedAt: Date.now(),
  };
  /** Write the value, then: the plan readers see (rejected, with why), and a good query must still complete. */
  const write = (value: Uint8Array | string) => async (): Promise<Outcome> => {
    try {
      await kv.put(ctx.model, typeof value === 'string' ? new TextEncoder().encode(value) : value);
    } catch (err) {
      return errorOutcome(err);
    }
    // What readers do with it: the bucket's check (checkStoredPlan), then the fit to the model (usablePlan).
    const read = await store.get(ctx.model);
    let unfit: string | undefined;
    if (read && !isRejectedPlan(read)) {
      try {
        validateRoutingPlan(read, stages);
      } catch (err) {
        unfit = (err as Error).message;
      }
    }
    const outcome: Outcome = isRejectedPlan(read)
      ? { errorClass: 'InvalidRoutingPlanError (rejected, last good plan kept)', message: read.rejected }
      : unfit !== undefined
        ? { errorClass: 'InvalidRoutingPlanError (does not fit the model: every stage serverless)', message: unfit }
        : { errorClass: 'accepted', message: `in force: ${JSON.stringify(read)?.slice(0, 120)}` };
    await sleep(200); // the client's and the worker's watches see the value
    try {
      await withTimeout(ctx.env.client.infer(goodInput(ctx.inputDims), { deadlineMs: 60_000 }), 65_000, 'good query');
    } catch (err) {
      const o = errorOutcome(err);
      return {
        ...outcome,
        message: `${outcome.message} -- AND a good query then failed: ${o.errorClass}: ${o.message}`,
      };
    }
    return outcome;
  };
  const plan = (f: (p: Record<string, unknown>) => void) => {
    const p: Record<string, unknown> = structuredClone(good);
    f(p);
    return JSON.stringify(p);
  };
  const cases: [string, string, string[], Uint8Array | string][] = [
    ['garbage bytes', '512 random bytes', ['not JSON'], garbageBytes(512)],
    ['not JSON', '{"v": 1, "stages": [', ['not JSON'], '{"v": 1, "stages": ['],
    ['null', 'null', ['plan object'], 'null'],
    ['a list', '[1, 2]', ['plan object'], '[1, 2]'],
    ['unknown version', 'v: 2', ['v'], plan((p) => (p.v = 2))],
    ['share out of range', 'stages[0].vmShare: 5', ['vmShare'], plan((p) => (stagesOf(p)[0]!.vmShare = 5))],
    ['stage beyond the model', 'stages[0].stage: 99', ['stage'], plan((p) => (stagesOf(p)[0]!.stage = 99))],
    ['stages not a list', 'stages: "all"', ['stages'], plan((p) => (p.stages = 'all'))],
    ['plan of another model', 'model: "other"', ['model'], plan((p) => (p.model = 'other'))],
    ['fused garbage', 'fused: [{ first: 3, last: 1 }]', ['fused'], plan((p) => (p.fused = [{ first: 3, last: 1 }]))],
    [
      'negative overflow',
      'stages[1].overflowAfterMs: -1',
      ['overflowAfterMs'],
      plan((p) => (stagesOf(p)[1]!.overflowAfterMs = -1)),
    ],
    [
      'oversized',
      '1,000 stage routes',
      ['stages'],
      plan((p) => (p.stages = Array.from({ length: 1000 }, (_, k) => ({ stage: k + 1, vmShare: 1 })))),
    ],
  ];
  return cases.map(([name, sent, names, value]) => ({ case: name, sent, names, run: write(value) }));
}

function stagesOf(plan: Record<string, unknown>): Record<string, unknown>[] {
  return plan.stages as Record<string, unknown>[];
}

/** Pool-API requests: on the pools subject, answered by the cloud agent. */
function poolsCases(ctx: ClassContext): Promise<BadCase[]> {
  const { nc } = ctx.env;
  const raw = (payload: Uint8Array | string) => async (): Promise<Outcome> => {
    try {
      const reply = await nc.request(POOLS_API_SUBJECT, payload, { timeout: 10_000 });
      const r = reply.json<{ ok: boolean; error?: string }>();
      return r.ok ? ACCEPTED : { errorClass: 'PoolsApiError (agent reply)', message: r.error ?? '' };
    } catch (err) {
      return errorOutcome(err);
    }
  };
  const typed = (request: unknown) => () => outcomeOf(() => callPoolsApi(nc, request as PoolsRequest));
  const m = ctx.model;
  const cases: [string, string, string[], () => Promise<Outcome>][] = [
    ['garbage bytes', '512 random bytes', ['not JSON'], raw(garbageBytes(512))],
    ['a JSON list', '[1, 2]', ['op', 'request'], raw('[1,2]')],
    ['unknown op', '{ op: "nuke" }', ['op'], typed({ op: 'nuke' })],
    [
      'scale without vms',
      `{ op: "scale", model: "${m}", stage: 1 }`,
      ['vms'],
      typed({ op: 'scale', model: m, stage: 1 }),
    ],
    [
      'negative stage',
      `{ op: "scale", stage: -1, vms: 1 }`,
      ['stage'],
      typed({ op: 'scale', model: m, stage: -1, vms: 1 }),
    ],
    [
      'stage beyond the model',
      `{ op: "scale", stage: 99, vms: 1 }`,
      ['stage'],
      typed({ op: 'scale', model: m, stage: 99, vms: 1 }),
    ],
    [
      'unknown model',
      '{ op: "scale", model: "no-such-model", stage: 1, vms: 1 }',
      ['no-such-model'],
      typed({ op: 'scale', model: 'no-such-model', stage: 1, vms: 1 }),
    ],
    [
      'a billion VMs',
      `{ op: "scale", stage: 1, vms: 1e9 }`,
      ['vms'],
      typed({ op: 'scale', model: m, stage: 1, vms: 1e9 }),
    ],
    ['drain without a target', '{ op: "drain" }', ['drain'], typed({ op: 'drain' })],
    ['drain an unknown VM', '{ op: "drain", vmId: "vm-nope" }', ['vm-nope'], typed({ op: 'drain', vmId: 'vm-nope' })],
    ['oversized', '2 MB request', ['payload', 'MAX_PAYLOAD'], raw(new Uint8Array(2 * 1024 * 1024))],
  ];
  return Promise.resolve(cases.map(([name, sent, names, run]) => ({ case: name, sent, names, run })));
}

/** The input classes, in table order: the label in the `input` column and the cases. */
export const BAD_INPUT_CLASSES = {
  sdk: { label: 'SDK query', cases: sdkCases },
  claimCheck: { label: 'claim-check tensor ref', cases: claimCheckCases },
  cli: { label: 'CLI flags', cases: cliCases },
  config: { label: 'config', cases: configCases },
  trace: { label: 'trace file', cases: traceCases },
  profile: { label: 'profile', cases: profileCases },
  manifest: { label: 'manifest', cases: manifestCases },
  stageEvents: { label: 'stage event (NATS)', cases: stageEventCases },
  billing: { label: 'billing fact (NATS)', cases: billingCases },
  routing: { label: 'routing plan (KV)', cases: routingCases },
  pools: { label: 'pools API request', cases: poolsCases },
} satisfies Record<string, { label: string; cases: ClassBuilder }>;

export type BadInputClass = keyof typeof BAD_INPUT_CLASSES;

/**
 * Send every bad input of every class (or of `env.classes`) through its real entry point on the running stack and
 * return one row per case. After each class a good query must complete and every process must still be the one the
 * stack started; what failed is written in `lostOrStopped` of that class's rows.
 */
export async function runBadInputs(env: BadInputEnv, progress?: (line: string) => void): Promise<BadInputRow[]> {
  const log = progress ?? (() => undefined);
  const model = env.config.defaultModel;
  const inputDims = loadManifest(model, env.config.modelsDir).stages[0]!.input.shape.map((d, i) =>
    i === 0 ? 1 : typeof d === 'number' ? d : 1,
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-bad-inputs-'));
  const rows: BadInputRow[] = [];
  try {
    const classes = env.classes ?? (Object.keys(BAD_INPUT_CLASSES) as BadInputClass[]);
    for (const key of classes) {
      const { label, cases: build } = BAD_INPUT_CLASSES[key];
      const ctx: ClassContext = { env, model, inputDims, tmp, cleanups: [] };
      const before = await snapshotHealth(env);
      const started = Date.now();
      const classRows: BadInputRow[] = [];
      try {
        for (const bad of await build(ctx)) {
          const outcome = await bad.run().catch((err: unknown) => errorOutcome(err));
          const control = outcome.errorClass === 'control';
          const row: BadInputRow = {
            input: label,
            case: bad.case,
            sent: bad.sent,
            error:
              outcome.errorClass === 'accepted'
                ? `accepted${outcome.message ? ` (${short(outcome.message, 160)})` : ''}`
                : control
                  ? outcome.message
                  : `${outcome.errorClass}: ${short(outcome.message)}`,
            named: control ? !/NOT/.test(outcome.message) : isNamed(outcome, bad.names),
          };
          classRows.push(row);
          log(`${label} / ${row.case}: ${row.named ? 'named' : 'NOT NAMED'} -- ${short(row.error, 160)}`);
        }
      } finally {
        for (const cleanup of ctx.cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
      }
      const lost = await checkHealth(env, before, inputDims);
      if (lost) for (const r of classRows) r.lostOrStopped = lost;
      log(
        `${label}: ${classRows.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s${lost ? ` -- ${lost}` : ''}`,
      );
      rows.push(...classRows);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
