/**
 * The autoscaler's decision records: what one controller tick observed, decided and did. Published on the
 * control stream (`SERFLOW_CONTROL`, subject `serflow.control.decision.<model>`) and kept, latest per model, in
 * the KV bucket `serflow-autoscaler`; read back by `serflow plan`, the live bench and the tests.
 *
 * A discriminated union on the schema version `v`, so a later version can be added beside this one while stored
 * records keep parsing. The wire shape is the one the controller has always written; the observation and decision
 * mirror the policy contracts of autoscaler/types.ts (test/unit/common/control-events.test.ts checks they match).
 */
import { z } from 'zod';
import { formatIssues } from './zod-issues';

/** Schema version of decision records; bump (and add a union member) on any incompatible change. */
export const DECISION_RECORD_VERSION = 1;

const count = z.number().int().nonnegative();

const stageObservationSchema = z.object({
  stage: z.number().int().positive(),
  /** Executions that arrived at this stage in the window. */
  arrivals: count,
  /** Of those, how many exited here. */
  exits: count,
  vmExecutions: count,
  faasExecutions: count,
  /** p95 of VM queue wait in the window, ms (absent when no VM execution). */
  vmQueueP95Ms: z.number().nonnegative().optional(),
  /** Executions waiting in the stage's VM queue at the end of the window. */
  vmQueued: count.optional(),
});

/** Capacity of one stage pool; stage 0 is the whole-model pool. */
const poolObservationSchema = z.object({
  stage: z.number().int().nonnegative(),
  vmsReady: count,
  vmsBooting: count,
  vmsDraining: count,
});

const observationSchema = z.object({
  /** Policy clock of the tick, epoch ms. */
  now: z.number(),
  model: z.string().min(1),
  /** Length of the window the counts cover, ms (0 on a controller's first tick). */
  windowMs: z.number().nonnegative(),
  stages: z.array(stageObservationSchema),
  pools: z.array(poolObservationSchema),
});

const stageDecisionSchema = z.object({
  stage: z.number().int().positive(),
  /** VMs the pool should have (booting + ready): the pool API takes a whole, non-negative number. */
  desiredVms: count,
  /** Share of the stage's executions sent to VMs. */
  vmShare: z.number().min(0).max(1),
  /** VM-routed executions not started within this long go serverless; a routing plan requires it positive. */
  overflowAfterMs: z.number().positive().optional(),
  reason: z.string(),
});

const decisionSchema = z.object({
  /** False when the policy had nothing to decide on: the controller then changes nothing. */
  valid: z.boolean(),
  /** VMs of the whole-model pool (stage 0); absent when the policy does not use that pool. */
  wholeModelVms: count.optional(),
  /** LIBRA's "first N queries of every tick go to VMs". */
  vmQuotaPerTick: count.optional(),
  /** Stage runs executed as one activity each (routing.ts `FusedRun`); absent in records written before fusion. */
  fused: z.array(z.object({ first: z.number().int().min(1), last: z.number().int().min(1) })).optional(),
  stages: z.array(stageDecisionSchema),
  reason: z.string(),
});

const decisionRecordV1Schema = z.object({
  v: z.literal(DECISION_RECORD_VERSION),
  type: z.literal('autoscaler.decision'),
  model: z.string().min(1),
  policy: z.string().min(1),
  /** Policy clock (cloud time) of the decision, epoch ms. */
  at: z.number(),
  /** Wall-clock epoch ms of the decision. */
  wallAt: z.number(),
  observation: observationSchema,
  decision: decisionSchema,
  /** What the controller did about it, in words (`stage 1: VMs 0 -> 3`, `plan: 1:0.50 ...`). */
  actions: z.array(z.string()),
});

export const decisionRecordSchema = z.discriminatedUnion('v', [decisionRecordV1Schema]);

/** What one tick decided and why; `serflow plan` shows the latest. */
export type DecisionRecord = z.infer<typeof decisionRecordSchema>;

/** A stored decision record does not have the schema's shape; the message names each bad field. */
export class InvalidDecisionRecordError extends Error {
  override readonly name = 'InvalidDecisionRecordError';
}

/**
 * Validate a decision record read back from NATS. @param where names the record in the error, e.g.
 * `SERFLOW_CONTROL` or `KV serflow-autoscaler/mnist-ee`.
 * @throws InvalidDecisionRecordError naming each bad field (`decision.stages[0].vmShare: Too big: ...`)
 */
export function parseDecisionRecord(raw: unknown, where: string): DecisionRecord {
  const parsed = decisionRecordSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidDecisionRecordError(`invalid decision record (${where}): ${formatIssues(parsed.error, raw)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
