/**
 * The parts of the API's objects the provider reads (a Deployment's Scale, a PodList), as zod schemas, and the
 * pure mapping of a pod to the pool it belongs to and its VM lifecycle state. A list item that does not parse is
 * reported and skipped by the caller, never trusted: one malformed pod must not stop the pool from being seen.
 */
import { z } from 'zod';
import type { VmState } from '../../infra/providers';
import { MODEL_LABEL, POD_DELETION_COST, STAGE_LABEL, stageFromToken } from './names';

const timestamp = z.iso.datetime({ offset: true });

/** autoscaling/v1 Scale, the scale subresource of a Deployment. */
export const scaleSchema = z.object({
  metadata: z.object({ name: z.string().min(1), resourceVersion: z.string().optional() }),
  // The API omits `replicas: 0` (omitempty), so absent means 0.
  spec: z.object({ replicas: z.number().int().nonnegative().optional() }).default({}),
  status: z.object({ replicas: z.number().int().nonnegative().optional(), selector: z.string().optional() }).optional(),
});
export type Scale = z.infer<typeof scaleSchema>;

/** A PodList: the items are parsed one by one (podSchema), so a bad one is skipped, not fatal. */
export const podListSchema = z.object({
  kind: z.literal('PodList').optional(),
  items: z.array(z.unknown()),
});

export const podSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    uid: z.string().optional(),
    labels: z.record(z.string(), z.string()).default({}),
    annotations: z.record(z.string(), z.string()).optional(),
    creationTimestamp: timestamp,
    deletionTimestamp: timestamp.optional(),
    deletionGracePeriodSeconds: z.number().int().nonnegative().optional(),
  }),
  spec: z.object({ nodeName: z.string().optional() }).optional(),
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      conditions: z
        .array(z.object({ type: z.string(), status: z.string(), lastTransitionTime: timestamp.optional().nullable() }))
        .optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof podSchema>;

/** Any object we only need to have been accepted (a pod after a patch, a Status after a delete). */
export const anyObjectSchema = z.object({}).loose();

/** The pool a pod belongs to, from its labels; undefined when its labels name none. */
export function poolOf(pod: Pod): { model: string; stage: number } | undefined {
  const model = pod.metadata.labels[MODEL_LABEL];
  const stage = stageFromToken(pod.metadata.labels[STAGE_LABEL]);
  return model && stage !== undefined ? { model, stage } : undefined;
}

/** What a pod's status says about the VM it stands for (times in epoch ms). */
export interface PodView {
  state: VmState;
  launchedAt: number;
  readyAt?: number;
  /** When its deletion was asked: the deletion timestamp less the grace it was given. */
  drainingAt?: number;
  /** Why it ended, for a pod that ended without being deleted (phase Failed or Succeeded, e.g. evicted). */
  endReason?: string;
  deletionCost?: number;
}

export function viewPod(pod: Pod): PodView {
  const { metadata, status } = pod;
  const launchedAt = Date.parse(metadata.creationTimestamp);
  const ready = status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  const readyAt = ready ? (ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : launchedAt) : undefined;
  const cost = metadata.annotations?.[POD_DELETION_COST];
  const deletionCost = cost !== undefined && /^-?[0-9]+$/.test(cost) ? Number(cost) : undefined;
  const phase = status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') {
    return {
      state: 'terminated',
      launchedAt,
      readyAt,
      endReason: `pod ${phase}${status?.reason ? `: ${status.reason}` : ''}`,
      deletionCost,
    };
  }
  if (metadata.deletionTimestamp) {
    const graceMs = (metadata.deletionGracePeriodSeconds ?? 0) * 1000;
    return {
      state: 'draining',
      launchedAt,
      readyAt,
      drainingAt: Date.parse(metadata.deletionTimestamp) - graceMs,
      deletionCost,
    };
  }
  return { state: readyAt !== undefined ? 'ready' : 'booting', launchedAt, readyAt, deletionCost };
}
