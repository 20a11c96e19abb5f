/**
 * The model manifest (`models/<name>/manifest.json`): what the stages of an early-exit model are,
 * where their ONNX files are, and how the model was evaluated. Written by `models/tools/train.py`.
 *
 * Exit rule (the same in `train.py` and in the serving code): after stage k, confidence =
 * max softmax(logits_k); a query exits at the first k with confidence >= threshold. If no stage is
 * confident, the answer is the exit with the highest confidence over all stages (ties -> the
 * earliest), and the query counts as exiting at the last stage K for exit shares.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { MODELS_DIR } from '../common/paths';
import { UnknownModelError } from '../common/errors';
import { formatZodIssues } from '../common/zod-issues';

export { UnknownModelError };

/** The manifest file exists but is not valid JSON or does not match the schema; the message names the field. */
export class InvalidManifestError extends Error {
  override readonly name = 'InvalidManifestError';
}

export const MANIFEST_FILE = 'manifest.json';

/** A dimension: a fixed size, or a symbolic name (the dynamic batch dimension, `"batch"`). */
const DimSchema = z.union([z.number().int().positive(), z.string().min(1)]);

const TensorSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(DimSchema).min(1),
});

const fileNameSchema = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._-]+$/, 'must be a plain file name inside the model folder')
  .refine((s) => s !== '.' && s !== '..', 'must be a plain file name inside the model folder');

export const StageSpecSchema = z.object({
  /** 1-based position of the stage in the chain. */
  index: z.number().int().positive(),
  /** ONNX file, relative to the model folder. */
  file: fileNameSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  bytes: z.number().int().positive(),
  params: z.number().int().nonnegative(),
  input: TensorSpecSchema,
  outputs: z.object({
    /** The activation handed to the next stage; null on the last stage. */
    activation: TensorSpecSchema.nullable(),
    /** Raw logits of the stage's exit classifier, `[batch, numClasses]`. */
    logits: TensorSpecSchema,
  }),
});

const fraction = z.number().min(0).max(1);

const PerExitSchema = z.object({
  stage: z.number().int().positive(),
  exitCount: z.number().int().nonnegative(),
  exitShare: fraction,
  reachProbability: fraction,
  /** Accuracy among the queries that exit at this stage; null if none does. */
  accuracy: fraction.nullable(),
  correctCount: z.number().int().nonnegative().optional(),
});

export const EvaluationSchema = z.object({
  split: z.enum(['train', 'calibration', 'test']),
  samples: z.number().int().positive(),
  threshold: fraction,
  overallAccuracy: fraction,
  correctCount: z.number().int().nonnegative().optional(),
  perExit: z.array(PerExitSchema).min(1),
  /** Accuracy per stage if every sample exited there. */
  forcedExitAccuracy: z.array(fraction).min(1),
  thresholdSweep: z.array(
    z.object({
      threshold: fraction,
      overallAccuracy: fraction,
      exitShares: z.array(fraction).min(1),
    }),
  ),
  runtime: z.string().optional(),
});

const modList = z.array(z.number().int().nonnegative());

export const ModelManifestSchema = z
  .object({
    manifestVersion: z.literal(1),
    name: z.string().min(1),
    description: z.string(),
    width: z.number().int().positive(),
    numClasses: z.number().int().min(2),
    dataset: z.object({
      source: z.string(),
      imageShape: z.array(z.number().int().positive()).min(1),
      pixelRange: z.tuple([z.number(), z.number()]).optional(),
      order: z.string().optional(),
      split: z.object({
        rule: z.string(),
        testMod: modList,
        calibrationMod: modList,
        modulus: z.number().int().positive(),
      }),
      counts: z.object({
        train: z.number().int().nonnegative(),
        calibration: z.number().int().nonnegative(),
        test: z.number().int().nonnegative(),
      }),
    }),
    /** Default exit threshold on max softmax. */
    defaultThreshold: fraction,
    opset: z.number().int().positive().optional(),
    stages: z.array(StageSpecSchema).min(1),
    /** Evaluation on the test split, computed with onnxruntime on the exported files. */
    evaluation: EvaluationSchema,
    /** The same on the calibration split (exit profile q_k / p_k for offline profiling). */
    calibrationEvaluation: EvaluationSchema.optional(),
    training: z.looseObject({
      seed: z.number().int(),
      epochs: z.number().int().nonnegative(),
      torch: z.string(),
      trainedAt: z.string(),
    }),
  })
  .superRefine((m, ctx) => {
    const K = m.stages.length;
    m.stages.forEach((s, i) => {
      if (s.index !== i + 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'index'],
          message: `expected ${i + 1} (stages are listed in order)`,
        });
      }
      const last = i === K - 1;
      if (last && s.outputs.activation !== null) {
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'outputs', 'activation'],
          message: 'expected null on the last stage',
        });
      }
      if (!last && s.outputs.activation === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'outputs', 'activation'],
          message: 'expected a tensor spec (only the last stage has none)',
        });
      }
    });
    const files = new Set<string>();
    m.stages.forEach((s, i) => {
      if (files.has(s.file))
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'file'], message: `duplicate file ${s.file}` });
      files.add(s.file);
    });
    const evals: Array<['evaluation' | 'calibrationEvaluation', z.infer<typeof EvaluationSchema> | undefined]> = [
      ['evaluation', m.evaluation],
      ['calibrationEvaluation', m.calibrationEvaluation],
    ];
    for (const [key, ev] of evals) {
      if (!ev) continue;
      if (ev.perExit.length !== K) {
        ctx.addIssue({
          code: 'custom',
          path: [key, 'perExit'],
          message: `expected ${K} entries (one per stage), got ${ev.perExit.length}`,
        });
      }
      if (ev.forcedExitAccuracy.length !== K) {
        ctx.addIssue({
          code: 'custom',
          path: [key, 'forcedExitAccuracy'],
          message: `expected ${K} entries, got ${ev.forcedExitAccuracy.length}`,
        });
      }
      ev.thresholdSweep.forEach((sw, i) => {
        if (sw.exitShares.length !== K) {
          ctx.addIssue({
            code: 'custom',
            path: [key, 'thresholdSweep', i, 'exitShares'],
            message: `expected ${K} entries, got ${sw.exitShares.length}`,
          });
        }
      });
    }
  });

