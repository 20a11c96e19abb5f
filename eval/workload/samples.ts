/**
 * Which held-out image the n-th query of a bench replay sends. The choice is the one `runWorkload`
 * (cli/workload.ts) makes, so a bench query and an `infer` query with the same seed and mix send the same image:
 * the samples the mix allows, in a seeded order, cycled when the trace has more queries than samples, with the
 * mix's pixel noise seeded by the query number. The difference is that the mix can change during a replay
 * (`--mix-schedule`), so each mix keeps its own order. Pure apart from loading the split once.
 */
import { sampleIndices } from '../../common/stats';
import { loadSplit } from '../../models/dataset';
import { allowedIndices, applyNoise, parseInputMix, type InputMix } from '../../models/input-mix';
import { loadManifest } from '../../models/manifest';
import { NO_SHIFT_MIX } from './schedules';

/** Multiplier of the seed in the per-query noise seed, as in `runWorkload`. */
const NOISE_SEED_STRIDE = 100_003;

export interface PickedSample {
  /** Index into the held-out split. */
  index: number;
  /** Its true label. */
  expected: number;
  image: Float32Array;
}

export interface SamplePicker {
  /** The sample of query `n` (0-based, over the whole replay) drawn from `mix` (`all` or an input-mix spec). */
  pick(n: number, mix: string): PickedSample;
}

export function createSamplePicker(model: string, modelsDir: string, seed: number): SamplePicker {
  const split = loadSplit(loadManifest(model, modelsDir), 'test');
  const orders = new Map<string, { mix: InputMix; order: number[] }>();
  const orderOf = (spec: string) => {
    let entry = orders.get(spec);
    if (!entry) {
      const mix: InputMix = spec === NO_SHIFT_MIX ? {} : parseInputMix(spec);
      const allowed = spec === NO_SHIFT_MIX ? split.labels.map((_, i) => i) : allowedIndices(split.labels, mix);
      if (allowed.length === 0) throw new Error(`input mix ${spec}: it allows no held-out sample`);
      const order = sampleIndices(allowed.length, allowed.length, seed).map((i) => allowed[i] as number);
      orders.set(spec, (entry = { mix, order }));
    }
    return entry;
  };
  return {
    pick(n, spec) {
      const { mix, order } = orderOf(spec);
      const index = order[n % order.length] as number;
      const original = split.images[index] as Float32Array;
      const image = mix.noise ? applyNoise(original, mix.noise, seed * NOISE_SEED_STRIDE + n) : original;
      return { index, expected: split.labels[index] as number, image };
    },
  };
}
