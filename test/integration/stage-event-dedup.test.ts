/**
 * Stage events are deduplicated by JetStream, not by the publisher: on a real nats-server with SERFLOW's streams,
 * two attempts of the same (workflow run, stage) that both publish leave exactly one event, the first; another
 * stage or another run of the same workflow is a new event. This is what lets a retried stage add no second event
 * (test/integration/routing.test.ts relies on it).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createStageEventPublisher } from '../../activities/stage-events';
import { compileConfig } from '../../common/config';
import { STAGE_EVENT_VERSION, type StageEvent } from '../../common/events';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { ensureNatsResources } from '../../infra/nats';
import { readAllStageEvents } from '../helpers/stage-events';

function event(over: Partial<StageEvent>): StageEvent {
  return {
    v: STAGE_EVENT_VERSION,
    type: 'stage.continued',
    queryId: 'q',
    workflowId: 'wf',
    runId: 'run-1',
    model: 'dedup',
    stage: 1,
    backend: 'faas',
    worker: 'attempt-1-worker',
    attempt: 1,
    queueMs: 0,
    serviceMs: 1,
    scheduledAt: 1,
    startedAt: 2,
    finishedAt: 3,
    label: 1,
    confidence: 0.5,
    threshold: 0.9,
    ...over,
  } as StageEvent;
}

describe('stage event deduplication on a real nats-server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-dedup-'));
  let nats: StartedNatsServer;

  before(async () => {
    nats = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'jetstream'),
      logDir: dir,
      clientName: 'dedup-test',
      readyTimeoutMs: 10_000,
    });
    await ensureNatsResources(nats.nc, compileConfig({ homeDir: dir }));
  });

  after(async () => {
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a second attempt of the same run and stage adds no event; another stage or run does', async () => {
    const p = createStageEventPublisher(nats.nc, { log: () => undefined });
    // Attempt 1 timed out on the workflow's side but ran to the end and published first; attempt 2 answered.
    await p.publish(event({ attempt: 1, worker: 'attempt-1-worker' }));
    await p.publish(event({ attempt: 2, worker: 'attempt-2-worker', type: 'stage.exited' }));
    // Not duplicates: the next stage of the same run, and the same stage in a new run (continue-as-new, reset).
    await p.publish(event({ stage: 2, attempt: 1, worker: 'stage-2-worker' }));
    await p.publish(event({ runId: 'run-2', attempt: 1, worker: 'run-2-worker' }));
    await p.close(5_000);
    assert.equal(p.pending, 0);
    assert.equal(p.lost, 0);

    const stored = (await readAllStageEvents(nats.nc)).map((e) => `${e.runId}/${e.stage}/${e.attempt}/${e.worker}`);
    assert.deepEqual(stored, ['run-1/1/1/attempt-1-worker', 'run-1/2/1/stage-2-worker', 'run-2/1/1/run-2-worker']);
  });
});
