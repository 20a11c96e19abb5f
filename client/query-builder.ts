/**
 * The workflow input of one query as the client builds it: the input tensor (inline, or claim-checked when large)
 * and the model descriptor (models/descriptor.ts: shape, stage settings, routing plan), so the workflow needs no
 * model-lookup local activity; then the whole query is checked (common/query-checks.ts). Where manifests, plans
 * and the claim-check store come from is the caller's (SerflowClient caches and watches them), so this is testable
 * without servers.
 */
import type { InferenceOptions, InferenceQuery, TensorRef } from '../common/contracts';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import { inferenceWorkflowId, inputActivationKey } from '../common/naming';
import { checkQuery, checkQueryFields } from '../common/query-checks';
import type { StoredPlan } from '../common/routing';
import { inlineEncodedBytes, inlineTensor, validateTensor } from '../common/tensor-codec';
import type { ActivationStore } from '../infra/activation-store';
import { describeQuery, type DescriptorConfig } from '../models/descriptor';
import type { ModelManifest } from '../models/manifest';
import type { SerflowConfig } from '../common/config';

export interface InferOptions extends InferenceOptions {
  /** @default config.defaultModel */
  model?: string;
  /** @default a random UUID */
  queryId?: string;
  /** Input dims. @default the model's input shape with batch 1 */
  dims?: number[];
  /** Inputs whose inline encoding exceeds this go through the claim-check store (needs NATS). @default config */
  inlineActivationMaxBytes?: number;
  /** The query ends within this many ms, finished or failed (QueryDeadlineExceeded). @default config.queries.deadlineMs */
  deadlineMs?: number;
}

/** The query failed; `type` is the failure type (e.g. `InvalidInputError`), `message` says what was wrong. */
export class InferenceFailedError extends Error {
  override readonly name = 'InferenceFailedError';
  constructor(
    readonly queryId: string,
    readonly type: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface QueryBuilderDeps {
  config: DescriptorConfig & Pick<SerflowConfig, 'defaultModel'>;
  /** The manifest of a model, or throws UnknownModelError. */
  manifest(model: string): ModelManifest;
  /** The published routing plan of a model, or null (then every stage runs on its VM pool). */
  routingPlan(model: string): Promise<StoredPlan | null>;
  /** The claim-check store, for inputs over the inline limit. */
  activationStore(): Promise<Pick<ActivationStore, 'toRef'>>;
}

/** Our errors that mean the query itself is wrong (bad input, unknown model or stage): a retry cannot fix them. */
const QUERY_ERROR_TYPES: ReadonlySet<string> = new Set(NON_RETRYABLE_ERROR_TYPES);

/**
 * A query rejected before its workflow starts fails the way the workflow would have failed it: an
 * InferenceFailedError of the same type and message. Anything else (a NATS or file error) is left as it is.
 */
function rejectedQuery(queryId: string, err: unknown): unknown {
  if (err instanceof Error && QUERY_ERROR_TYPES.has(err.name)) {
    return new InferenceFailedError(queryId, err.name, err.message, { cause: err });
  }
  return err;
}

/**
 * The arguments of `infer` / `start` as a caller may pass them from untyped code: `input` a Float32Array or a list
 * of numbers, `options` an object (or nothing). Throws InferenceFailedError (InvalidInputError) naming the argument.
 */
export function checkInferArgs(input: unknown, options: unknown, queryId: string): void {
  const bad = (what: string) => new InferenceFailedError(queryId, 'InvalidInputError', what);
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw bad(`options: expected an object of query options or nothing, got ${describeValue(options)}`);
  }
  if (!(input instanceof Float32Array) && !Array.isArray(input)) {
    throw bad(`input: expected a Float32Array or an array of numbers, got ${describeValue(input)}`);
  }
  if (Array.isArray(input)) {
    const i = input.findIndex((v) => typeof v !== 'number');
    if (i >= 0) throw bad(`input[${i}]: expected a number, got ${describeValue(input[i])}`);
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') {
    const text = JSON.stringify(v);
    return text.length > 40 ? `${text.slice(0, 37)}...` : text;
  }
  return v.constructor?.name ?? typeof v;
}

/**
 * Build and check the workflow input of one query. A query that is wrong (unknown model or stage, a threshold out
 * of range, an input of the wrong shape or with NaN or Infinity, ...) rejects with InferenceFailedError before
 * anything is uploaded or started.
 */
export async function buildInferenceQuery(
  input: Float32Array | readonly number[],
  options: InferOptions,
  queryId: string,
  deps: QueryBuilderDeps,
): Promise<InferenceQuery> {
  checkInferArgs(input, options, queryId);
  const model = options.model ?? deps.config.defaultModel;
  try {
    checkQueryFields({ ...options, queryId, model });
    const manifest = deps.manifest(model);
    const { threshold, maxStage } = options;
    const descriptor = describeQuery(
      { model, threshold, maxStage },
      manifest,
      deps.config,
      await deps.routingPlan(model),
    );
    const dims = options.dims ?? descriptor.inputDims;
    const data = input instanceof Float32Array ? input : Float32Array.from(input);
    validateTensor(data, dims, descriptor.inputDims, `query ${queryId}, ${model} input`);
    const limit = options.inlineActivationMaxBytes ?? deps.config.activations.inlineMaxBytes;
    const key = inputActivationKey(inferenceWorkflowId(model, queryId));
    const ref: TensorRef =
      inlineEncodedBytes(data.length) <= limit
        ? inlineTensor(data, dims)
        : await (await deps.activationStore()).toRef(data, dims, key, limit);
    return checkQuery({
      queryId,
      model,
      input: ref,
      threshold,
      maxStage,
      sloMs: options.sloMs,
      inlineActivationMaxBytes: options.inlineActivationMaxBytes,
      descriptor,
    });
  } catch (err) {
    throw rejectedQuery(queryId, err);
  }
}
