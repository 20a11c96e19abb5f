/**
 * The pool API of a cloud agent, over NATS request/reply on `serflow.pools`: what `serflow pools` and the
 * autoscaler use to list, scale and drain pools without knowing how the capacity is provided.
 */
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import { POOLS_API_SUBJECT } from '../common/naming';
import type { FunctionInstanceInfo, VmInstance } from './providers';

export const poolsRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('list') }),
  z.object({
    op: z.literal('scale'),
    model: z.string().min(1),
    /** 1..K, or 0 for the whole-model pool (VMs that run every stage). */
    stage: z.number().int().nonnegative(),
    vms: z.number().int().nonnegative(),
  }),
  /** Drain one VM by id, or every VM of a stage pool. */
  z.object({
    op: z.literal('drain'),
    vmId: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    stage: z.number().int().nonnegative().optional(),
  }),
]);

export type PoolsRequest = z.infer<typeof poolsRequestSchema>;

export type PoolsReply =
  | { ok: true; vms: VmInstance[]; functions: FunctionInstanceInfo[]; models: { model: string; stages: number }[] }
  | { ok: false; error: string };

/** No cloud agent answered: the stack is not running (or runs without one). */
export class NoPoolAgentError extends Error {
  override readonly name = 'NoPoolAgentError';
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
  if (!reply.ok) throw new Error(reply.error);
  return reply;
}
