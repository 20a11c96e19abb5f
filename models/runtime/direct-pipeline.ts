/**
 * All stages of a model run in this process, with the same exit rule as the workflow: the reference the
 * pipeline is checked against (tests) and measured against (the overhead benchmark).
 */
import { performance } from 'node:perf_hooks';
import { concreteInputDims, loadManifest, softmaxMax, type ModelManifest } from '../manifest';
import { mostConfident, shouldExit } from '../../common/exit-rule';
import { createInferencePool } from './inference-pool';
import { stageRunnerOptions, type StageRunner } from './stage-runner';

export interface DirectStageOutcome {
  stage: number;
  label: number;
  confidence: number;
  serviceMs: number;
}

export interface DirectResult {
  label: number;
  confidence: number;
  answerStage: number;
  exitStage: number;
  stages: DirectStageOutcome[];
  latencyMs: number;
}

export interface DirectPipeline {
  manifest: ModelManifest;
  /** Run one image (batch 1) through the stages until the exit rule stops it. `image` is not modified. */
  run(image: Float32Array, threshold?: number, maxStage?: number): Promise<DirectResult>;
  close(): Promise<void>;
}

export async function createDirectPipeline(model: string, modelsDir?: string): Promise<DirectPipeline> {
  const manifest = loadManifest(model, modelsDir);
  const runners: StageRunner[] = manifest.stages.map((spec) =>
    createInferencePool({ ...stageRunnerOptions(manifest, spec, modelsDir, 1), threads: 1 }),
  );
  const inputDims = concreteInputDims(manifest.stages[0]!);
  // Stage 1 loads now; later stages load on their first run (their input dims come from the previous stage).
  await runners[0]?.warmUp(inputDims);
  return {
    manifest,
    async run(image, threshold = manifest.defaultThreshold, maxStage = manifest.stages.length) {
      const t0 = performance.now();
      const stages: DirectStageOutcome[] = [];
      // The runner transfers its input buffer to the inference thread: hand it a copy.
      let data: Float32Array = new Float32Array(image);
      let dims = inputDims;
      for (let k = 1; k <= maxStage; k++) {
        const runner = runners[k - 1]!;
        const out = await runner.run(data, dims);
        const { label, confidence } = softmaxMax(out.logits);
        stages.push({ stage: k, label, confidence, serviceMs: out.serviceMs });
        if (shouldExit(confidence, threshold, k, maxStage)) break;
        if (!out.activation || !out.activationDims) throw new Error(`stage ${k} of ${model} produced no activation`);
        data = out.activation;
        dims = out.activationDims;
      }
      const answer = mostConfident(stages, threshold)!;
      return {
        label: answer.label,
        confidence: answer.confidence,
        answerStage: answer.stage,
        exitStage: stages[stages.length - 1]!.stage,
        stages,
        latencyMs: performance.now() - t0,
      };
    },
    async close() {
      await Promise.all(runners.map((r) => r.close()));
    },
  };
}
