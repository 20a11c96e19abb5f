/**
 * A stage runner: what the stage activity calls to run one stage's model, whichever way it executes (a pool of
 * inference threads on a VM worker, the main thread of a function instance, a fake in tests). Also how a
 * runner's session options come from the model manifest.
 */
import { stageFilePath, type ModelManifest, type StageSpec } from '../manifest';
import type { StageRunResult, StageSessionOptions } from './session';

/** Runs a stage's model; the seam tests and the benchmark use to run the same stage in process. */
export interface StageRunner {
  run(data: Float32Array, dims: number[]): Promise<StageRunResult>;
  /** Load the model (in every thread) by running a zero tensor of `dims` (-1 dims taken as 1). */
  warmUp(dims: number[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Session options of stage `spec`: its ONNX file under `modelsDir` (default: the shipped models), the tensor names
 * its manifest gives, and `intraOpThreads` ORT threads per operator.
 */
export function stageRunnerOptions(
  manifest: ModelManifest,
  spec: StageSpec,
  modelsDir: string | undefined,
  intraOpThreads: number,
): StageSessionOptions {
  return {
    modelPath: stageFilePath(manifest, spec, modelsDir),
    inputName: spec.input.name,
    activationName: spec.outputs.activation?.name ?? null,
    logitsName: spec.outputs.logits.name,
    intraOpThreads,
  };
}
