/**
 * Metrics intake of the live autoscaler: a durable JetStream consumer of one model's stage events, counted into
 * per-stage windows. Messages are acknowledged only when the window they were counted in has been decided on
 * (`commit()`), so a controller that dies mid-window gets them again on restart: a restart loses no counts.
 */
import { AckPolicy, DeliverPolicy, nanos, type JsMsg, type NatsConnection } from 'nats';
import { ZodError } from 'zod';
import { parseStageEvent, type StageEvent } from '../common/events';
import { STAGE_EVENTS_STREAM, STAGE_EVENTS_SUBJECT_PREFIX } from '../common/naming';
import { quantile } from '../common/stats';
import { formatIssues } from '../common/zod-issues';
import type { StageObservation } from './types';

/**
 * Unacked messages wait this long before JetStream redelivers them: well above a tick period (a window is acked
 * when it is decided on), and short, so the events of a controller that died without handing them back reach its
 * successor within half a minute (counted as late, not as a burst).
 */
export const INTAKE_ACK_WAIT_MS = 30_000;
/**
 * An event received this long after it finished is late (a redelivery, or a backlog): acknowledged, not counted.
 * Far above the publish-to-delivery time of a live stack, below the ack wait.
 */
export const INTAKE_LATE_SLACK_MS = 10_000;
/** Enough unacked messages in flight for minutes of traffic at hundreds of stage executions per second. */
export const INTAKE_MAX_ACK_PENDING = 200_000;

/** Events asked for per pull; a pull ends early when it has them. */
export const INTAKE_PULL_BATCH = 1000;
/** A pull ends after this long without its batch; close() waits at most this long for the pull in flight. */
export const INTAKE_PULL_EXPIRES_MS = 1000;

/** Reasons of malformed events kept per window (the count goes on). */
export const MAX_MALFORMED_REASONS = 10;

/** Why a received stage event was rejected, one line. */
function malformedReason(msg: JsMsg, err: unknown, raw: unknown): string {
  const why = err instanceof ZodError ? formatIssues(err, raw) : `not JSON (${(err as Error)?.message ?? String(err)})`;
  return `#${msg.seq} ${msg.subject}: ${why.replace(/\n/g, '; ')}`;
}

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

export interface IntakeWindow {
  observation: StageObservation[];
  /** Events counted in `observation`. */
  events: number;
  /** Malformed events terminated (never redelivered). */
  malformed: number;
  /**
   * Why, for the first MAX_MALFORMED_REASONS of them: `#<stream seq> <subject>: <field-named reason>` (e.g. an event
   * of an unknown version: `v: expected 1, got 2`), so the log says what was wrong, not only how many.
   */
  malformedErrors: string[];
  /** Pulls that failed (retried). */
  pullErrors: number;
  /**
   * Events received long after they finished: redelivered after a controller died without handing them back (an
   * ack wait later). They are acknowledged but not counted, so an old backlog does not read as a burst.
   */
  late: number;
  /** Redeliveries of events already in this window or already decided on: acknowledged, not counted again. */
  duplicates: number;
}

export interface StageEventIntake {
  /** Counts of the events received since the last commit. */
  snapshot(): IntakeWindow;
  /** The window was decided on: acknowledge its messages and start a new window. */
  commit(): void;
  close(): Promise<void>;
}

export interface IntakeOptions {
  /** @default INTAKE_ACK_WAIT_MS */
  ackWaitMs?: number;
  /** @default INTAKE_LATE_SLACK_MS */
  lateSlackMs?: number;
  /** Wall clock (epoch ms) the late check reads. @default Date.now */
  now?: () => number;
}

