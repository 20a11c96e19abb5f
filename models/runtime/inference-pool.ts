/**
 * Runs one stage's ONNX model on a pool of inference threads (Piscina), one session per thread,
 * created once when the pool starts.
 */
import * as path from 'node:path';
import { Piscina } from 'piscina';
import type { InferenceTask } from './inference-thread';
import { warmUpInput, type StageRunResult, type StageSessionOptions } from './session';
import type { StageRunner } from './stage-runner';

export interface InferencePoolOptions extends StageSessionOptions {
  /** Inference threads, each with its own session. */
  threads: number;
}

/** A StageRunner backed by `threads` worker threads. The first call waits for the sessions to load. */
export function createInferencePool(options: InferencePoolOptions): StageRunner {
  const { threads, ...sessionOptions } = options;
  const pool = new Piscina<InferenceTask, StageRunResult>({
    filename: path.join(__dirname, 'inference-thread.js'),
    minThreads: threads,
    maxThreads: threads,
    // Threads hold a loaded session: never reap them for idleness.
    idleTimeout: Number.MAX_SAFE_INTEGER,
    workerData: sessionOptions satisfies StageSessionOptions,
  });
  const run = (data: Float32Array, dims: number[]) =>
    pool.run({ data, dims }, { transferList: [data.buffer as ArrayBuffer] });
  return {
    run,
    async warmUp(dims) {
      // One zero-input run per thread, started together so that they spread over the threads.
      await Promise.all(
        Array.from({ length: threads }, () => {
          const input = warmUpInput(dims);
          return run(input.data, input.dims);
        }),
      );
    },
    close: () => pool.destroy(),
  };
}
