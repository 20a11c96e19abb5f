/**
 * Which held-out image the n-th query of a workload sends, the one rule every load source shares (`serflow infer`
 * and `demo`, the live bench replay, the integration tests' open loop), so a query with the same seed, mix and
 * number sends the same image wherever it comes from: the samples the mix allows, in a seeded order, cycled when
 * there are more queries than samples, with the mix's pixel noise seeded by the query number. The mix may change
 * while a workload runs (a drift); each mix keeps its own order. Pure apart from loading the split once.
 */
import { sampleIndices } from '../../common/stats';
import { loadSplit } from '../../models/dataset';
import { allowedIndices, applyNoise, parseInputMix, type InputMix } from '../../models/input-mix';
import { loadManifest } from '../../models/manifest';
import { NO_SHIFT_MIX } from './schedules';

/** Multiplier of the seed in the per-query noise seed: keeps the noise of seed s, query n apart from seed s + 1's. */
const NOISE_SEED_STRIDE = 100_003;

export interface PickedSample {
  /** Index into the held-out split. */
  index: number;
  /** Its true label. */
  expected: number;
  image: Float32Array;
}

export interface SamplePicker {
  /**
   * The sample of query `n` (0-based, over the whole workload) drawn from `mix`: an input mix, or its spec as the
   * schedules write it (`all`, `noise:0.4`, ...). No mix: every held-out sample, no noise.
   */
  pick(n: number, mix?: InputMix | string): PickedSample;
}

function mixOf(spec: InputMix | string): InputMix {
  if (typeof spec !== 'string') return spec;
  return spec === NO_SHIFT_MIX ? {} : parseInputMix(spec);
}

export function createSamplePicker(model: string, modelsDir: string, seed: number): SamplePicker {
  const split = loadSplit(loadManifest(model, modelsDir), 'test');
  const orders = new Map<string, { mix: InputMix; order: number[] }>();
  const orderOf = (spec: InputMix | string) => {
    const key = typeof spec === 'string' ? spec : JSON.stringify(spec);
    let entry = orders.get(key);
    if (!entry) {
      const mix = mixOf(spec);
      const allowed = allowedIndices(split.labels, mix);
      if (allowed.length === 0) throw new Error(`input mix ${key}: it allows no held-out sample`);
      const order = sampleIndices(allowed.length, allowed.length, seed).map((i) => allowed[i] as number);
      orders.set(key, (entry = { mix, order }));
    }
    return entry;
  };
  return {
    pick(n, spec = {}) {
      const { mix, order } = orderOf(spec);
      const index = order[n % order.length] as number;
      const original = split.images[index] as Float32Array;
      const image = mix.noise ? applyNoise(original, mix.noise, seed * NOISE_SEED_STRIDE + n) : original;
      return { index, expected: split.labels[index] as number, image };
    },
  };
}