export async function createStageEventIntake(
  nc: NatsConnection,
  model: string,
  stages: number,
  options: IntakeOptions = {},
): Promise<StageEventIntake> {
  const ackWaitMs = options.ackWaitMs ?? INTAKE_ACK_WAIT_MS;
  const now = options.now ?? Date.now;
  const lateSlackMs = options.lateSlackMs ?? INTAKE_LATE_SLACK_MS;
  const jsm = await nc.jetstreamManager();
  const name = durableName(model);
  const consumerConfig = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    // A new controller starts from now; a restarted one resumes where its durable consumer left off.
    deliver_policy: DeliverPolicy.New,
    filter_subject: `${STAGE_EVENTS_SUBJECT_PREFIX}.${model}.>`,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: INTAKE_MAX_ACK_PENDING,
  };
  let existing: Awaited<ReturnType<typeof jsm.consumers.info>> | undefined;
  try {
    existing = await jsm.consumers.info(STAGE_EVENTS_STREAM, name);
  } catch {
    await jsm.consumers.add(STAGE_EVENTS_STREAM, consumerConfig);
  }
  // A consumer made by an older version (a 5-minute ack wait) takes this one's.
  if (existing && existing.config.ack_wait !== consumerConfig.ack_wait) {
    await jsm.consumers.update(STAGE_EVENTS_STREAM, name, { ack_wait: consumerConfig.ack_wait });
  }
  const consumer = await nc.jetstream().consumers.get(STAGE_EVENTS_STREAM, name);
  let window: { event: StageEvent; msg: JsMsg }[] = [];
  /** Stream sequences in the window, and those decided on (with when), to drop redeliveries. */
  let inWindow = new Set<number>();
  const decided = new Map<number, number>();
  let counts = { malformed: 0, pullErrors: 0, late: 0, duplicates: 0 };
  let malformedErrors: string[] = [];
  let lateMsgs: JsMsg[] = [];
  let closing = false;
  const take = (msg: JsMsg) => {
    if (inWindow.has(msg.seq) || decided.has(msg.seq)) {
      counts.duplicates++;
      msg.ack();
      return;
    }
    let event: StageEvent;
    let raw: unknown;
    try {
      raw = msg.json();
      event = parseStageEvent(raw);
    } catch (err) {
      // A malformed event is counted (and reported), then terminated so it is not redelivered forever.
      counts.malformed++;
      if (malformedErrors.length < MAX_MALFORMED_REASONS) malformedErrors.push(malformedReason(msg, err, raw));
      msg.term();
      return;
    }
    if (now() - event.finishedAt > lateSlackMs) {
      counts.late++;
      lateMsgs.push(msg);
      return;
    }
    inWindow.add(msg.seq);
    window.push({ event, msg });
  };
  // Short bounded pulls rather than one endless `consume()`: a pull request the server still holds when a
  // long-lived subscription is dropped keeps delivering into a closed inbox, and those events would wait the whole
  // ack wait before redelivery. A fetch ends with the server's own end-of-request, so once the loop has left the
  // current fetch no event is in flight to this controller, and close() can hand back everything it received.
  const loop = (async () => {
    // A connection closed under the intake (its process going down) ends it too: nothing more can arrive.
    while (!closing && !nc.isClosed()) {
      try {
        const batch = await consumer.fetch({ max_messages: INTAKE_PULL_BATCH, expires: INTAKE_PULL_EXPIRES_MS });
        for await (const msg of batch) take(msg);
      } catch {
        // A failed pull (a reconnect, a consumer being re-created) must not end the intake: pull again shortly.
        counts.pullErrors++;
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
        ...counts,
        malformedErrors: [...malformedErrors],
      };
    },
    commit() {
      const at = now();
      for (const w of window) {
        w.msg.ack();
        decided.set(w.msg.seq, at);
      }
      for (const m of lateMsgs) m.ack();
      // A redelivery comes within an ack wait of the delivery it repeats: older sequences need not be remembered.
      // The map is in commit order, so the old ones are at its start: stop at the first one still recent (a tick
      // then touches what it forgets, not the whole map).
      for (const [seq, when] of decided) {
        if (when >= at - 2 * ackWaitMs) break;
        decided.delete(seq);
      }
      window = [];
      inWindow = new Set();
      lateMsgs = [];
      counts = { malformed: 0, pullErrors: 0, late: 0, duplicates: 0 };
      malformedErrors = [];
    },
    async close() {
      closing = true;
      await loop.catch(() => undefined);
      // Events of the open window were never decided on: hand them back now, so the next controller counts them
      // at once instead of after the ack wait (when they would look like a burst).
      // On a connection already gone there is nothing to hand back: the ack wait redelivers them.
      try {
        for (const w of window) w.msg.nak();
        for (const m of lateMsgs) m.ack();
      } catch {
        // connection closed
      }
      window = [];
    },
  };
}
