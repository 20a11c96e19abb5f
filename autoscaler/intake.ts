/**
 * Metrics intake of the live autoscaler: a durable JetStream consumer of one model's stage events, counted into
 * per-stage windows. Messages are acknowledged only when the window they were counted in has been decided on
 * (`commit()`), so a controller that dies mid-window gets them again on restart: a restart loses no counts.
 */
import { AckPolicy, DeliverPolicy, nanos, type JsMsg, type NatsConnection } from 'nats';
import { parseStageEvent, type StageEvent } from '../common/events';
import { STAGE_EVENTS_STREAM, STAGE_EVENTS_SUBJECT_PREFIX } from '../common/naming';
import { quantile } from '../common/stats';
import type { StageObservation } from './types';

/** Unacked messages may wait this long (well above any tick period) before JetStream redelivers them. */
export const INTAKE_ACK_WAIT_MS = 5 * 60 * 1000;
/** Enough unacked messages in flight for minutes of traffic at hundreds of stage executions per second. */
export const INTAKE_MAX_ACK_PENDING = 200_000;

/** Events asked for per pull; a pull ends early when it has them. */
export const INTAKE_PULL_BATCH = 1000;
/** A pull ends after this long without its batch; close() waits at most this long for the pull in flight. */
export const INTAKE_PULL_EXPIRES_MS = 1000;

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
  snapshot(): { observation: StageObservation[]; events: number; malformed: number; pullErrors: number };
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
  let window: { event: StageEvent; msg: JsMsg }[] = [];
  let malformed = 0;
  let closing = false;
  let pullErrors = 0;
  // Short bounded pulls rather than one endless `consume()`: a pull request the server still holds when a
  // long-lived subscription is dropped keeps delivering into a closed inbox, and those events would wait the whole
  // ack wait before redelivery. A fetch ends with the server's own end-of-request, so once the loop has left the
  // current fetch no event is in flight to this controller, and close() can hand back everything it received.
  const loop = (async () => {
    while (!closing) {
      try {
        const batch = await consumer.fetch({ max_messages: INTAKE_PULL_BATCH, expires: INTAKE_PULL_EXPIRES_MS });
        for await (const msg of batch) {
          try {
            window.push({ event: parseStageEvent(msg.json()), msg });
          } catch {
            // A malformed event is counted (and reported), then terminated so it is not redelivered forever.
            malformed++;
            msg.term();
          }
        }
      } catch {
        // A failed pull (a reconnect, a consumer being re-created) must not end the intake: pull again shortly.
        pullErrors++;
        if (!closing) await new Promise((r) => setTimeout(r, INTAKE_PULL_EXPIRES_MS));
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
        pullErrors,
      };
    },
    commit() {
      for (const w of window) w.msg.ack();
      window = [];
      malformed = 0;
      pullErrors = 0;
    },
    async close() {
      closing = true;
      await loop.catch(() => undefined);
      // Events of the open window were never decided on: hand them back now, so the next controller counts them
      // at once instead of after the ack wait (when they would look like a burst).
      for (const w of window) w.msg.nak();
      window = [];
    },
  };
}
