/**
 * Body of one inference thread (a Piscina worker thread). `session.run()` in onnxruntime-node is synchronous
 * native work that holds its JS thread for the whole inference, so it runs here and never on the worker
 * process's main thread, where Temporal's pollers, heartbeats and NATS I/O live.
 * The stage session is created once per thread, from `workerData`.
 */
import { workerData } from 'piscina';
import { createStageSession, type StageRunResult, type StageSessionOptions } from './session';

/** One input to run the stage on. */
export interface InferenceTask {
  data: Float32Array;
  dims: number[];
}

const sessionPromise = createStageSession(workerData as StageSessionOptions);

export default async function infer(task: InferenceTask): Promise<StageRunResult> {
  const session = await sessionPromise;
  return session.run(task.data, task.dims);
}
