/**
 * Client SDK: start inference workflows and get their typed results.
 *
 *   const client = await SerflowClient.connect();            // TEMPORAL_ADDRESS / NATS_URL, or the `serflow up` stack
 *   const result = await client.infer(pixels, { threshold: 0.9 });
 *   const handle = await client.start(pixels);  ...  await handle.result();
 *
 * Each query carries its model descriptor (shape, stage settings, routing plan), built here from cached manifests,
 * this client's config and a watched copy of the routing plans, so its workflow needs no model-lookup local
 * activity; the whole query is checked before its workflow starts.
 */
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { randomUUID } from 'node:crypto';
import {
  Client,
  type Connection,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { loadConfig, type SerflowConfig } from '../common/config';
import type { InferenceQuery, InferenceResult } from '../common/contracts';
import {
  INFERENCE_TASK_QUEUE,
  SEARCH_ATTRIBUTES,
  inferenceWorkflowId,
  inputActivationKey,
  stageActivationKey,
} from '../common/naming';
import { discoverStack, requireTemporalAddress } from '../infra/stack-state';

export { NoStackError } from '../infra/stack-state';
import { createActivationStore, type ActivationStore } from '../infra/activation-store';
import { connectNats } from '../infra/nats';
import { connectClientConnection } from '../infra/temporal';
import { loadManifest, type ModelManifest } from '../models/manifest';
import type { inferenceWorkflow } from '../workflows/inference';
import { QUERY_DEADLINE_EXCEEDED } from '../common/errors';
import { buildInferenceQuery, checkInferArgs, InferenceFailedError, type InferOptions } from './query-builder';
import { RoutingPlans } from './routing-plans';

export { InferenceFailedError, type InferOptions } from './query-builder';

export interface ConnectOptions {
  temporalAddress?: string;
  /**
   * `temporalAddress` is the embedded dev server of a stack (`RunningStack.info.embeddedTemporal`): connect without
   * TLS whatever the TEMPORAL_* settings say. @default false for an explicit address (TLS settings apply)
   */
  temporalEmbedded?: boolean;
  natsUrl?: string;
  namespace?: string;
  config?: SerflowConfig;
  /** How long to wait for Temporal to answer. @default 10000 */
  connectTimeoutMs?: number;
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
): { temporalAddress: string; temporalEmbedded: boolean; natsUrl?: string; namespace: string } {
  const found = discoverStack(config, options);
  return {
    ...found,
    temporalAddress: requireTemporalAddress(found),
    temporalEmbedded: found.temporalEmbedded ?? false,
  };
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
    if (err.cause instanceof TimeoutFailure) {
      throw new InferenceFailedError(
        queryId,
        QUERY_DEADLINE_EXCEEDED,
        `the query did not finish within its deadline (${err.message})`,
        { cause: err },
      );
    }
    const c = cause as { type?: string; message?: string } | undefined;
    throw new InferenceFailedError(queryId, c?.type ?? 'WorkflowFailed', c?.message ?? err.message, { cause: err });
  }
  throw err;
}

