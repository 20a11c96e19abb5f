/**
 * Runs one stage's ONNX model on a pool of inference threads (Piscina), one session per thread,
 * created once when the pool starts.
 */
import * as path from 'node:path';
import { Piscina } from 'piscina';
import type { InferenceTask, InferenceTaskResult, InferenceThreadData } from './inference-thread';

/** Runs a stage's model; the seam tests and the benchmark use to run the same stage in process. */
export interface StageRunner {
  run(data: Float32Array, dims: number[]): Promise<InferenceTaskResult>;
  /** Load the model in every thread by running a zero tensor of `dims` (-1 dims taken as 1). */
  warmUp(dims: number[]): Promise<void>;
  close(): Promise<void>;
}

export interface InferencePoolOptions extends InferenceThreadData {
  threads: number;
}

/** A StageRunner backed by `threads` worker threads. The first call waits for the sessions to load. */
export function createInferencePool(options: InferencePoolOptions): StageRunner {
  const { threads, ...threadData } = options;
  const pool = new Piscina<InferenceTask, InferenceTaskResult>({
    filename: path.join(__dirname, 'inference-thread.js'),
    minThreads: threads,
    maxThreads: threads,
    // Threads hold a loaded session: never reap them for idleness.
    idleTimeout: Number.MAX_SAFE_INTEGER,
    workerData: threadData,
  });
  const run = (data: Float32Array, dims: number[]) =>
    pool.run({ data, dims }, { transferList: [data.buffer as ArrayBuffer] });
  return {
    run,
    async warmUp(dims) {
      const concrete = dims.map((d) => (d > 0 ? d : 1));
      const size = concrete.reduce((n, d) => n * d, 1);
      await Promise.all(Array.from({ length: threads }, () => run(new Float32Array(size), concrete)));
    },
    close: () => pool.destroy(),
  };
}
