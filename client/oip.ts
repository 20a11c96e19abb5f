/**
 * The Open Inference Protocol v2 (KServe v2 REST) as SERFLOW speaks it, pure: which route a request names, an
 * inference request checked and turned into the SDK's query (input tensor and options), a query's result turned into
 * an inference response, a model's metadata from its manifest, and an error turned into an HTTP status with an OIP
 * error body (`{"error": "..."}`) that names the failure type and the field. The HTTP server that uses these is
 * cli/serve-command.ts.
 *
 * One request is one query, so one workflow: the request `id` is the query id (a retried request joins or reads the
 * query it names; it never runs twice), the one input tensor has batch 1, and the answer is two outputs, `label`
 * (INT64) and `confidence` (FP32), with the early-exit facts (exit stage, answer stage, latency, ...) in the
 * response's `parameters`.
 */
import { z } from 'zod';
import type { InferenceResult } from '../common/contracts';
import { MAX_TENSOR_RANK } from '../common/tensor-codec';
import { QUERY_DEADLINE_EXCEEDED, STAGE_UNAVAILABLE_ERROR } from '../common/errors';
import { MAX_QUERY_ID_LENGTH } from '../common/query-checks';
import { formatZodIssues } from '../common/zod-issues';
import { queryInputDims, type ModelManifest } from '../models/manifest';
import { InferenceFailedError, type InferOptions } from './query-builder';

/** The platform a model's metadata names: a chain of ONNX stages with early exits, run one query per workflow. */
export const OIP_PLATFORM = 'serflow_early_exit_onnx';

/** The outputs of every model's inference response, in this order. */
export const OIP_OUTPUTS = [
  { name: 'label', datatype: 'INT64', shape: [1] },
  { name: 'confidence', datatype: 'FP32', shape: [1] },
] as const;

export type OipOutputName = (typeof OIP_OUTPUTS)[number]['name'];

/** Largest finite float32: a JSON number beyond it would silently become Infinity in the input tensor. */
const FP32_MAX = 3.4028234663852886e38;