export class SerflowClient {
  private store?: ActivationStore;
  private nc?: Promise<NatsConnection>;
  /** Manifests read once per model: a query must not re-read and re-validate its model's file. */
  private readonly manifests = new Map<string, ModelManifest>();
  private readonly routing: RoutingPlans;
  /** Deletions of ended queries' claim-checked activations still under way (`close` waits for them). */
  private readonly releasing = new Set<Promise<void>>();

  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly config: SerflowConfig,
    private readonly natsUrl: string | undefined,
  ) {
    this.routing = new RoutingPlans(natsUrl === undefined ? undefined : () => this.nats(natsUrl));
  }

  static async connect(options: ConnectOptions = {}): Promise<SerflowClient> {
    const config = options.config ?? loadConfig();
    const { temporalAddress, temporalEmbedded, natsUrl, namespace } = resolveAddresses(options, config);
    const connection = await connectClientConnection(
      { address: temporalAddress, embedded: temporalEmbedded },
      options.connectTimeoutMs ?? 10_000,
    );
    // A `StartWorkflow` span, whose context goes to the workflow in Temporal headers: the root of the query's trace
    // when the process traces (infra/tracing.ts); a no-op span otherwise.
    const interceptors = { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
    return new SerflowClient(new Client({ connection, namespace, interceptors }), connection, config, natsUrl);
  }

  /** A client of a stack this process started (its `info`: the servers' addresses and namespace). */
  static connectToStack(
    info: { temporalAddress: string; natsUrl: string; namespace: string; embeddedTemporal?: boolean },
    config?: SerflowConfig,
  ): Promise<SerflowClient> {
    const { temporalAddress, natsUrl, namespace } = info;
    const temporalEmbedded = info.embeddedTemporal ?? false;
    return SerflowClient.connect({
      temporalAddress,
      temporalEmbedded,
      natsUrl,
      namespace,
      ...(config ? { config } : {}),
    });
  }

  /** One NATS connection for the claim-check store and the routing plans, made when first needed. */
  private nats(url: string): Promise<NatsConnection> {
    this.nc ??= connectNats(url, 'serflow-client').catch((err: unknown) => {
      this.nc = undefined; // not remembered: the next query tries again
      throw err;
    });
    return this.nc;
  }

  private async activationStore(): Promise<ActivationStore> {
    if (!this.store) {
      if (!this.natsUrl)
        throw new Error('input exceeds the inline limit and no NATS URL is known for the claim-check store');
      this.store = await createActivationStore(await this.nats(this.natsUrl));
    }
    return this.store;
  }

  /** The manifest of `model`, read and checked once per client (UnknownModelError: no such model). */
  manifest(model: string): ModelManifest {
    let m = this.manifests.get(model);
    if (!m) {
      m = loadManifest(model, this.config.modelsDir); // UnknownModelError names the available models
      this.manifests.set(model, m);
    }
    return m;
  }

  /**
   * Build the workflow input for one query: its input (inline, or claim-checked when large) and its model
   * descriptor, all checked. A query that is wrong (unknown model or stage, a threshold out of range, an input of
   * the wrong shape or with NaN or Infinity, ...) rejects with InferenceFailedError before anything is started or
   * uploaded.
   */
  async buildQuery(input: Float32Array | readonly number[], options: InferOptions = {}): Promise<InferenceQuery> {
    checkInferArgs(input, options, '');
    return buildInferenceQuery(input, options, options.queryId ?? randomUUID(), {
      config: this.config,
      manifest: (model) => this.manifest(model),
      routingPlan: (model) => this.routing.get(model),
      activationStore: () => this.activationStore(),
    });
  }

  /** Start a query without waiting for it. */
  async start(input: Float32Array | readonly number[], options: InferOptions = {}): Promise<InferenceHandle> {
    checkInferArgs(input, options, '');
    const deadlineMs = options.deadlineMs ?? this.config.queries.deadlineMs;
    if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) {
      throw new InferenceFailedError(
        options.queryId ?? '',
        'InvalidInputError',
        `deadlineMs: expected a positive integer number of ms, got ${JSON.stringify(options.deadlineMs)}`,
      );
    }
    const query = await this.buildQuery(input, options);
    const workflowId = inferenceWorkflowId(query.model, query.queryId);
    let handle: WorkflowHandle<typeof inferenceWorkflow>;
    try {
      handle = await this.temporal.workflow.start<typeof inferenceWorkflow>('inferenceWorkflow', {
        taskQueue: INFERENCE_TASK_QUEUE,
        workflowId,
        args: [query],
        memo: { queryId: query.queryId, model: query.model, threshold: query.threshold ?? 'model default' },
        typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.model, value: query.model }],
        staticSummary: `${query.model} query ${query.queryId}`,
        // A query id names one query: starting it again (a retried request, a second client) joins the query
        // while it runs and, once it has ended, gets its outcome; it never runs the query twice.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // Whatever happens to its stages or workers, the query ends by then (unwrapFailure names the timeout).
        workflowExecutionTimeout: deadlineMs,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = this.temporal.workflow.getHandle<typeof inferenceWorkflow>(workflowId);
    }
    const inputObject = query.input.kind === 'object';
    return {
      queryId: query.queryId,
      workflowId,
      result: () => this.wait(query.queryId, query.model, handle, inputObject),
    };
  }

  /** Run a query and wait for its result. */
  async infer(input: Float32Array | readonly number[], options: InferOptions = {}): Promise<InferenceResult> {
    return (await this.start(input, options)).result();
  }

  /** Result of a query started earlier (by this or another client). */
  getResult(queryId: string, model = this.config.defaultModel): Promise<InferenceResult> {
    const handle = this.temporal.workflow.getHandle<typeof inferenceWorkflow>(inferenceWorkflowId(model, queryId));
    return this.wait(queryId, model, handle, undefined);
  }

  /**
   * The query's outcome. Once its workflow has ended (finished, failed or timed out) no stage attempt will read its
   * claim-checked activations again, so they are deleted then, in the background (they would otherwise stay until
   * `activations.ttlMs`). `inputObject`: whether this client claim-checked the input (unknown for `getResult`).
   */
  private async wait(
    queryId: string,
    model: string,
    handle: WorkflowHandle<typeof inferenceWorkflow>,
    inputObject: boolean | undefined,
  ): Promise<InferenceResult> {
    let result: InferenceResult;
    try {
      result = await handle.result();
    } catch (err) {
      if (err instanceof WorkflowFailedError) this.releaseActivations(handle.workflowId, model, inputObject, undefined);
      return unwrapFailure(queryId, err);
    }
    this.releaseActivations(handle.workflowId, model, inputObject, result);
    return result;
  }

  /**
   * Delete the activations an ended query left in the claim-check store: its input (when claim-checked) and each
   * stage's hand-off that went through the store (a failed query's are not known: every stage's is tried). A query
   * with everything inline (the default model's) costs nothing here. Failures are left to the store's TTL.
   */
  private releaseActivations(
    workflowId: string,
    model: string,
    inputObject: boolean | undefined,
    result: InferenceResult | undefined,
  ): void {
    const keys = inputObject === false ? [] : [inputActivationKey(workflowId)];
    if (result) {
      for (const s of result.stages) if (s.claimCheck) keys.push(stageActivationKey(workflowId, s.stage));
    } else {
      let stages = 0;
      try {
        stages = this.manifest(model).stages.length;
      } catch {
        // an unknown model ran no stage
      }
      for (let k = 1; k < stages; k++) keys.push(stageActivationKey(workflowId, k));
    }
    if (keys.length === 0 || !this.natsUrl) return;
    const done = this.activationStore()
      .then((store) => store.remove?.(keys))
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.releasing.delete(done));
    this.releasing.add(done);
  }

  async close(): Promise<void> {
    await Promise.all(this.releasing);
    await this.routing.close();
    const nc = await this.nc?.catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    await this.connection.close();
  }
}
