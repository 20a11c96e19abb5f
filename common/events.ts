/**
 * Stage outcome events published to JetStream after every stage execution.
 * A discriminated union on `type` with a schema version `v`; consumers `switch (e.type)`.
 */
import { z } from 'zod';

/** Schema version of stage events; bump on any incompatible change. */
export const STAGE_EVENT_VERSION = 1;

/**
 * Duplicate window of the stage-event stream (infra/nats.ts): an event re-sent under its message id within it (a
 * retried stage attempt, or the worker's outbox re-sending through a NATS outage, activities/stage-events.ts) is
 * stored once. Ten minutes: minutes of NATS outage ride out within it.
 */
export const STAGE_EVENTS_DEDUP_WINDOW_MS = 10 * 60 * 1000;

const stageEventBase = z.object({
  v: z.literal(STAGE_EVENT_VERSION),
  queryId: z.string().min(1),
  workflowId: z.string().min(1),
  runId: z.string(),
  model: z.string().min(1),
  stage: z.number().int().positive(),
  backend: z.enum(['vm', 'faas']),
  worker: z.string(),
  attempt: z.number().int().positive(),
  /** Scheduled-to-start of this attempt, ms. */
  queueMs: z.number().nonnegative(),
  /** Model execution time, ms (0 for a failure before inference). */
  serviceMs: z.number().nonnegative(),
  /** Epoch ms: activity attempt scheduled / started / finished. */
  scheduledAt: z.number(),
  startedAt: z.number(),
  finishedAt: z.number(),
  /**
   * Heartbeats of this attempt that had reached Temporal when the event was published (each a billed action).
   * Optional, so events of earlier versions stay valid; set by the VM worker's activity, which heartbeats. A
   * serverless execution's heartbeats are the gateway's, reported in the stage result, not here.
   */
  heartbeats: z.number().int().nonnegative().optional(),
});

const outcome = {
  label: z.number().int().nonnegative(),
  confidence: z.number().min(0).max(1),
  threshold: z.number(),
};

export const stageEventSchema = z.discriminatedUnion('type', [
  /** The query leaves the pipeline at this stage (`confident` false: it ran out of stages). */
  stageEventBase.extend({ type: z.literal('stage.exited'), ...outcome, confident: z.boolean() }),
  /** The query goes on to stage `stage + 1`. */
  stageEventBase.extend({ type: z.literal('stage.continued'), ...outcome }),
  /** The stage rejected the query (bad input); the query fails. */
  stageEventBase.extend({ type: z.literal('stage.failed'), errorType: z.string(), message: z.string() }),
]);

export type StageEvent = z.infer<typeof stageEventSchema>;
export type StageEventType = StageEvent['type'];

/** Parse a received event, with field-named errors for anything malformed. */
export function parseStageEvent(value: unknown): StageEvent {
  return stageEventSchema.parse(value);
}