/** A request the server refuses with `status`; `message` names the field (or says what was wrong). */
export class OipHttpError extends Error {
  override readonly name = 'OipHttpError';
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers (Allow, Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** 400 with an InvalidInputError message, as the SDK names a bad query. */
function badRequest(message: string): OipHttpError {
  return new OipHttpError(400, `InvalidInputError: ${message}`);
}

// ---------------------------------------------------------------------------------------------------------- routes

export type OipRoute =
  { kind: 'serverMetadata' | 'live' | 'ready' } | { kind: 'modelMetadata' | 'modelReady' | 'infer'; model: string };

const MODEL_PATH = /^\/v2\/models\/([^/]+)(\/ready|\/infer)?$/;

/**
 * The route of `method` and `url` (path and query), or an OipHttpError: 404 for a path the protocol does not have,
 * 405 (with Allow) for a known path with the wrong method.
 */
export function oipRoute(method: string, url: string): OipRoute {
  const pathname = url.split('?', 1)[0]!.replace(/\/+$/, '') || '/';
  const want = (allowed: 'GET' | 'POST', route: OipRoute): OipRoute => {
    if (method === allowed) return route;
    throw new OipHttpError(405, `${method} ${pathname}: method not allowed (use ${allowed})`, { Allow: allowed });
  };
  if (pathname === '/v2') return want('GET', { kind: 'serverMetadata' });
  if (pathname === '/v2/health/live') return want('GET', { kind: 'live' });
  if (pathname === '/v2/health/ready') return want('GET', { kind: 'ready' });
  const m = MODEL_PATH.exec(pathname);
  if (m) {
    let model: string;
    try {
      model = decodeURIComponent(m[1]!);
    } catch {
      throw new OipHttpError(404, `${pathname}: the model name is not valid percent-encoding`);
    }
    if (m[2] === '/infer') return want('POST', { kind: 'infer', model });
    return want('GET', { kind: m[2] === '/ready' ? 'modelReady' : 'modelMetadata', model });
  }
  throw new OipHttpError(
    404,
    `${method} ${pathname}: no such route (the Open Inference Protocol v2: GET /v2, /v2/health/live, ` +
      '/v2/health/ready, /v2/models/{name}, /v2/models/{name}/ready; POST /v2/models/{name}/infer)',
  );
}

// -------------------------------------------------------------------------------------------------------- metadata

export interface OipTensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface OipModelMetadata {
  name: string;
  platform: string;
  inputs: OipTensorMetadata[];
  outputs: OipTensorMetadata[];
}

/** A model's metadata: its one input (stage 1's, batch 1, -1 for a free dimension) and the two outputs. */
export function modelMetadata(manifest: ModelManifest): OipModelMetadata {
  return {
    name: manifest.name,
    platform: OIP_PLATFORM,
    inputs: [{ name: manifest.stages[0]!.input.name, datatype: 'FP32', shape: queryInputDims(manifest) }],
    outputs: OIP_OUTPUTS.map((o) => ({ ...o, shape: [...o.shape] })),
  };
}

/** The server's metadata (`GET /v2`): no protocol extensions are served. */
export function serverMetadata(version: string): { name: string; version: string; extensions: string[] } {
  return { name: 'serflow', version, extensions: [] };
}

// --------------------------------------------------------------------------------------------------------- request

const queryId = z
  .string()
  .min(1, 'expected a query id of at least 1 character')
  .max(MAX_QUERY_ID_LENGTH, `expected a query id of at most ${MAX_QUERY_ID_LENGTH} characters`);

const requestSchema = z.strictObject({
  /** The query id: the same id again joins (or reads) the same query. */
  id: queryId.optional(),
  parameters: z
    .strictObject({
      threshold: z.number().gt(0, 'expected a number in (0, 1]').lte(1, 'expected a number in (0, 1]').optional(),
      maxStage: z
        .number()
        .min(1, 'expected a stage number >= 1')
        .refine(Number.isInteger, 'expected an integer stage number')
        .optional(),
      deadlineMs: z
        .number()
        .positive('expected a positive number')
        .refine(Number.isInteger, 'expected an integer number of ms')
        .optional(),
      sloMs: z.number().positive('expected a positive number of ms').optional(),
      /** Same as `id` (for clients that cannot set it); both given, they must agree. */
      queryId: queryId.optional(),
    })
    .optional(),
  inputs: z
    .array(
      z.strictObject({
        name: z.string(),
        shape: z
          .array(
            z
              .number()
              .nonnegative('expected dimensions >= 0')
              .refine(Number.isInteger, 'expected an integer dimension'),
          )
          .min(1, 'expected at least one dimension')
          .max(MAX_TENSOR_RANK, `expected at most ${MAX_TENSOR_RANK} dimensions`),
        datatype: z.string(),
        /** No tensor parameters are supported (binary tensor data is not). */
        parameters: z.strictObject({}).optional(),
        data: z.array(z.unknown()),
      }),
    )
    .length(1, 'expected exactly one input tensor'),
  outputs: z
    .array(
      z.strictObject({
        name: z.string(),
        parameters: z.strictObject({ binary_data: z.literal(false).optional() }).optional(),
      }),
    )
    .optional(),
});

/** An inference request as the SDK takes it. */
export interface OipQuery {
  /** The request's `id` (or `parameters.queryId`); absent: the server picks one. */
  queryId?: string;
  input: Float32Array;
  /** threshold, maxStage, deadlineMs, sloMs as given, and dims (the input tensor's shape). */
  options: Pick<InferOptions, 'threshold' | 'maxStage' | 'deadlineMs' | 'sloMs' | 'dims'>;
  /** The outputs the response carries, in OIP_OUTPUTS order. */
  outputs: OipOutputName[];
}

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** Row-major elements of `data` (flat, or nested as deep as the shape), each checked as an FP32 number. */
function flattenData(data: unknown[], rank: number, where: string): Float32Array {
  const out: number[] = [];
  const walk = (v: unknown, at: string, depth: number) => {
    if (Array.isArray(v)) {
      if (depth >= rank) throw badRequest(`${at}: expected a number (data nested deeper than the shape), got an array`);
      v.forEach((e, i) => walk(e, `${at}[${i}]`, depth + 1));
      return;
    }
    if (typeof v !== 'number') throw badRequest(`${at}: expected a number, got ${show(v)}`);
    if (!(Math.abs(v) <= FP32_MAX)) throw badRequest(`${at}: expected a finite FP32 number, got ${String(v)}`);
    out.push(v);
  };
  data.forEach((e, i) => walk(e, `${where}[${i}]`, 1));
  return Float32Array.from(out);
}

/**
 * Check an inference request body against the protocol and the model, and turn it into the SDK's query. Every
 * mistake is an OipHttpError 400 whose message names the field (`inputs[0].datatype: expected "FP32" ...`); the
 * ranges that depend on more than the manifest (a routing plan, the store) are the SDK's to check.
 */
export function parseInferRequest(body: unknown, manifest: ModelManifest): OipQuery {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(
      `body: expected a JSON object (an inference request), got ${Array.isArray(body) ? 'an array' : show(body)}`,
    );
  }
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const lines = formatZodIssues(parsed.error.issues, body).map((l) => l.replace(/^\(root\)/, 'body'));
    throw badRequest(lines.join('; '));
  }
  const req = parsed.data;
  const params = req.parameters ?? {};
  if (req.id !== undefined && params.queryId !== undefined && req.id !== params.queryId) {
    throw badRequest(
      `parameters.queryId: expected the request id ${show(req.id)} or nothing, got ${show(params.queryId)}`,
    );
  }
  const stages = manifest.stages.length;
  if (params.maxStage !== undefined && params.maxStage > stages) {
    throw badRequest(
      `parameters.maxStage: expected a stage of ${manifest.name} (1..${stages}), got ${params.maxStage}`,
    );
  }

