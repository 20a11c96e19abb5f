/**
 * Publishes stage outcome events to JetStream, once per executed stage (deduplicated by message id), through an
 * outbox (common/outbox.ts): an event NATS does not take now (down, restarting, an ack timeout) is kept and re-sent
 * in order under the same id, so a NATS blip neither fails the stage nor adds a second event. The stream's duplicate
 * window (STAGE_EVENTS_DEDUP_WINDOW_MS) covers the whole retry horizon.
 */
import type { NatsConnection } from 'nats';
import { STAGE_EVENTS_DEDUP_WINDOW_MS, type StageEvent } from '../common/events';
import { stageEventSubject } from '../common/naming';
import { createOutbox, type OutboxOptions } from '../common/outbox';
import { metrics, recordStageEvent } from '../infra/metrics';

export interface StageEventPublisher {
  /** Publish `event`, or keep it to re-send; resolves without error whether NATS took it now or not. */
  publish(event: StageEvent): Promise<void>;
}

/** A publisher that buffers (workers): what waits, what was lost, and a flush for shutdown. */
export interface BufferedStageEventPublisher extends StageEventPublisher {
  /** Events waiting to be re-sent. */
  readonly pending: number;
  /** Events given up after the retry horizon or dropped from a full buffer (each logged). */
  readonly lost: number;
  /** Publish what waits, for at most `timeoutMs`, then refuse new events. */
  close(timeoutMs?: number): Promise<void>;
}

/** Retries of an unpublished event stop this long after its first attempt: a minute inside the duplicate window. */
export const STAGE_EVENT_RETRY_HORIZON_MS = STAGE_EVENTS_DEDUP_WINDOW_MS - 60_000;

/**
 * Events a worker holds at most while NATS is away; beyond it the oldest is dropped (counted, logged). An event is
 * ~0.5 KB, so 10 000 is ~5 MB: a 4-slot VM worker makes a few hundred a minute, so minutes of outage fit.
 */
export const STAGE_EVENT_OUTBOX_MAX_PENDING = 10_000;

/**
 * How long the first publish of an event waits for JetStream's ack before the event is kept for a retry: a stage
 * (a 3 s start-to-close in the tests) must not spend its time on a NATS that is away. A local ack takes
 * milliseconds; one that is only late is re-sent under the same id and dropped as a duplicate.
 */
export const STAGE_EVENT_ACK_TIMEOUT_MS = 1_000;

/** Message id of a stage event: one per (workflow run, stage), so a retried attempt cannot add a second event. */
export function stageEventMsgId(e: Pick<StageEvent, 'workflowId' | 'runId' | 'stage'>): string {
  return `${e.workflowId}:${e.runId}:${e.stage}`;
}

export type StageEventPublisherOptions = Partial<
  Pick<OutboxOptions<StageEvent>, 'retryHorizonMs' | 'maxPending' | 'log' | 'now' | 'retryFirstMs' | 'retryMaxMs'>
> & {
  /** @default STAGE_EVENT_ACK_TIMEOUT_MS */
  ackTimeoutMs?: number;
};

export function createStageEventPublisher(
  nc: NatsConnection,
  options: StageEventPublisherOptions = {},
): BufferedStageEventPublisher {
  const js = nc.jetstream();
  const { ackTimeoutMs, retryHorizonMs, maxPending, ...rest } = options;
  const timeout = ackTimeoutMs ?? STAGE_EVENT_ACK_TIMEOUT_MS;
  const outbox = createOutbox<StageEvent>({
    name: 'stage events',
    send: async (event, msgID) => {
      const kind = event.type === 'stage.exited' ? 'exited' : event.type === 'stage.continued' ? 'continued' : 'failed';
      await js.publish(stageEventSubject(event.model, event.stage, kind), JSON.stringify(event), { msgID, timeout });
    },
    describe: (event) => `${event.type} ${event.model}/${event.stage}`,
    retryHorizonMs: retryHorizonMs ?? STAGE_EVENT_RETRY_HORIZON_MS,
    maxPending: maxPending ?? STAGE_EVENT_OUTBOX_MAX_PENDING,
    ...rest,
  });
  return {
    publish: (event) => {
      // Counted as it happens, whether NATS takes the event now or later: the process's `/metrics` series.
      recordStageEvent(metrics(), event);
      return outbox.offer(event, stageEventMsgId(event));
    },
    get pending() {
      return outbox.pending;
    },
    get lost() {
      return outbox.lost + outbox.dropped;
    },
    close: (timeoutMs) => outbox.close(timeoutMs),
  };
}
