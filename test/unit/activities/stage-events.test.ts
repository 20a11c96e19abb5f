/**
 * activities/stage-events.ts: a stage event NATS does not take (down, restarting) does not fail the stage; it is
 * re-sent in order under its one message id, and close() flushes what waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import {
  createStageEventPublisher,
  STAGE_EVENT_RETRY_HORIZON_MS,
  stageEventMsgId,
} from '../../../activities/stage-events';
import { STAGE_EVENTS_DEDUP_WINDOW_MS, type StageEvent } from '../../../common/events';
import { waitUntil } from '../../helpers/wait-until';

/** A stand-in NATS whose JetStream drops duplicate ids as the stream's window does, and fails while `down`. */
function flakyJetStream() {
  const state = {
    down: false,
    attempts: [] as string[],
    stored: [] as { subject: string; msgID: string }[],
    timeouts: [] as number[],
  };
  const nc = {
    jetstream: () => ({
      publish: async (subject: string, _data: string, opts: { msgID: string; timeout: number }) => {
        state.attempts.push(opts.msgID);
        state.timeouts.push(opts.timeout);
        await Promise.resolve();
        if (state.down) throw new Error('TIMEOUT');
        if (!state.stored.some((s) => s.msgID === opts.msgID)) state.stored.push({ subject, msgID: opts.msgID });
        return { duplicate: false };
      },
    }),
  } as unknown as NatsConnection;
  return { nc, state };
}

const event = (workflowId: string, stage: number): StageEvent => ({
  v: 1,
  type: 'stage.continued',
  queryId: workflowId,
  workflowId,
  runId: 'r1',
  model: 'm',
  stage,
  backend: 'vm',
  worker: 'w',
  attempt: 1,
  queueMs: 0,
  serviceMs: 1,
  scheduledAt: 1,
  startedAt: 1,
  finishedAt: 2,
  label: 3,
  confidence: 0.5,
  threshold: 0.9,
});

describe('stage event publisher', () => {
  test('the duplicate window covers the retry horizon', () => {
    assert.ok(STAGE_EVENT_RETRY_HORIZON_MS > 0 && STAGE_EVENT_RETRY_HORIZON_MS < STAGE_EVENTS_DEDUP_WINDOW_MS);
  });

  test('events published while NATS is down resolve, then go out in order, one per run and stage', async () => {
    const { nc, state } = flakyJetStream();
    const lines: string[] = [];
    const p = createStageEventPublisher(nc, { log: (l) => lines.push(l), retryFirstMs: 10 });
    await p.publish(event('q1', 1));
    state.down = true;
    // None of these rejects: a NATS outage must not fail the stage.
    await p.publish(event('q1', 2));
    await p.publish(event('q2', 1));
    assert.equal(p.pending, 2);
    await waitUntil('a retry failed', 5_000, () => (state.attempts.length >= 4 ? true : undefined), 10);
    state.down = false;
    await waitUntil('the buffer drains', 5_000, () => (p.pending === 0 ? true : undefined), 10);
    assert.deepEqual(
      state.stored.map((s) => s.msgID),
      ['q1:r1:1', 'q1:r1:2', 'q2:r1:1'],
    );
    assert.equal(stageEventMsgId(event('q1', 2)), 'q1:r1:2');
    assert.ok(state.attempts.filter((id) => id === 'q1:r1:2').length >= 2, 'retried under its id');
    assert.equal(state.stored[1]!.subject, 'serflow.stage.m.2.continued');
    assert.ok(
      state.timeouts.every((t) => t === 1_000),
      'a short ack timeout: a stage does not wait long on NATS',
    );
    assert.ok(lines.some((l) => l.startsWith('stage events: stage.continued m/2 not published yet (TIMEOUT)')));
    assert.equal(p.lost, 0);
    await p.close();
  });

  test('close() flushes what waits, then refuses new events', async () => {
    const { nc, state } = flakyJetStream();
    const p = createStageEventPublisher(nc, { log: () => undefined, retryFirstMs: 10 });
    state.down = true;
    await p.publish(event('q3', 1));
    state.down = false;
    await p.close(2_000);
    assert.deepEqual(
      state.stored.map((s) => s.msgID),
      ['q3:r1:1'],
    );
    await assert.rejects(p.publish(event('q3', 2)), /closed/);
  });
});
