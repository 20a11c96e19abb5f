/**
 * A NATS blip does not fail stages: with queries running, the stack's nats-server is stopped and started again (same
 * port, same JetStream store). Every query completes with the right answer, no stage worker (VM) dies, and once
 * the workers' outboxes have re-sent what they held, each executed stage has exactly one stage event.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { InferenceHandle, InferenceResult } from '../../client';
import { sampleIndices } from '../../common/stats';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { callPoolsApi } from '../../infra/pools-api';
import { listWorkers } from '../../infra/worker-status';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { createDirectPipeline, type DirectPipeline } from '../../models/runtime/direct-pipeline';
import { byQuery, readAllStageEvents } from '../helpers/stage-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { sleep, waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
/** Queries started, one every START_EVERY_MS: the outage falls in the middle of the stream. */
const QUERIES = 48;
const START_EVERY_MS = 100;
/** NATS goes away this long after the first query, for OUTAGE_MS. */
const STOP_AFTER_MS = 1_500;
const OUTAGE_MS = 3_000;

let dir: string;
let port: number;
let nats: StartedNatsServer | undefined;
let t: TestStack | undefined;
let direct: DirectPipeline;

/** The test's own nats-server (the stack uses it through `nats.url`), so the test can stop and restart it. */
async function startNats(): Promise<StartedNatsServer> {
  const server = await startNatsServer({
    port,
    storeDir: path.join(dir, 'jetstream'),
    logDir: path.join(dir, 'logs'),
    clientName: 'nats-restart-test',
    readyTimeoutMs: 20_000,
  });
  await server.nc.close(); // the test reads through the stack's connection (t.nc), which reconnects
  return server;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-nats-restart-'));
  port = await freePort();
  nats = await startNats();
  t = await startTestStack({ nats: { url: nats.url } });
  direct = await createDirectPipeline(MODEL);
});

after(async () => {
  await direct?.close();
  await t?.stop();
  if (nats) await stopPid(nats.process.pid);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('nats-server stopped and restarted under load: every query completes, one stage event per executed stage', async (ctx) => {
  const stack = t!;
  const split = loadSplit(loadManifest(MODEL), 'test');
  const threshold = 0.99; // a mix of exits: most queries run more than one stage (claim-checked activations)
  const vmsBefore = (await callPoolsApi(stack.nc, { op: 'list' })).vms.filter((v) => v.state !== 'terminated');
  assert.ok(vmsBefore.length > 0, 'the stack runs its stage VMs');

  const picks = sampleIndices(split.images.length, QUERIES, 12);
  const startRetries = { count: 0 };
  /** Start query `n`; a start refused while NATS is away is tried again under the same query id (never run twice). */
  const startOne = async (n: number): Promise<InferenceHandle> => {
    const queryId = `nats-restart-${n}`;
    for (;;) {
      try {
        return await stack.client.start(split.images[picks[n]!]!, { model: MODEL, threshold, queryId });
      } catch (err) {
        startRetries.count++;
        if (startRetries.count > 500) throw err;
        await sleep(200);
      }
    }
  };
  const t0 = Date.now();
  const runs: Promise<InferenceResult>[] = [];
  const driver = (async () => {
    for (let n = 0; n < QUERIES; n++) {
      runs.push(startOne(n).then((h) => h.result()));
      await sleep(START_EVERY_MS);
    }
  })();

  await sleep(STOP_AFTER_MS);
  const stoppedAt = Date.now();
  await stopPid(nats!.process.pid);
  const stoppedMs = Date.now() - stoppedAt;
  await sleep(OUTAGE_MS);
  nats = await startNats();
  const restartedAt = Date.now();
  ctx.diagnostic(
    `nats-server stopped at +${stoppedAt - t0} ms (took ${stoppedMs} ms), back at +${restartedAt - t0} ms`,
  );

  await driver;
  const results = await Promise.all(runs);
  ctx.diagnostic(`${results.length} queries completed by +${Date.now() - t0} ms; ${startRetries.count} start retries`);
  assert.equal(results.length, QUERIES);
  for (const [n, r] of results.entries()) {
    const d = await direct.run(split.images[picks[n]!]!, threshold);
    assert.equal(r.label, d.label, `query ${r.queryId}: label`);
    assert.equal(r.exitStage, d.exitStage, `query ${r.queryId}: exit stage`);
  }
  // Stages that ended while NATS was away published their events into the outbox: none failed for it.
  const stages = results.flatMap((r) => r.stages);
  const duringOutage = stages.filter((s) => s.finishedAt > stoppedAt && s.finishedAt < restartedAt);
  const retried = stages.filter((s) => s.attempt > 1);
  ctx.diagnostic(
    `${stages.length} stages; ${duringOutage.length} finished while NATS was away; ${retried.length} retried`,
  );
  assert.ok(duringOutage.length > 0, 'stages ran and finished during the outage');
  assert.deepEqual(
    retried.map((s) => `${s.stage}@${s.startedAt}`),
    [],
    'no stage attempt failed (and was retried) for the outage',
  );

  // No worker died: the same VMs serve, none ended or was replaced.
  const vmsAfter = (await callPoolsApi(stack.nc, { op: 'list' })).vms;
  for (const v of vmsBefore) {
    assert.equal(vmsAfter.find((x) => x.id === v.id)?.state, 'ready', `VM ${v.id} still serves`);
  }
  assert.equal(vmsAfter.length, vmsBefore.length, 'no VM was replaced');
  // Their status records (a memory bucket the restart emptied) come back at their next heartbeats.
  await waitUntil('the VMs report their status again', 20_000, async () => {
    const ids = new Set((await listWorkers(stack.nc)).map((w) => w.id));
    return vmsBefore.every((v) => ids.has(v.id)) ? true : undefined;
  });

  // Events held through the outage are re-sent by the workers' outboxes: wait for them, then exactly one each.
  const expected = new Map(results.map((r) => [r.queryId, r.stages.map((s) => s.stage)]));
  const events = await waitUntil(
    'every executed stage has its event',
    30_000,
    async () => {
      const all = await readAllStageEvents(stack.nc);
      const got = byQuery(all);
      return [...expected].every(([q, stages]) => (got.get(q)?.length ?? 0) >= stages.length) ? all : undefined;
    },
    500,
  ).catch((err: Error) => {
    const logs = path.join(stack.dir, 'data', 'logs');
    for (const f of fs.readdirSync(logs)) {
      const lines = fs.readFileSync(path.join(logs, f), 'utf8').split('\n');
      const mine = lines.filter((l) => /stage events|billing|nats/i.test(l));
      if (mine.length) ctx.diagnostic(`${f}:\n${mine.slice(0, 15).join('\n')}`);
    }
    throw err;
  });
  const got = byQuery(events);
  for (const [queryId, stages] of expected) {
    assert.deepEqual(
      (got.get(queryId) ?? []).map((e) => e.stage),
      stages,
      `query ${queryId}: one event per executed stage`,
    );
  }
  const total = [...expected.values()].reduce((a, s) => a + s.length, 0);
  ctx.diagnostic(`${total} executed stages, ${events.length} stage events in the stream`);
  assert.equal(events.length, total, 'no event twice, none missing');
});
