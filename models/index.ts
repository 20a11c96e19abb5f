/** Public surface of the model package: manifests of the shipped early-exit models and their data. */
export {
  ModelManifestSchema,
  StageSpecSchema,
  EvaluationSchema,
  InvalidManifestError,
  UnknownModelError,
  MANIFEST_FILE,
  loadManifest,
  parseManifest,
  listModels,
  modelDir,
  stageFilePath,
  softmaxMax,
  stageInputDims,
  queryInputDims,
  concreteInputDims,
} from './manifest';
export type { ModelManifest, StageSpec, TensorSpec, ModelEvaluation } from './manifest';
export { loadSplit, digitFilePath } from './dataset';
export type { DatasetSplit, SplitName } from './dataset';
