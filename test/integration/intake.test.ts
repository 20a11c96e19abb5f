/**
 * The autoscaler's event intake (autoscaler/intake.ts) against a real nats-server: events are counted once and
 * acknowledged when their window is decided on; the events of a controller killed without handing them back come
 * to its successor after the ack wait and are acknowledged as late, not counted as a burst; redeliveries of events
 * already in the window are dropped. Short ack wait and late slack, so it runs in seconds.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createStageEventIntake, durableName } from '../../autoscaler/intake';
import { compileConfig } from '../../common/config';
import { STAGE_EVENT_VERSION, type StageEvent } from '../../common/events';
import { STAGE_EVENTS_STREAM, stageEventSubject } from '../../common/naming';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { connectNats, ensureNatsResources } from '../../infra/nats';
import { waitUntil } from '../helpers/wait-until';

const STAGES = 2;
const ACK_WAIT_MS = 1_500;
const LATE_SLACK_MS = 500;

function event(model: string, i: number, finishedAt: number): StageEvent {
  return {
    v: STAGE_EVENT_VERSION,
    type: 'stage.continued',
    queryId: `q-${i}`,
    workflowId: `wf-${i}`,
    runId: 'r',
    model,
    stage: 1,
    backend: 'faas',
    worker: 'test',
    attempt: 1,
    queueMs: 0,
    serviceMs: 1,
    scheduledAt: finishedAt - 2,
    startedAt: finishedAt - 1,
    finishedAt,
    label: 1,
    confidence: 0.5,
    threshold: 0.9,
  };
}

describe('autoscaler intake on a real nats-server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-intake-'));
  let nats: StartedNatsServer;

  before(async () => {
    const port = await freePort();
    nats = await startNatsServer({
      port,
      storeDir: path.join(dir, 'jetstream'),
      logDir: dir,
      clientName: 'intake-test',
      readyTimeoutMs: 10_000,
    });
    await ensureNatsResources(nats.nc, compileConfig({ homeDir: dir }));
  });

  after(async () => {
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const publish = async (model: string, from: number, n: number, finishedAt = Date.now()) => {
    const js = nats.nc.jetstream();
    for (let i = from; i < from + n; i++)
      await js.publish(stageEventSubject(model, 1, 'continued'), JSON.stringify(event(model, i, finishedAt)));
  };
  const pending = async (model: string) =>
    (await (await nats.nc.jetstreamManager()).consumers.info(STAGE_EVENTS_STREAM, durableName(model))).num_ack_pending;

  test('a killed controller’s events reach its successor after the ack wait as late: acknowledged, not counted', async () => {
    const model = 'killed';
    const own = await connectNats(nats.url, 'intake-test-victim');
    const victim = await createStageEventIntake(own, model, STAGES, {
      ackWaitMs: ACK_WAIT_MS,
      lateSlackMs: LATE_SLACK_MS,
    });
    await publish(model, 0, 5);
    await waitUntil('the victim holds 5 events', 5_000, () => (victim.snapshot().events === 5 ? true : undefined));
    // Killed: its connection goes without handing anything back.
    await own.close();

    const successor = await createStageEventIntake(nats.nc, model, STAGES, {
      ackWaitMs: ACK_WAIT_MS,
      lateSlackMs: LATE_SLACK_MS,
    });
    try {
      const w = await waitUntil('the 5 events come back', 10_000, () => {
        const s = successor.snapshot();
        return s.late + s.events >= 5 ? s : undefined;
      });
      assert.deepEqual([w.late, w.events], [5, 0], 'late, not counted');
      assert.equal(w.observation[0]?.arrivals, 0);
      successor.commit();
      await waitUntil('the late events are acknowledged', 5_000, async () =>
        (await pending(model)) === 0 ? true : undefined,
      );
    } finally {
      await successor.close();
      await victim.close();
    }
  });

  test('events are counted once: a redelivery of an event still in the window is dropped', async () => {
    const model = 'repeated';
    const intake = await createStageEventIntake(nats.nc, model, STAGES, {
      ackWaitMs: ACK_WAIT_MS,
      lateSlackMs: LATE_SLACK_MS,
    });
    try {
      await publish(model, 0, 3);
      await waitUntil('3 events counted', 5_000, () => (intake.snapshot().events === 3 ? true : undefined));
      // Not decided on within the ack wait: the server delivers them again.
      const w = await waitUntil('redeliveries', 10_000, () => {
        const s = intake.snapshot();
        return s.duplicates >= 3 ? s : undefined;
      });
      assert.equal(w.events, 3, 'still 3 events');
      assert.equal(w.observation[0]?.arrivals, 3);
      intake.commit();
      await waitUntil('all acknowledged', 5_000, async () => ((await pending(model)) === 0 ? true : undefined));
      // Fresh events after the commit are counted in the next window.
      await publish(model, 3, 2);
      await waitUntil('2 new events', 5_000, () => (intake.snapshot().events === 2 ? true : undefined));
    } finally {
      await intake.close();
    }
  });
});
