/**
 * The pool API of a cloud agent, over NATS request/reply on `serflow.pools`: what `serflow pools` and the
 * autoscaler use to list, scale and drain pools without knowing how the capacity is provided.
 */
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import { POOLS_API_SUBJECT } from '../common/naming';
import { formatIssues } from '../common/zod-issues';
import type { FunctionInstanceInfo, VmInstance } from './providers';

/** Longest model name or VM id a request may carry (names are short; this only bounds what is echoed back). */
export const POOLS_NAME_MAX_CHARS = 256;
const name = z.string().min(1).max(POOLS_NAME_MAX_CHARS);

export const poolsRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('list') }),
  z.object({
    op: z.literal('scale'),
    model: name,
    /** 1..K, or 0 for the whole-model pool (VMs that run every stage). */
    stage: z.number().int().nonnegative(),
    vms: z.number().int().nonnegative(),
  }),
  /** Drain one VM by id, or every VM of a stage pool. */
  z.object({
    op: z.literal('drain'),
    vmId: name.optional(),
    model: name.optional(),
    stage: z.number().int().nonnegative().optional(),
  }),
]);

export type PoolsRequest = z.infer<typeof poolsRequestSchema>;

export type PoolsReply =
  | {
      ok: true;
      vms: VmInstance[];
      functions: FunctionInstanceInfo[];
      models: { model: string; stages: number }[];
      /** What was left out to keep the reply under its size bound (`encodePoolsReply`); absent when nothing was. */
      omitted?: { terminatedVms: number; functions: number };
    }
  | { ok: false; error: string };

/** The bounds a cloud agent holds requests to (configuration `pools`). */
export interface PoolsLimits {
  /** `scale` may ask for at most this many VMs in one pool (config `pools.maxVmsPerPool`). */
  maxVmsPerPool: number;
}

/**
 * Check a raw request: its shape (field-named errors) and its bounds. Returns the request, or the error to reply
 * with: `vms: 500 is above the most VMs one pool may have (pools.maxVmsPerPool = 64)`.
 */
export function parsePoolsRequest(
  raw: unknown,
  limits: PoolsLimits,
): { ok: true; request: PoolsRequest } | { ok: false; error: string } {
  const parsed = poolsRequestSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `bad pools request: ${formatIssues(parsed.error, raw)}` };
  const request = parsed.data;
  if (request.op === 'scale' && request.vms > limits.maxVmsPerPool) {
    return {
      ok: false,
      error:
        `bad pools request: vms: ${request.vms} is above the most VMs one pool may have ` +
        `(pools.maxVmsPerPool = ${limits.maxVmsPerPool})`,
    };
  }
  return { ok: true, request };
}

/**
 * The reply as JSON of at most `maxBytes` bytes (a NATS message above the server's max_payload is refused, and the
 * caller would wait for a reply that never comes). Over the bound, the oldest terminated VMs are left out first,
 * then function instances (idle before busy), and `omitted` says how many; live VMs are never left out (a pool has
 * at most `pools.maxVmsPerPool`). If even that does not fit, the reply is an error naming the bound.
 */
export function encodePoolsReply(reply: PoolsReply, maxBytes: number): string {
  const json = JSON.stringify(reply);
  if (!reply.ok || Buffer.byteLength(json) <= maxBytes) return json;
  const terminated = reply.vms
    .filter((v) => v.state === 'terminated')
    .sort((a, b) => (a.terminatedAt ?? 0) - (b.terminatedAt ?? 0));
  const live = reply.vms.filter((v) => v.state !== 'terminated');
  const rank = { idle: 0, starting: 1, busy: 2 } as const;
  const functions = [...reply.functions].sort((a, b) => rank[a.state] - rank[b.state]);
  // Drop in that order until the estimate fits (each item's JSON plus its comma), then check the real size.
  const dropOrder = [...terminated.map((v) => JSON.stringify(v)), ...functions.map((f) => JSON.stringify(f))];
  const omittedField = Buffer.byteLength(',"omitted":{"terminatedVms":000000,"functions":000000}');
  let over = Buffer.byteLength(json) + omittedField - maxBytes;
  let dropped = 0;
  while (over > 0 && dropped < dropOrder.length) over -= Buffer.byteLength(dropOrder[dropped++]!) + 1;
  for (;;) {
    const droppedVms = Math.min(dropped, terminated.length);
    const droppedFns = dropped - droppedVms;
    const out = JSON.stringify({
      ...reply,
      vms: [...live, ...terminated.slice(droppedVms)],
      functions: functions.slice(droppedFns),
      omitted: { terminatedVms: droppedVms, functions: droppedFns },
    } satisfies PoolsReply);
    if (Buffer.byteLength(out) <= maxBytes) return out;
    if (dropped >= dropOrder.length) {
      return JSON.stringify({
        ok: false,
        error:
          `the pools reply does not fit in ${maxBytes} bytes even without terminated VMs and function instances ` +
          `(${live.length} live VMs); raise pools.replyMaxBytes`,
      } satisfies PoolsReply);
    }
    dropped++;
  }
}

/** No cloud agent answered: the stack is not running (or runs without one). */
export class NoPoolAgentError extends Error {
  override readonly name = 'NoPoolAgentError';
}

/** The cloud agent refused a request; the message is its reason (the field and what is wrong with it). */
export class PoolsApiError extends Error {
  override readonly name = 'PoolsApiError';
}

/** Send one request to the cloud agent and return its reply; rejects with the agent's error message. */
export async function callPoolsApi(nc: NatsConnection, request: PoolsRequest, timeoutMs = 10_000) {
  let raw;
  try {
    raw = await nc.request(POOLS_API_SUBJECT, JSON.stringify(request), { timeout: timeoutMs });
  } catch (err) {
    throw new NoPoolAgentError(`no cloud agent answered on ${POOLS_API_SUBJECT}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const reply = raw.json<PoolsReply>();
  if (!reply.ok) throw new PoolsApiError(reply.error);
  return reply;
}
