/** Workflow bundle entry: every workflow type the inference task queue serves. */
export { inferenceWorkflow } from './inference';
