/**
 * The one way to execute a stage's ONNX model: create its session, run it on one input, read the stage's outputs
 * by name, and warm it up. Inference threads (inference-thread.ts), the main-thread runner of function instances
 * (main-thread-runner.ts) and through them the profiler and the direct pipeline all run stages through here, so
 * every path uses the same ORT options and computes the same numbers.
 *
 * onnxruntime-node is loaded on the first session creation, not when this module is imported: processes that only
 * build runner options or hand inputs to inference threads (a stage worker's main thread, the serverless
 * platform) never load ORT.
 */
import { performance } from 'node:perf_hooks';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

/** What a stage session is made from: the stage's ONNX file, its tensor names, and ORT's intra-op threads. */
export interface StageSessionOptions {
  modelPath: string;
  inputName: string;
  /** The output handed to the next stage; null on the last stage. */
  activationName: string | null;
  logitsName: string;
  /** Threads ORT may use inside one operator (`intraOpNumThreads`). */
  intraOpThreads: number;
}

/** A stage's outputs for one input, copied out of ORT-owned memory. */
export interface StageRunResult {
  logits: Float32Array;
  activation: Float32Array | null;
  activationDims: number[] | null;
  /** Time inside `session.run()`, ms. */
  serviceMs: number;
}

/** A loaded stage model. Its methods are closures: they may be passed around detached from the object. */
export interface StageSession {
  run(data: Float32Array, dims: number[]): Promise<StageRunResult>;
  /** Run a zero input of `dims` once (see `warmUpInput`): the model's lazy first-run work happens now. */
  warmUp(dims: number[]): Promise<void>;
  /** Release the native session. */
  close(): Promise<void>;
}

/** ORT options of every stage session, whichever thread it runs on. */
export function ortSessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

/**
 * The input a warm-up runs: zeros of `dims`, with free dims (-1, as in `stageInputDims`) taken as 1, since a real
 * tensor needs a size for every dim.
 */
export function warmUpInput(dims: readonly number[]): { data: Float32Array; dims: number[] } {
  const concrete = dims.map((d) => (d > 0 ? d : 1));
  return { data: new Float32Array(concrete.reduce((n, d) => n * d, 1)), dims: concrete };
}

/**
 * Fail at load, naming the model and the names it has, when the options name a tensor the model lacks (a manifest
 * out of step with its ONNX file); otherwise the first run would fail with ORT's terser message, or a missing
 * activation would read as "no activation".
 */
function checkTensorNames(session: InferenceSession, options: StageSessionOptions): void {
  const problems: string[] = [];
  if (!session.inputNames.includes(options.inputName)) {
    problems.push(`no input named ${JSON.stringify(options.inputName)} (inputs: ${session.inputNames.join(', ')})`);
  }
  for (const name of [options.logitsName, options.activationName]) {
    if (name !== null && !session.outputNames.includes(name)) {
      problems.push(`no output named ${JSON.stringify(name)} (outputs: ${session.outputNames.join(', ')})`);
    }
  }
  if (problems.length > 0) throw new Error(`stage model ${options.modelPath}: ${problems.join('; ')}`);
}

/** Copy out of ORT-owned memory, so the buffer outlives the run and can be transferred to another thread. */
function toFloat32(t: Tensor): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new Error(`expected a float32 output, got ${t.type}`);
  return new Float32Array(t.data);
}

/** Load a stage's model. @throws if the file does not load or lacks a tensor the options name */
export async function createStageSession(options: StageSessionOptions): Promise<StageSession> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(options.modelPath, ortSessionOptions(options.intraOpThreads));
  try {
    checkTensorNames(session, options);
  } catch (err) {
    await session.release();
    throw err;
  }
  const run = async (data: Float32Array, dims: number[]): Promise<StageRunResult> => {
    const feeds = { [options.inputName]: new ort.Tensor('float32', data, dims) };
    const t0 = performance.now();
    const out = await session.run(feeds);
    const serviceMs = performance.now() - t0;
    const logits = out[options.logitsName];
    if (!logits) throw new Error(`model output ${options.logitsName} missing`);
    const activation = options.activationName ? out[options.activationName] : undefined;
    return {
      logits: toFloat32(logits),
      activation: activation ? toFloat32(activation) : null,
      activationDims: activation ? activation.dims.map(Number) : null,
      serviceMs,
    };
  };
  return {
    run,
    async warmUp(dims) {
      const input = warmUpInput(dims);
      await run(input.data, input.dims);
    },
    close: () => session.release(),
  };
}
