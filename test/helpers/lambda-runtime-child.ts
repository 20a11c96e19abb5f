/**
 * One emulated Lambda execution environment (a child process of test/helpers/lambda-endpoint.ts): it loads the
 * handler module named on its command line — the init phase — tells the endpoint it is ready, then runs one
 * invocation at a time as the endpoint asks over IPC, measuring each handler call's duration as Lambda does.
 *
 *   node lambda-runtime-child.js <handler file> <export name>
 *
 * A handler that throws (or rejects) is a function error (`errorType` = the error's name), as Lambda's Node runtime
 * reports it; the environment stays up for the next invocation.
 */
import { performance } from 'node:perf_hooks';

/** endpoint → environment */
export interface RuntimeInvoke {
  type: 'invoke';
  requestId: string;
  /** The request body, as Lambda passes it: parsed JSON. */
  event: unknown;
}

/** environment → endpoint */
export type RuntimeMessage =
  | { type: 'ready' }
  | { type: 'init-error'; errorType: string; errorMessage: string }
  | {
      type: 'result';
      requestId: string;
      durationMs: number;
      maxMemoryUsedMb: number;
      /** JSON of the handler's result, or of `{ errorType, errorMessage, trace }` when it threw. */
      payload: string;
      error: boolean;
    };

const send = (m: RuntimeMessage) => process.send?.(m);

function describe(err: unknown): { errorType: string; errorMessage: string; trace: string[] } {
  const e = err instanceof Error ? err : new Error(String(err));
  return { errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') };
}

async function main(): Promise<void> {
  const [file, exportName = 'handler'] = process.argv.slice(2);
  let handler: (event: unknown) => Promise<unknown>;
  try {
    if (!file) throw new Error('usage: lambda-runtime-child.js <handler file> [export]');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as Record<string, unknown>;
    const h = mod[exportName];
    if (typeof h !== 'function') throw new Error(`${file} exports no function ${exportName}`);
    handler = h as typeof handler;
  } catch (err) {
    const { errorType, errorMessage } = describe(err);
    send({ type: 'init-error', errorType: `Runtime.ImportModuleError: ${errorType}`, errorMessage });
    process.disconnect?.();
    return;
  }
  process.on('message', (m: RuntimeInvoke) => {
    if (m?.type !== 'invoke') return;
    void (async () => {
      const t0 = performance.now();
      let payload: string;
      let error = false;
      try {
        payload = JSON.stringify((await handler(m.event)) ?? null);
      } catch (err) {
        payload = JSON.stringify(describe(err));
        error = true;
      }
      const durationMs = performance.now() - t0;
      const maxMemoryUsedMb = Math.ceil(process.memoryUsage().rss / (1024 * 1024));
      send({ type: 'result', requestId: m.requestId, durationMs, maxMemoryUsedMb, payload, error });
    })();
  });
  send({ type: 'ready' });
}

void main();
