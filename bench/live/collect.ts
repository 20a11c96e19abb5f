/**
 * What a bench run reads back from its stack before the stack stops: the billing facts, the stage events and the
 * autoscaler's decision records, straight from JetStream, and the bill the ledger makes of them. Reading the
 * streams (rather than asking the processes) means the figures are the ones `serflow cost` would print for the
 * same stack: one source of truth for money.
 */
import type { NatsConnection } from 'nats';
import { computeLedger, type Ledger, type BilledQuery, type OrchestrationInput } from '../../billing/ledger';
import type { Prices } from '../../billing/prices';
import { readBillingEvents, readStageEvents, readStream } from '../../billing/reader';
import type { BillingEvent } from '../../common/billing-events';
import { parseDecisionRecord, type DecisionRecord } from '../../common/control-events';
import type { StageEvent } from '../../common/events';
import { CONTROL_STREAM } from '../../common/naming';
import type { ReplayResult } from './replay';

export interface RunEvents {
  billing: BillingEvent[];
  stages: StageEvent[];
  /** The model's decision records, in stream order (empty when no autoscaler ran). */
  decisions: DecisionRecord[];
  /**
   * Messages that did not parse, per stream, e.g. `SERFLOW_BILLING #12: ...`; reported, never billed (a malformed
   * decision record, whatever its model, is left out of the series too).
   */
  malformed: string[];
}

export async function readRunEvents(nc: NatsConnection, model: string): Promise<RunEvents> {
  const billing = await readBillingEvents(nc);
  const stages = await readStageEvents(nc);
  // Only decision records are published on the control stream: one that does not parse is reported like any
  // other malformed message, with its sequence and the fields at fault.
  const control = await readStream(nc, CONTROL_STREAM, (raw) => parseDecisionRecord(raw, CONTROL_STREAM));
  const malformed = [billing, stages, control].flatMap((r) =>
    r.malformed.map((m) => `${r.stream} #${m.seq} (${m.subject}): ${m.error}`),
  );
  return {
    billing: billing.events.filter((e) => e.model === model),
    stages: stages.events.filter((e) => e.model === model),
    decisions: control.events.filter((d) => d.model === model),
    malformed,
  };
}

/**
 * The bill of one run as of its end (`replay.endedAt`): facts published after it (VMs terminated while the stack
 * stops) are left out, so a VM still alive at the end is billed up to the end, as the simulator bills it. Billing
 * starts with the stack: a VM launched before the first arrival (none by default: an autoscaled stack starts
 * without VMs) is billed from its launch. `orchestration`: the Temporal actions of the replay's queries and their
 * price (bench/live/orchestration.ts), billed beside the cloud's facts as `serflow cost` bills them.
 */
export function billRun(
  events: RunEvents,
  replay: ReplayResult,
  prices: Prices,
  sloMs: number,
  orchestration?: OrchestrationInput,
): Ledger {
  const queries: BilledQuery[] = replay.queries.map((q) => ({
    queryId: String(q.n),
    latencyMs: q.result ? (q.latencyMs ?? null) : null,
    ok: q.result !== undefined,
  }));
  return computeLedger({
    billing: events.billing.filter((e) => e.at <= replay.endedAt),
    stages: events.stages.filter((e) => e.finishedAt <= replay.endedAt),
    queries,
    prices,
    now: replay.endedAt,
    sloMs,
    ...(orchestration ? { orchestration } : {}),
  });
}
