/**
 * The AWS Lambda handler of a SERFLOW function: one stage of a model, or a fused run of stages, per Lambda function
 * (deploy/aws/lambda-functions.ts names them). Handler setting: `lib/deploy/aws/lambda-handler.handler`.
 *
 * It runs a request through the same code as the local function instance (workers/function-instance.ts:
 * `loadFunctionStages` once, `runFunctionRequest` per invocation), so a stage computes, validates, hands on its
 * activation (claim-checked through the JetStream object store) and publishes its stage event exactly as on the
 * embedded stack. What differs is the transport: the event is Lambda's payload, not a NATS request.
 *
 * Per execution environment (container), at module scope and lazily on the first invocation: the configuration,
 * the NATS connection and the ONNX sessions of the function's stages, read from the packaged artifact's `models/`.
 * A failed start is forgotten, so the next invocation tries again instead of failing forever.
 *
 * Environment (set on the function; `serflow package lambda` writes them per function):
 * - `SERFLOW_MODEL`, `SERFLOW_STAGE`, and for a fused function `SERFLOW_LAST_STAGE`: the stages it holds;
 * - `NATS_URL` (and the NATS credential variables of infra/nats-auth.ts): the stack's NATS, for activations and events;
 * - optionally `SERFLOW_CONFIG_JSON`: the rest of the configuration (the stack's, so limits agree).
 *
 * Replies: `{ ok: true, output, stages?, durationMs, instanceId }`, or for a stage failure (bad input, unknown stage,
 * a model error) `{ ok: false, error: { type, message, nonRetryable }, durationMs, instanceId }` — a failure the
 * handler describes, with its retryability, rather than an exception, as the local instance replies. An event that
 * is not a function request is such a failure too (InvalidInputError, naming the field). Only a function that cannot
 * start (bad environment, NATS away, a model missing from the artifact) throws: Lambda reports it as a function
 * error (`X-Amz-Function-Error: Unhandled`) with the error's name as `errorType`.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { NatsConnection } from 'nats';
import { loadConfig } from '../../common/config';
import { InvalidInputError } from '../../common/errors';
import { formatIssues } from '../../common/zod-issues';
import { describeFailure } from '../../activities/failures';
import { createStageEventPublisher } from '../../activities/stage-events';
import { createActivationStore } from '../../infra/activation-store';
import { connectNats } from '../../infra/nats';
import {
  loadFunctionStages,
  runFunctionRequest,
  type FunctionReply,
  type FunctionRequest,
  type FusedFunctionDeps,
} from '../../workers/function-instance';
import type { StageActivityDeps } from '../../activities/stage-activities';

/** What the handler answers: the local instance's reply, plus the execution environment that ran it. */
export type LambdaFunctionReply = FunctionReply & {
  /** One id per execution environment (container): the platform counts instances and cold starts by it. */
  instanceId: string;
};

/** The function's environment is not a SERFLOW function's (a deployment mistake; every invocation fails). */
export class LambdaEnvironmentError extends Error {
  override readonly name = 'LambdaEnvironmentError';
}

const positiveInt = z.coerce.number().int().positive();

/** The function's own settings, from its environment variables. */
const environmentSchema = z.object({
  SERFLOW_MODEL: z.string().min(1),
  SERFLOW_STAGE: positiveInt,
  SERFLOW_LAST_STAGE: positiveInt.optional(),
  NATS_URL: z.string().min(1),
});

const tensorRefSchema = z.looseObject({ kind: z.enum(['inline', 'object']) });

/**
 * A function request as Lambda delivers it. The fields are checked for presence and type here; their contents
 * (tensor data against dims, stages against the function, the threshold's range) by the stage code, as for every
 * other caller.
 */
export const lambdaEventSchema = z.object({
  input: z.object({
    queryId: z.string().min(1),
    model: z.string().min(1),
    stage: z.number().int().positive(),
    lastStage: z.number().int().positive(),
    threshold: z.number(),
    activation: tensorRefSchema,
    inlineActivationMaxBytes: z.number().int().nonnegative(),
    runLast: z.number().int().positive().optional(),
  }),
  call: z.object({
    workflowId: z.string().min(1),
    runId: z.string(),
    attempt: z.number().int().positive(),
    scheduledAt: z.number(),
    taskQueue: z.string(),
  }),
});

/** Check a Lambda event is a function request; throws InvalidInputError naming each bad field (`input.stage: …`). */
export function parseLambdaEvent(event: unknown): FunctionRequest {
  const parsed = lambdaEventSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidInputError(`invalid SERFLOW function event: ${formatIssues(parsed.error, event)}`);
  }
  return parsed.data as FunctionRequest;
}

interface Container {
  deps: StageActivityDeps | FusedFunctionDeps;
  nc: NatsConnection;
}

/**
 * This execution environment's id: the function's name and a random tag. Lambda runs one environment per
 * concurrent request and reuses it; a module is loaded once per environment, so a module-scope id is per container.
 */
const INSTANCE_ID = `${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'serflow-fn'}-${randomBytes(6).toString('hex')}`;

let container: Promise<Container> | undefined;

async function openContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new LambdaEnvironmentError(`function environment: ${formatIssues(parsed.error, env)}`);
  }
  const { SERFLOW_MODEL: model, SERFLOW_STAGE: stage, SERFLOW_LAST_STAGE: lastStage } = parsed.data;
  const config = loadConfig({}, env);
  const loaded = await loadFunctionStages({ config, model, stage, lastStage });
  let nc: NatsConnection;
  try {
    nc = await connectNats(parsed.data.NATS_URL, `serflow-lambda-${INSTANCE_ID}`);
  } catch (err) {
    await loaded.close();
    throw err;
  }
  // Each event is acknowledged before its invocation returns (the outbox's first attempt waits for the ack), so
  // none waits in memory while Lambda freezes the environment between invocations, unless NATS was away.
  const events = createStageEventPublisher(nc);
  const store = await createActivationStore(nc);
  return { deps: loaded.deps({ store, events, worker: INSTANCE_ID }), nc };
}

/** The container's stages and connections, opened on first use; a failed open is retried by the next call. */
function openOnce(env: NodeJS.ProcessEnv): Promise<Container> {
  if (!container) {
    container = openContainer(env);
    container.catch(() => (container = undefined));
  }
  return container;
}

/** The Lambda entry point. */
export async function handler(event: unknown): Promise<LambdaFunctionReply> {
  const t0 = performance.now();
  let request: FunctionRequest;
  try {
    request = parseLambdaEvent(event);
  } catch (err) {
    return { ok: false, error: describeFailure(err), durationMs: performance.now() - t0, instanceId: INSTANCE_ID };
  }
  const { deps } = await openOnce(process.env);
  const reply = await runFunctionRequest(request, deps, t0);
  return { ...reply, instanceId: INSTANCE_ID };
}
