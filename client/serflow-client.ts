/**
 * Client SDK: start inference workflows and get their typed results.
 *
 *   const client = await SerflowClient.connect();            // TEMPORAL_ADDRESS / NATS_URL, or the `serflow up` stack
 *   const result = await client.infer(pixels, { threshold: 0.9 });
 *   const handle = await client.start(pixels);  ...  await handle.result();
 */
import { randomUUID } from 'node:crypto';
import { Client, type Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { loadConfig, type SerflowConfig } from '../common/config';
import type { InferenceOptions, InferenceQuery, InferenceResult, TensorRef } from '../common/contracts';
import { INFERENCE_TASK_QUEUE, SEARCH_ATTRIBUTES, inferenceWorkflowId } from '../common/naming';
import { inlineEncodedBytes, inlineTensor } from '../common/tensor-codec';
import { discoverStack, requireTemporalAddress } from '../infra/stack-state';

export { NoStackError } from '../infra/stack-state';
import { createActivationStore, type ActivationStore } from '../infra/activation-store';
import { connectNats } from '../infra/nats';
import { connectClientConnection } from '../infra/temporal';
import { loadManifest, queryInputDims } from '../models/manifest';
import type { inferenceWorkflow } from '../workflows/inference';

export interface ConnectOptions {
  temporalAddress?: string;
  natsUrl?: string;
  namespace?: string;
  config?: SerflowConfig;
  /** How long to wait for Temporal to answer. @default 10000 */
  connectTimeoutMs?: number;
}

export interface InferOptions extends InferenceOptions {
  /** @default config.defaultModel */
  model?: string;
  /** @default a random UUID */
  queryId?: string;
  /** Input dims. @default the model's input shape with batch 1 */
  dims?: number[];
  /** Inputs whose inline encoding exceeds this go through the claim-check store (needs NATS). @default config */
  inlineActivationMaxBytes?: number;
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

export interface InferenceHandle {
  queryId: string;
  workflowId: string;
  result(): Promise<InferenceResult>;
}

/** Where the servers are: explicit options, then TEMPORAL_ADDRESS / NATS_URL, then the `serflow up --detach` state file. */
export function resolveAddresses(
  options: ConnectOptions,
  config: SerflowConfig,
): { temporalAddress: string; natsUrl?: string; namespace: string } {
  const found = discoverStack(config, options);
  return { ...found, temporalAddress: requireTemporalAddress(found) };
}

function unwrapFailure(queryId: string, err: unknown): never {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    // Activity failures wrap the ApplicationFailure one level down.
    while (cause && typeof cause === 'object' && 'cause' in cause && (cause as { cause?: unknown }).cause) {
      const c = cause as { type?: string; cause?: unknown };
      if (c.type) break;
      cause = c.cause;
    }
    const c = cause as { type?: string; message?: string } | undefined;
    throw new InferenceFailedError(queryId, c?.type ?? 'WorkflowFailed', c?.message ?? err.message, { cause: err });
  }
  throw err;
}

export class SerflowClient {
  private store?: ActivationStore;

  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly config: SerflowConfig,
    private readonly natsUrl: string | undefined,
    private nc?: NatsConnection,
  ) {}

  static async connect(options: ConnectOptions = {}): Promise<SerflowClient> {
    const config = options.config ?? loadConfig();
    const { temporalAddress, natsUrl, namespace } = resolveAddresses(options, config);
    const connection = await connectClientConnection(temporalAddress, options.connectTimeoutMs ?? 10_000);
    return new SerflowClient(new Client({ connection, namespace }), connection, config, natsUrl);
  }

  /** A client of a stack this process started (its `info`: the servers' addresses and namespace). */
  static connectToStack(
    info: { temporalAddress: string; natsUrl: string; namespace: string },
    config?: SerflowConfig,
  ): Promise<SerflowClient> {
    const { temporalAddress, natsUrl, namespace } = info;
    return SerflowClient.connect({ temporalAddress, natsUrl, namespace, ...(config ? { config } : {}) });
  }

  private async activationStore(): Promise<ActivationStore> {
    if (!this.store) {
      if (!this.natsUrl)
        throw new Error('input exceeds the inline limit and no NATS URL is known for the claim-check store');
      this.nc ??= await connectNats(this.natsUrl, 'serflow-client');
      this.store = await createActivationStore(this.nc);
    }
    return this.store;
  }

  /** Build the workflow input for one query (inline, or claim-checked when large). */
  async buildQuery(input: Float32Array | readonly number[], options: InferOptions = {}): Promise<InferenceQuery> {
    const model = options.model ?? this.config.defaultModel;
    const queryId = options.queryId ?? randomUUID();
    const dims = options.dims ?? queryInputDims(loadManifest(model, this.config.modelsDir));
    const data = input instanceof Float32Array ? input : Float32Array.from(input);
    const limit = options.inlineActivationMaxBytes ?? this.config.activations.inlineMaxBytes;
    const key = `input/${inferenceWorkflowId(model, queryId)}`;
    const ref: TensorRef =
      inlineEncodedBytes(data.length) <= limit
        ? inlineTensor(data, dims)
        : await (await this.activationStore()).toRef(data, dims, key, limit);
    return {
      queryId,
      model,
      input: ref,
      threshold: options.threshold,
      maxStage: options.maxStage,
      sloMs: options.sloMs,
      inlineActivationMaxBytes: options.inlineActivationMaxBytes,
    };
  }

  /** Start a query without waiting for it. */
  async start(input: Float32Array | readonly number[], options: InferOptions = {}): Promise<InferenceHandle> {
    const query = await this.buildQuery(input, options);
    const workflowId = inferenceWorkflowId(query.model, query.queryId);
    const handle = await this.temporal.workflow.start<typeof inferenceWorkflow>('inferenceWorkflow', {
      taskQueue: INFERENCE_TASK_QUEUE,
      workflowId,
      args: [query],
      memo: { queryId: query.queryId, model: query.model, threshold: query.threshold ?? 'model default' },
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.model, value: query.model }],
      staticSummary: `${query.model} query ${query.queryId}`,
    });
    return { queryId: query.queryId, workflowId, result: () => this.wait(query.queryId, handle) };
  }

  /** Run a query and wait for its result. */
  async infer(input: Float32Array | readonly number[], options: InferOptions = {}): Promise<InferenceResult> {
    return (await this.start(input, options)).result();
  }

  /** Result of a query started earlier (by this or another client). */
  getResult(queryId: string, model = this.config.defaultModel): Promise<InferenceResult> {
    const handle = this.temporal.workflow.getHandle<typeof inferenceWorkflow>(inferenceWorkflowId(model, queryId));
    return this.wait(queryId, handle);
  }

  private async wait(queryId: string, handle: WorkflowHandle<typeof inferenceWorkflow>): Promise<InferenceResult> {
    try {
      return await handle.result();
    } catch (err) {
      return unwrapFailure(queryId, err);
    }
  }

  async close(): Promise<void> {
    await this.nc?.drain().catch(() => undefined);
    await this.connection.close();
  }
}
