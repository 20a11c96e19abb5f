/**
 * Step 1, the direct path: the stages in this process (createDirectPipeline: the workflow's exit rule, one
 * implementation).
 */
import type { SerflowConfig } from '../../common/config';
import { createDirectPipeline, type DirectResult } from '../../models/runtime/direct-pipeline';

export async function directPhase(
  config: SerflowConfig,
  model: string,
  images: Float32Array[],
  threshold: number,
  warmup: number,
): Promise<DirectResult[]> {
  const direct = await createDirectPipeline(model, config.modelsDir);
  try {
    // Later stages load on their first run: push a few queries through every stage (no threshold reached) first.
    for (let i = 0; i < Math.min(3, images.length); i++) await direct.run(images[i]!, Infinity);
    for (let i = 0; i < warmup; i++) await direct.run(images[i % images.length]!, threshold);
    const outcomes: DirectResult[] = [];
    for (const img of images) outcomes.push(await direct.run(img, threshold));
    return outcomes;
  } finally {
    await direct.close();
  }
}
