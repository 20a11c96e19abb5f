/**
 * Body of one inference thread (a Piscina worker thread). `session.run()` in onnxruntime-node is synchronous
 * native work that holds its JS thread for the whole inference, so it runs here and never on the worker
 * process's main thread, where Temporal's pollers, heartbeats and NATS I/O live.
 * The ONNX session is created once per thread, from `workerData`.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { workerData } from 'piscina';

/** What the pool passes to each thread at start. */
export interface InferenceThreadData {
  modelPath: string;
  inputName: string;
  activationName: string | null;
  logitsName: string;
  intraOpThreads: number;
}

export interface InferenceTask {
  data: Float32Array;
  dims: number[];
}

export interface InferenceTaskResult {
  logits: Float32Array;
  activation: Float32Array | null;
  activationDims: number[] | null;
  /** Time inside `session.run()`, ms. */
  serviceMs: number;
}

const config = workerData as InferenceThreadData;
const sessionPromise = ort.InferenceSession.create(config.modelPath, {
  intraOpNumThreads: config.intraOpThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

function toFloat32(t: ort.Tensor): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new Error(`expected a float32 output, got ${t.type}`);
  // Copy out of ORT-owned memory so the buffer can be transferred to the main thread.
  return new Float32Array(t.data);
}

export default async function infer(task: InferenceTask): Promise<InferenceTaskResult> {
  const session = await sessionPromise;
  const feeds = { [config.inputName]: new ort.Tensor('float32', task.data, task.dims) };
  const t0 = performance.now();
  const out = await session.run(feeds);
  const serviceMs = performance.now() - t0;
  const logits = out[config.logitsName];
  if (!logits) throw new Error(`model output ${config.logitsName} missing`);
  const act = config.activationName ? out[config.activationName] : undefined;
  return {
    logits: toFloat32(logits),
    activation: act ? toFloat32(act) : null,
    activationDims: act ? act.dims.map(Number) : null,
    serviceMs,
  };
}