export type ModelManifest = z.infer<typeof ModelManifestSchema>;
export type StageSpec = z.infer<typeof StageSpecSchema>;
export type TensorSpec = z.infer<typeof TensorSpecSchema>;
export type ModelEvaluation = z.infer<typeof EvaluationSchema>;

/**
 * Validates a parsed manifest object. `source` names it in error messages (usually the file path).
 * @throws InvalidManifestError `manifest <source>: stages[2].file: expected string, got number` (one line per issue)
 */
export function parseManifest(raw: unknown, source = '(inline)'): ModelManifest {
  const res = ModelManifestSchema.safeParse(raw);
  if (!res.success) {
    const lines = formatZodIssues(res.error.issues, raw);
    throw new InvalidManifestError(lines.map((l) => `manifest ${source}: ${l}`).join('\n'));
  }
  return res.data;
}

/** Names of the models under `modelsDir` (folders that contain a `manifest.json`), sorted. */
export function listModels(modelsDir: string = MODELS_DIR): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modelsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(modelsDir, e.name, MANIFEST_FILE)))
    .map((e) => e.name)
    .sort();
}

/** The folder of model `name`. */
export function modelDir(name: string, modelsDir: string = MODELS_DIR): string {
  return path.join(modelsDir, name);
}

/** Absolute path of a stage's ONNX file. */
export function stageFilePath(
  manifest: ModelManifest,
  stage: StageSpec | number,
  modelsDir: string = MODELS_DIR,
): string {
  const spec = typeof stage === 'number' ? manifest.stages[stage - 1] : stage;
  if (!spec)
    throw new RangeError(
      `model ${manifest.name} has no stage ${typeof stage === 'number' ? stage : stage.index} (stages 1..${manifest.stages.length})`,
    );
  return path.join(modelDir(manifest.name, modelsDir), spec.file);
}

/**
 * Reads and validates `<modelsDir>/<name>/manifest.json`.
 * @throws UnknownModelError if there is no such model (the message lists the available ones)
 * @throws InvalidManifestError if the file is not valid JSON or does not match the schema, or its `name` is not the folder name
 */
export function loadManifest(name: string, modelsDir: string = MODELS_DIR): ModelManifest {
  const file = path.join(modelsDir, name, MANIFEST_FILE);
  const plainName = /^[A-Za-z0-9._-]+$/.test(name) && name !== '.' && name !== '..';
  if (!plainName || !fs.existsSync(file)) {
    const available = listModels(modelsDir);
    throw new UnknownModelError(
      `unknown model ${JSON.stringify(name)}: no ${path.join(modelsDir, '<name>', MANIFEST_FILE)}; available models: ${
        available.length > 0 ? available.join(', ') : '(none)'
      }`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidManifestError(`manifest ${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const manifest = parseManifest(raw, file);
  if (manifest.name !== name) {
    throw new InvalidManifestError(
      `manifest ${file}: name: expected ${JSON.stringify(name)} (the folder name), got ${JSON.stringify(manifest.name)}`,
    );
  }
  return manifest;
}

/**
 * Input dims a stage accepts for one query: the batch dimension fixed to 1 (one query per workflow), any other
 * free dimension -1 (checked by the tensor validator as "any size").
 */
export function stageInputDims(spec: StageSpec): number[] {
  return spec.input.shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' ? d : -1));
}

/** Input dims of a query: those of stage 1. */
export function queryInputDims(manifest: ModelManifest): number[] {
  const first = manifest.stages[0];
  if (!first) throw new Error(`manifest of ${manifest.name} has no stages`);
  return stageInputDims(first);
}

/**
 * Dims of a real tensor for one input of a stage: the batch dimension 1 and every other free dimension 1 too.
 * Unlike `stageInputDims`, which says what a stage accepts (-1: any size), this is for building a tensor, which
 * needs a size for every dim (the direct pipeline's and the profiler's stage-1 input).
 */
export function concreteInputDims(spec: StageSpec): number[] {
  return spec.input.shape.map((d, i) => (i === 0 || typeof d !== 'number' ? 1 : d));
}

/**
 * Numerically stable max softmax: the arg-max class (first one on ties) and its probability.
 * Non-finite logits give a NaN confidence (which is never >= a threshold).
 * @throws RangeError on an empty logits vector
 */
export function softmaxMax(logits: ArrayLike<number>): { label: number; confidence: number } {
  const n = logits.length;
  if (n === 0) throw new RangeError('softmaxMax: empty logits');
  let label = 0;
  let max = logits[0] as number;
  for (let i = 1; i < n; i++) {
    const v = logits[i] as number;
    if (v > max) {
      max = v;
      label = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp((logits[i] as number) - max);
  return { label, confidence: 1 / sum };
}
