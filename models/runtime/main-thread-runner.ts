/**
 * A StageRunner on the calling thread: one stage session, no worker threads. For a process that serves one
 * request at a time (a function instance), where `session.run()` blocking its event loop delays nothing else and
 * a second thread would only add its own ONNX Runtime environment to the cold start.
 */
import { createStageSession, type StageSessionOptions } from './session';
import type { StageRunner } from './stage-runner';

/** Load the model on this thread; the session has the same ORT options as the inference threads of VM workers. */
export async function createMainThreadRunner(options: StageSessionOptions): Promise<StageRunner> {
  return createStageSession(options);
}
