/**
 * Metrics intake of the live autoscaler: a durable JetStream consumer of one model's stage events, counted into
 * per-stage windows. Messages are acknowledged only when the window they were counted in has been decided on
 * (`commit()`), so a controller that dies mid-window gets them again on restart: a restart loses no counts.
 */
import { AckPolicy, DeliverPolicy, nanos, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import { parseStageEvent, type StageEvent } from '../common/events';
import { STAGE_EVENTS_STREAM, STAGE_EVENTS_SUBJECT_PREFIX } from '../common/naming';
import { quantile } from '../common/stats';
import type { StageObservation } from './types';

/** Unacked messages may wait this long (well above any tick period) before JetStream redelivers them. */
export const INTAKE_ACK_WAIT_MS = 5 * 60 * 1000;
/** Enough unacked messages in flight for minutes of traffic at hundreds of stage executions per second. */
export const INTAKE_MAX_ACK_PENDING = 200_000;

export function durableName(model: string): string {
  return `autoscaler-${model}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Pure: the per-stage observation of a window of events. */
export function observeWindow(events: readonly StageEvent[], stages: number): StageObservation[] {
  return Array.from({ length: stages }, (_, i) => {
    const stage = i + 1;
    const here = events.filter((e) => e.stage === stage);
    const vmQueue = here.filter((e) => e.backend === 'vm').map((e) => e.queueMs);
    return {
      stage,
      arrivals: here.length,
      exits: here.filter((e) => e.type === 'stage.exited').length,
      vmExecutions: here.filter((e) => e.backend === 'vm').length,
      faasExecutions: here.filter((e) => e.backend === 'faas').length,
      ...(vmQueue.length ? { vmQueueP95Ms: quantile(vmQueue, 0.95) } : {}),
    };
  });
}

export interface StageEventIntake {
  /** Counts of the events received since the last commit. */
  snapshot(): { observation: StageObservation[]; events: number; malformed: number };
  /** The window was decided on: acknowledge its messages and start a new window. */
  commit(): void;
  close(): Promise<void>;
}

export async function createStageEventIntake(
  nc: NatsConnection,
  model: string,
  stages: number,
): Promise<StageEventIntake> {
  const jsm = await nc.jetstreamManager();
  const name = durableName(model);
  const consumerConfig = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    // A new controller starts from now; a restarted one resumes where its durable consumer left off.
    deliver_policy: DeliverPolicy.New,
    filter_subject: `${STAGE_EVENTS_SUBJECT_PREFIX}.${model}.>`,
    ack_wait: nanos(INTAKE_ACK_WAIT_MS),
    max_ack_pending: INTAKE_MAX_ACK_PENDING,
  };
  try {
    await jsm.consumers.info(STAGE_EVENTS_STREAM, name);
  } catch {
    await jsm.consumers.add(STAGE_EVENTS_STREAM, consumerConfig);
  }
  const consumer = await nc.jetstream().consumers.get(STAGE_EVENTS_STREAM, name);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 1000 });
  let window: { event: StageEvent; msg: JsMsg }[] = [];
  let malformed = 0;
  const loop = (async () => {
    for await (const msg of messages) {
      try {
        window.push({ event: parseStageEvent(msg.json()), msg });
      } catch {
        // A malformed event is counted (and reported), then terminated so it is not redelivered forever.
        malformed++;
        msg.term();
      }
    }
  })();
  return {
    snapshot() {
      return {
        observation: observeWindow(
          window.map((w) => w.event),
          stages,
        ),
        events: window.length,
        malformed,
      };
    },
    commit() {
      for (const w of window) w.msg.ack();
      window = [];
      malformed = 0;
    },
    async close() {
      messages.stop();
      await loop.catch(() => undefined);
      // Events of the open window were never decided on: hand them back now, so the next controller counts them
      // at once instead of after the ack wait (when they would look like a burst).
      for (const w of window) w.msg.nak();
      window = [];
    },
  };
}
