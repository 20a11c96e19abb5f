/**
 * A local endpoint that speaks AWS Lambda's Invoke REST API (synchronous invocations only) and runs the REAL handler
 * file in child processes, one per execution environment, for the AWS Lambda adapter's contract tests:
 *
 *   POST /2015-03-31/functions/{FunctionName}/invocations   (X-Amz-Invocation-Type: RequestResponse)
 *
 * - each function gets execution environments on demand; an environment serves one request at a time and stays
 *   warm for the next (no keep-alive reclaim: tests are shorter than Lambda's ~10 min);
 * - the first request of an environment is a cold start: Init Duration = measured wall time from spawning the child
 *   to its handler module being loaded;
 * - `X-Amz-Log-Type: Tail` → `X-Amz-Log-Result`: base64 of START / END / REPORT lines, REPORT built from the measured
 *   durations with deploy/aws/lambda-report.ts's formatter (Billed Duration = ceil(Duration + Init Duration));
 * - a handler that throws, a child that dies mid-request or cannot load the handler → 200 with
 *   `X-Amz-Function-Error: Unhandled` and `{ errorType, errorMessage }`;
 * - more requests in flight than `concurrency` → 429 `TooManyRequestsException` (`x-amzn-ErrorType` header);
 * - an unknown function → 404 `ResourceNotFoundException`; a body that is not JSON → 400
 *   `InvalidRequestContentException`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatReportLine } from '../../deploy/aws/lambda-report';
import type { RuntimeInvoke, RuntimeMessage } from './lambda-runtime-child';

/** The runtime child's compiled script, beside this file in lib/test/helpers/. */
const RUNTIME_CHILD = path.join(__dirname, 'lambda-runtime-child.js');

/** Time an environment gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;

export interface EmulatedFunction {
  name: string;
  /** Absolute path of the compiled handler module. */
  handlerFile: string;
  /** @default 'handler' */
  handlerExport?: string;
  /** The function's environment variables (added to this process's PATH and HOME only). */
  env: Record<string, string>;
  memoryMb: number;
}

export interface LambdaEndpointOptions {
  functions: EmulatedFunction[];
  /** Requests in flight at most across all functions (the account's concurrency); beyond it 429. */
  concurrency: number;
  /** Where each environment's stdout/stderr go (`<function>-<n>.log`). */
  logDir: string;
}

interface Environment {
  fn: EmulatedFunction;
  child: ChildProcess;
  busy: boolean;
  /** Resolves with the measured init ms once the handler module is loaded; rejects with the init error. */
  ready: Promise<number>;
  exited: boolean;
  /** Ends the request in progress when the child dies under it. */
  fail?: (message: string) => void;
}

export interface LambdaEndpoint {
  /** `http://127.0.0.1:<port>`: the adapter's `aws.endpoint`. */
  url: string;
  /** Execution environments created so far for `name` (cold starts). */
  environments(name: string): number;
  /** Requests answered, by status code. */
  readonly statusCounts: Readonly<Record<number, number>>;
  /** Process ids of `name`'s live environments. */
  pids(name: string): number[];
  stop(): Promise<void>;
}

const ACCOUNT = '000000000000';

function respond(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body);
}

/** An error reply as Lambda's REST API writes it (the SDK reads the type from `x-amzn-ErrorType`). */
function apiError(res: http.ServerResponse, status: number, type: string, message: string, extra = {}): void {
  const requestId = randomUUID();
  respond(
    res,
    status,
    { 'x-amzn-ErrorType': type, 'x-amzn-RequestId': requestId },
    JSON.stringify({ Type: 'User', message, ...extra }),
  );
}

/** The function name in the path: a name, or a (partial) ARN `…:function:name[:qualifier]`. */
function functionNameOf(raw: string): string {
  const name = decodeURIComponent(raw);
  const m = /(?:^|:)function:([^:]+)/.exec(name);
  return m?.[1] ?? name;
}

