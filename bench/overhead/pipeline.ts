/** Steps 2 and 3, the pipeline: one timed query through the stack, and the per-stage times of a run's results. */
import type { SerflowClient } from '../../client';
import type { InferenceResult } from '../../common/contracts';
import { quantile } from '../../common/stats';
import { round } from './round';

export interface PipelineOutcome {
  latencyMs: number;
  result?: InferenceResult;
  error?: string;
  /** Wall clock (Date.now) at start / end, for lining up with history event times. */
  startedAt: number;
  endedAt: number;
}

export async function timedInfer(
  client: SerflowClient,
  image: Float32Array,
  model: string,
  threshold: number,
): Promise<PipelineOutcome> {
  const startedAt = Date.now();
  const t0 = performance.now();
  try {
    const result = await client.infer(image, { model, threshold });
    return { latencyMs: performance.now() - t0, result, startedAt, endedAt: Date.now() };
  } catch (err) {
    return {
      latencyMs: performance.now() - t0,
      error: `${(err as Error).name}: ${(err as Error).message}`,
      startedAt,
      endedAt: Date.now(),
    };
  }
}

/** Per-stage p50 of queue wait, service (ONNX run) and handler (whole activity attempt) times. */
export function stageTimes(results: InferenceResult[], stages: number) {
  return Array.from({ length: stages }, (_, i) => {
    const recs = results.flatMap((r) => r.stages.filter((s) => s.stage === i + 1));
    return {
      stage: i + 1,
      executions: recs.length,
      queueMsP50: round(
        quantile(
          recs.map((s) => s.queueMs),
          0.5,
        ),
      ),
      serviceMsP50: round(
        quantile(
          recs.map((s) => s.serviceMs),
          0.5,
        ),
        3,
      ),
      handlerMsP50: round(
        quantile(
          recs.map((s) => s.handlerMs),
          0.5,
        ),
      ),
      queueMsP95: round(
        quantile(
          recs.map((s) => s.queueMs),
          0.95,
        ),
      ),
    };
  });
}
