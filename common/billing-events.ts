/**
 * Billable facts, published to the JetStream stream `SERFLOW_BILLING` (subjects `serflow.billing.<type>`).
 * The cost ledger computes every bill from these alone. Times are epoch ms of this machine (wall time);
 * the event carries the time scale in force so bills can be stated in cloud time.
 */
import { z } from 'zod';

/**
 * Schema version of billing events; bump on any incompatible change. Version 2 added `vm.alive` and `vm.stopped`
 * (a VM's own liveness and end); every version-1 type reads unchanged under either version.
 */
export const BILLING_EVENT_VERSION = 2;
/** Versions the reader accepts for the types that exist since version 1. */
const V1_OR_LATER = z.union([z.literal(1), z.literal(BILLING_EVENT_VERSION)]);

/**
 * Duplicate window of the billing stream (infra/nats.ts): a fact re-published within it (an outbox retry after a
 * lost ack, billing/publisher.ts) is stored once. Ten minutes: minutes of NATS outage ride out within it.
 */
export const BILLING_DEDUP_WINDOW_MS = 10 * 60 * 1000;
export const BILLING_EVENTS_STREAM = 'SERFLOW_BILLING';
export const BILLING_EVENTS_SUBJECT_PREFIX = 'serflow.billing';

const base = z.object({
  v: V1_OR_LATER,
  /** Wall-clock epoch ms the fact happened. */
  at: z.number(),
  /** Cloud time per wall time in force (config `timeScale`). */
  timeScale: z.number().positive(),
  model: z.string().min(1),
  /** Stage of the pool or function; 0 = a whole-model VM (it runs every stage). */
  stage: z.number().int().nonnegative(),
});

const vm = base.extend({ vmId: z.string().min(1), instanceType: z.string().min(1) });
/** A fact of version 2 on: older readers never see it under a version they claim to read. */
const vmV2 = vm.extend({ v: z.literal(BILLING_EVENT_VERSION) });

export const billingEventSchema = z.discriminatedUnion('type', [
  /** A VM was requested: billing starts here (boot time is billed). */
  vm.extend({ type: z.literal('vm.launched'), bootDelayMs: z.number().nonnegative() }),
  /** The VM's worker polls its stage queue: it can serve from now on. */
  vm.extend({ type: z.literal('vm.ready') }),
  /** The VM stopped taking new work (scale-in); it terminates once its in-flight work is done. */
  vm.extend({ type: z.literal('vm.draining') }),
  /** The VM is gone: billing stops here (60 s minimum per launch). */
  vm.extend({ type: z.literal('vm.terminated'), reason: z.string() }),
  /**
   * The VM's own worker reports its end as it shuts down (v2): a VM whose provider died (no `vm.terminated` will
   * come) still ends its bill. With both, the provider's `vm.terminated` is the end (it saw the process exit).
   */
  vmV2.extend({ type: z.literal('vm.stopped'), reason: z.string() }),
  /**
   * The VM's worker is alive (v2), published every `intervalMs` from its start (config `vmLiveness.intervalMs`). A VM
   * with no end whose last liveness is stale is billed to it plus one interval and flagged (billing/ledger.ts).
   */
  vmV2.extend({ type: z.literal('vm.alive'), intervalMs: z.number().int().positive() }),
  /**
   * One function invocation, billed per request plus memory x duration rounded up to the granularity. A fused
   * function (stages `stage`..`lastStage` in one invocation) is one invocation too: one event, its `stage` the run's
   * first, its memory the function's (the largest of its stages').
   */
  base
    .extend({
      type: z.literal('faas.invoked'),
      /**
       * Last stage of a fused function, above `stage`; absent for a one-stage function (and in every event written
       * before fusion existed, which read the same way).
       */
      lastStage: z.number().int().positive().optional(),
      instanceId: z.string().min(1),
      queryId: z.string(),
      memoryMb: z.number().int().positive(),
      /** Handler duration, ms (measured, never scaled). */
      durationMs: z.number().nonnegative(),
      /** Platform init billed on a cold start, cloud ms (0 when warm). */
      initMs: z.number().nonnegative(),
      coldStart: z.boolean(),
    })
    .refine((e) => e.lastStage === undefined || e.lastStage > e.stage, {
      message: 'lastStage must be above stage (omit it for a one-stage function)',
      path: ['lastStage'],
    }),
  /** A call was refused at the account concurrency limit; the caller retries or falls back (not billed). */
  base.extend({ type: z.literal('faas.throttled'), queryId: z.string(), concurrency: z.number().int() }),
  /** A function instance was created (cold start begins) or reclaimed after its keep-alive (not billed). */
  base.extend({ type: z.literal('faas.instance.started'), instanceId: z.string().min(1), memoryMb: z.number().int() }),
  base.extend({ type: z.literal('faas.instance.reclaimed'), instanceId: z.string().min(1), reason: z.string() }),
]);

export type BillingEvent = z.infer<typeof billingEventSchema>;
export type BillingEventType = BillingEvent['type'];

export function parseBillingEvent(value: unknown): BillingEvent {
  return billingEventSchema.parse(value);
}

/** A fact of one VM's life (its launch, readiness, drain, end, its own end, its liveness): the events with a `vmId`. */
export type VmBillingEvent = Extract<BillingEvent, { vmId: string }>;

export function isVmBillingEvent(e: BillingEvent): e is VmBillingEvent {
  return 'vmId' in e;
}

/**
 * The message id of a fact of one VM's life: one per VM and type (its launch, readiness, drain, end, the VM's own
 * end), so whoever publishes it, and however often the outbox retries it, the stream keeps one; a liveness fact
 * one per VM and time. Undefined for the other facts (the publisher numbers them).
 */
export function billingMsgId(e: BillingEvent): string | undefined {
  if (!isVmBillingEvent(e)) return undefined;
  return e.type === 'vm.alive' ? `${e.vmId}.${e.type}.${e.at}` : `${e.vmId}.${e.type}`;
}

export function billingEventSubject(type: BillingEventType): string {
  return `${BILLING_EVENTS_SUBJECT_PREFIX}.${type}`;
}