/** Start the endpoint on a free port of 127.0.0.1. */
export async function startLambdaEndpoint(options: LambdaEndpointOptions): Promise<LambdaEndpoint> {
  const functions = new Map(options.functions.map((f) => [f.name, f]));
  const envs = new Map<string, Environment[]>();
  const created = new Map<string, number>();
  const statusCounts: Record<number, number> = {};
  let inFlight = 0;
  fs.mkdirSync(options.logDir, { recursive: true });

  const spawnEnvironment = (fn: EmulatedFunction): Environment => {
    const n = (created.get(fn.name) ?? 0) + 1;
    created.set(fn.name, n);
    const log = fs.openSync(path.join(options.logDir, `${fn.name}-${n}.log`), 'a');
    const t0 = performance.now();
    const child = fork(RUNTIME_CHILD, [fn.handlerFile, fn.handlerExport ?? 'handler'], {
      // A Lambda environment sees only its function's variables, not the test runner's.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...fn.env,
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      },
      stdio: ['ignore', log, log, 'ipc'],
    });
    fs.closeSync(log);
    const env: Environment = { fn, child, busy: true, exited: false, ready: Promise.resolve(0) };
    env.ready = new Promise<number>((resolve, reject) => {
      const onMessage = (m: RuntimeMessage) => {
        if (m.type === 'ready') resolve(performance.now() - t0);
        if (m.type === 'init-error') reject(Object.assign(new Error(m.errorMessage), { errorType: m.errorType }));
      };
      child.on('message', onMessage);
      child.once('exit', (code) =>
        reject(
          Object.assign(new Error(`Runtime exited with error: exit status ${code}`), {
            errorType: 'Runtime.ExitError',
          }),
        ),
      );
    });
    env.ready.catch(() => undefined);
    child.once('exit', (code, signal) => {
      env.exited = true;
      const list = envs.get(fn.name) ?? [];
      envs.set(
        fn.name,
        list.filter((e) => e !== env),
      );
      env.fail?.(`Runtime exited with error: ${signal ?? `exit status ${code}`}`);
    });
    envs.set(fn.name, [...(envs.get(fn.name) ?? []), env]);
    return env;
  };

  /** Run one request on `env`; resolves with the runtime's result or a runtime error. */
  const run = (env: Environment, requestId: string, event: unknown) =>
    new Promise<Extract<RuntimeMessage, { type: 'result' }> | { type: 'died'; message: string }>((resolve) => {
      const onMessage = (m: RuntimeMessage) => {
        if (m.type === 'result' && m.requestId === requestId) {
          env.child.off('message', onMessage);
          env.fail = undefined;
          resolve(m);
        }
      };
      env.fail = (message) => {
        env.child.off('message', onMessage);
        resolve({ type: 'died', message });
      };
      env.child.on('message', onMessage);
      env.child.send({ type: 'invoke', requestId, event } satisfies RuntimeInvoke);
    });

  const invoke = async (fn: EmulatedFunction, req: http.IncomingMessage, body: string, res: http.ServerResponse) => {
    let event: unknown;
    try {
      event = JSON.parse(body === '' ? 'null' : body);
    } catch {
      return apiError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type !== 'RequestResponse') {
      return apiError(
        res,
        400,
        'InvalidParameterValueException',
        `this endpoint runs RequestResponse only, not ${String(type)}`,
      );
    }
    if (inFlight >= options.concurrency) {
      return apiError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
    }
    inFlight++;
    const requestId = randomUUID();
    let env = (envs.get(fn.name) ?? []).find((e) => !e.busy && !e.exited);
    let initMs: number | undefined;
    let result: Awaited<ReturnType<typeof run>>;
    try {
      if (env) env.busy = true;
      else {
        env = spawnEnvironment(fn);
        try {
          initMs = await env.ready;
        } catch (err) {
          env.child.kill('SIGKILL');
          result = { type: 'died', message: `${(err as { errorType?: string }).errorType}: ${(err as Error).message}` };
        }
      }
      result ??= await run(env, requestId, event);
    } finally {
      inFlight--;
      if (env) env.busy = false;
    }
    const durationMs = result.type === 'result' ? result.durationMs : 0;
    const tail = [
      `START RequestId: ${requestId} Version: $LATEST`,
      ...(result.type === 'died' ? [`RequestId: ${requestId} Error: ${result.message}`] : []),
      `END RequestId: ${requestId}`,
      formatReportLine({
        requestId,
        durationMs,
        billedDurationMs: Math.ceil(durationMs + (initMs ?? 0)),
        memorySizeMb: fn.memoryMb,
        maxMemoryUsedMb: result.type === 'result' ? result.maxMemoryUsedMb : 0,
        ...(initMs !== undefined ? { initDurationMs: initMs } : {}),
      }),
      '',
    ].join('\n');
    const headers: Record<string, string> = { 'x-amzn-RequestId': requestId, 'X-Amz-Executed-Version': '$LATEST' };
    if (req.headers['x-amz-log-type'] === 'Tail') headers['X-Amz-Log-Result'] = Buffer.from(tail).toString('base64');
    if (result.type === 'died') {
      headers['X-Amz-Function-Error'] = 'Unhandled';
      const [errorType = 'Runtime.Error', ...rest] = result.message.split(': ');
      return respond(res, 200, headers, JSON.stringify({ errorType, errorMessage: rest.join(': ') || result.message }));
    }
    if (result.error) headers['X-Amz-Function-Error'] = 'Unhandled';
    respond(res, 200, headers, result.payload);
  };

  const server = http.createServer((req, res) => {
    res.on('finish', () => (statusCounts[res.statusCode] = (statusCounts[res.statusCode] ?? 0) + 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations(?:\?.*)?$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m?.[1]) {
        return apiError(res, 404, 'UnknownOperationException', `no such operation: ${req.method} ${req.url}`);
      }
      const name = functionNameOf(m[1]);
      const fn = functions.get(name);
      if (!fn) {
        return apiError(
          res,
          404,
          'ResourceNotFoundException',
          `Function not found: arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`,
        );
      }
      invoke(fn, req, Buffer.concat(chunks).toString('utf8'), res).catch((err: Error) =>
        apiError(res, 500, 'ServiceException', err.message),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    environments: (name) => created.get(name) ?? 0,
    statusCounts,
    pids: (name) => (envs.get(name) ?? []).flatMap((e) => (e.child.pid ? [e.child.pid] : [])),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const all = [...envs.values()].flat();
      await Promise.all(
        all.map(
          (e) =>
            new Promise<void>((resolve) => {
              if (e.exited) return resolve();
              const kill = setTimeout(() => e.child.kill('SIGKILL'), STOP_GRACE_MS);
              e.child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              e.child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
