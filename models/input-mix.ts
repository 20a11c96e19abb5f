/**
 * Shifted input mixes, to make exit profiles drift on purpose: noisier images are harder, so fewer queries
 * exit early and deep stages see more load; restricting the classes changes the mix by label.
 * Pure given the random source.
 */
import { seededRandom } from '../common/stats';

export interface InputMix {
  /** Standard deviation of Gaussian pixel noise added to every image (pixels clipped to 0..1). @default 0 */
  noise?: number;
  /** Only these labels are drawn. @default all */
  classes?: number[];
}

/** Parse `noise:0.3`, `classes:1,7`, or both joined by `+` (`noise:0.3+classes:8`). */
export function parseInputMix(spec: string): InputMix {
  const mix: InputMix = {};
  for (const part of spec.split('+')) {
    const [kind, arg = ''] = part.split(':', 2) as [string, string?];
    if (kind === 'noise') {
      const sigma = Number(arg);
      if (!(sigma >= 0 && sigma <= 1)) throw new Error(`input mix ${spec}: noise must be in [0, 1], got ${arg}`);
      mix.noise = sigma;
    } else if (kind === 'classes') {
      const classes = arg.split(',').map(Number);
      if (!classes.length || classes.some((c) => !Number.isInteger(c) || c < 0 || c > 9)) {
        throw new Error(`input mix ${spec}: classes must be digits 0..9 separated by commas, got ${arg}`);
      }
      mix.classes = classes;
    } else {
      throw new Error(`input mix ${spec}: unknown part ${JSON.stringify(part)}; expected noise:S or classes:a,b,...`);
    }
  }
  return mix;
}

/** Indices of a split that the mix allows. */
export function allowedIndices(labels: readonly number[], mix: InputMix): number[] {
  return labels.flatMap((l, i) => (!mix.classes || mix.classes.includes(l) ? [i] : []));
}

/** The image with the mix's noise applied (a new array; the input is not modified). */
export function applyNoise(image: Float32Array, sigma: number, seed: number): Float32Array {
  const out = new Float32Array(image);
  if (!sigma) return out;
  const rnd = seededRandom(seed);
  for (let i = 0; i < out.length; i++) {
    // Box-Muller: one standard normal draw per pixel.
    const n = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    out[i] = Math.min(1, Math.max(0, (out[i] as number) + sigma * n));
  }
  return out;
}