  const tensor = req.inputs[0]!;
  const inputName = manifest.stages[0]!.input.name;
  if (tensor.name !== inputName) {
    throw badRequest(`inputs[0].name: expected ${show(inputName)} (the model's input), got ${show(tensor.name)}`);
  }
  if (tensor.datatype !== 'FP32') {
    throw badRequest(`inputs[0].datatype: expected "FP32" (the model's input type), got ${show(tensor.datatype)}`);
  }
  const expected = queryInputDims(manifest);
  const fits =
    tensor.shape.length === expected.length && tensor.shape.every((d, i) => expected[i]! < 0 || d === expected[i]);
  if (!fits) {
    throw badRequest(
      `inputs[0].shape: expected [${expected.join(', ')}] (batch 1: one query per request; -1: any size), ` +
        `got [${tensor.shape.join(', ')}]`,
    );
  }
  const input = flattenData(tensor.data, tensor.shape.length, 'inputs[0].data');
  const elements = tensor.shape.reduce((a, b) => a * b, 1);
  if (input.length !== elements) {
    throw badRequest(
      `inputs[0].data: expected ${elements} elements (shape [${tensor.shape.join(', ')}]), got ${input.length}`,
    );
  }

  const known = OIP_OUTPUTS.map((o) => o.name);
  let outputs: OipOutputName[] = [...known];
  if (req.outputs) {
    req.outputs.forEach((o, i) => {
      if (!(known as string[]).includes(o.name)) {
        throw badRequest(
          `outputs[${i}].name: expected ${known.map((n) => `"${n}"`).join(' or ')}, got ${show(o.name)}`,
        );
      }
    });
    const asked = new Set(req.outputs.map((o) => o.name));
    outputs = known.filter((n) => asked.has(n));
  }

  const options: OipQuery['options'] = { dims: [...tensor.shape] };
  if (params.threshold !== undefined) options.threshold = params.threshold;
  if (params.maxStage !== undefined) options.maxStage = params.maxStage;
  if (params.deadlineMs !== undefined) options.deadlineMs = params.deadlineMs;
  if (params.sloMs !== undefined) options.sloMs = params.sloMs;
  const id = req.id ?? params.queryId;
  return { ...(id !== undefined ? { queryId: id } : {}), input, options, outputs };
}

// -------------------------------------------------------------------------------------------------------- response

export interface OipInferResponse {
  model_name: string;
  id: string;
  parameters: Record<string, string | number | boolean>;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
}

/** A query's result as an inference response: the asked outputs, and the early-exit facts as parameters. */
export function inferResponse(
  result: InferenceResult,
  outputs: readonly OipOutputName[] = OIP_OUTPUTS.map((o) => o.name),
): OipInferResponse {
  const values: Record<OipOutputName, number> = { label: result.label, confidence: result.confidence };
  return {
    model_name: result.model,
    id: result.queryId,
    parameters: {
      exitStage: result.exitStage,
      answerStage: result.answerStage,
      confident: result.confident,
      threshold: result.threshold,
      latencyMs: result.latencyMs,
      stagesRun: result.stages.length,
      backends: result.backends.join(','),
      ...(result.sloMs !== undefined ? { sloMs: result.sloMs } : {}),
    },
    outputs: OIP_OUTPUTS.filter((o) => outputs.includes(o.name)).map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: [...o.shape],
      data: [values[o.name]],
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------- errors

/**
 * HTTP status of each named failure type: the query is wrong (400), names no model (404), found no worker for a
 * stage in time (503: try again later, or elsewhere), or passed its deadline (504). Any other failure is 500.
 */
export const STATUS_OF_FAILURE: Readonly<Record<string, number>> = {
  InvalidInputError: 400,
  UnknownStageError: 400,
  UnknownModelError: 404,
  [STAGE_UNAVAILABLE_ERROR]: 503,
  [QUERY_DEADLINE_EXCEEDED]: 504,
};

/**
 * The status, OIP error body and headers of a failed request: an OipHttpError as it is, the SDK's
 * InferenceFailedError by its type, one of our named errors (UnknownModelError from a manifest lookup) by its name,
 * anything else 500. The message starts with the failure type, then says what was wrong (naming the field).
 */
export function errorResponse(err: unknown): {
  status: number;
  body: { error: string };
  headers: Record<string, string>;
} {
  if (err instanceof OipHttpError) return { status: err.status, body: { error: err.message }, headers: err.headers };
  const type = err instanceof InferenceFailedError ? err.type : err instanceof Error ? err.name : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const status = (type !== undefined ? STATUS_OF_FAILURE[type] : undefined) ?? 500;
  const error = status === 500 ? `internal error: ${type ? `${type}: ` : ''}${message}` : `${type}: ${message}`;
  return { status, body: { error }, headers: {} };
}
