/**
 * A stage worker dies while it holds queries: every query still completes, exactly once, with the right answer. The
 * workflow worker dies: the stack starts it again and queries run.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { createDirectPipeline, type DirectPipeline } from '../../models/runtime/direct-pipeline';
import { INFERENCE_TASK_QUEUE, stageTaskQueue } from '../../common/naming';
import { sampleIndices } from '../../common/stats';
import { isAlive, stopPid } from '../../deploy/local/processes';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { listWorkers } from '../../infra/worker-status';
import { callPoolsApi } from '../../infra/pools-api';
import { byQuery, readAllStageEvents } from '../helpers/stage-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
let t: TestStack;
let direct: DirectPipeline;

before(async () => {
  t = await startTestStack();
  direct = await createDirectPipeline(MODEL);
});

after(async () => {
  await direct?.close();
  await t?.stop();
});

test('killing a stage worker with queries in flight loses no query and runs none twice', async () => {
  const split = loadSplit(loadManifest(MODEL), 'test');
  const queue = stageTaskQueue(MODEL, 2);
  const victim = (await listWorkers(t.nc)).find((w) => w.taskQueue === queue);
  assert.ok(victim, `a worker polls ${queue}`);

  // Freeze the stage-2 worker: its open long-polls still receive tasks (which it then holds, "in flight"),
  // the rest wait in the queue. Then kill it outright, as a crashed VM would die.
  process.kill(victim.pid, 'SIGSTOP');
  const threshold = 0.999999; // almost every query goes past stage 1
  const picks = sampleIndices(split.images.length, 24, 21);
  const handles = await Promise.all(picks.map((i) => t.client.start(split.images[i]!, { model: MODEL, threshold })));
  // Kill only once the frozen worker holds work: some stage-2 activity is started (dispatched to it).
  const held = async () => {
    for (const h of handles) {
      const d = await t.client.temporal.workflow.getHandle(h.workflowId).describe();
      const pending = d.raw.pendingActivities ?? [];
      const started = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
      if (pending.some((a) => a.state === started && a.lastWorkerIdentity === victim.id)) {
        return true;
      }
    }
    return false;
  };
  // A condition with a generous ceiling, not 5 s: dispatch to the frozen worker can be late on a loaded machine.
  await waitUntil('the frozen stage-2 worker was dispatched work before it was killed', 60_000, async () =>
    (await held()) ? true : undefined,
  );
  const runs = handles.map((h) => h.result());
  process.kill(victim.pid, 'SIGKILL');
  await stopPid(victim.pid, 5_000);
  // The provider saw its VM die (billing stops there) and launches a replacement by itself: no operator or
  // autoscaler asks for one here, so without it the queries held on stage 2 would never finish.

  const results = await Promise.all(runs);
  for (const [n, i] of picks.entries()) {
    const d = await direct.run(split.images[i]!, threshold);
    assert.equal(results[n]!.label, d.label, `sample ${i}: label`);
    assert.equal(results[n]!.exitStage, d.exitStage, `sample ${i}: exit stage`);
  }
  const retried = results.filter((r) => r.stages.some((s) => s.stage === 2 && s.attempt > 1));
  assert.ok(retried.length > 0, 'some stage-2 attempts were lost with the worker and retried');
  assert.ok(
    results.every((r) => r.stages.every((s) => s.stage !== 2 || s.worker !== victim.id)),
    'no result came from the killed worker',
  );
  const events = byQuery(await readAllStageEvents(t.nc));
  for (const r of results) {
    const list = events.get(r.queryId) ?? [];
    assert.deepEqual(
      list.map((e) => e.stage),
      r.stages.map((s) => s.stage),
      `query ${r.queryId}: one event per executed stage`,
    );
  }
  // The cloud agent replaced the VM that died (it was not drained): the pool is back to its size.
  const { vms } = await callPoolsApi(t.nc, { op: 'list' });
  const lost = vms.find((v) => v.pid === victim.pid);
  assert.equal(lost?.state, 'terminated', 'the killed VM is listed as terminated');
  await waitUntil('a replacement VM on stage 2', 30_000, async () => {
    const now = (await callPoolsApi(t.nc, { op: 'list' })).vms;
    return now.some((v) => v.model === MODEL && v.stage === 2 && v.state === 'ready' && v.id !== lost.id)
      ? true
      : undefined;
  });
});

test('a crashed workflow worker is restarted by the stack and queries run again', async () => {
  const name = `worker-${INFERENCE_TASK_QUEUE}`;
  const entry = () => t.stack.info.processes.find((p) => p.name === name);
  const before = entry();
  assert.ok(before, `the stack runs ${name}`);
  assert.equal(before.restarts, undefined, 'not restarted yet');
  process.kill(before.pid, 'SIGKILL');
  // Restarted after the first backoff (1 s), under a new pid that polls again.
  const after = await waitUntil('the workflow worker is restarted', 30_000, () => {
    const e = entry();
    return e && e.pid !== before.pid && e.restarts === 1 ? e : undefined;
  });
  assert.ok(isAlive(after.pid));
  assert.ok(
    t.stack.processes.some((p) => p.pid === after.pid),
    'stop() stops the new process',
  );
  const image = loadSplit(loadManifest(MODEL), 'test').images[0]!;
  const result = await t.client.infer(image, { queryId: 'after-restart' });
  assert.ok(result.stages.length >= 1);
});
