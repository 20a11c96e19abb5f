/**
 * A whole-model VM (stage 0, LIBRA's unit): one process, billed once, that polls every stage's queue, so a
 * query can run all its stages on it while the per-stage pools are empty.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseBillingEvent } from '../../common/billing-events';
import { sampleIndices } from '../../common/stats';
import { callPoolsApi } from '../../infra/pools-api';
import { readBillingEvents } from '../../billing/reader';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { waitUntil } from '../helpers/wait-until';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const MODEL = 'mnist-ee';
let t: TestStack;

before(async () => {
  t = await startTestStack({ vm: { bootDelayMs: 0, initialPerStage: 1 } });
});

after(async () => {
  await t?.stop();
});

test('a whole-model VM serves every stage of the model and is billed as one VM', async () => {
  await t.stack.scaleStage(MODEL, 0, 1);
  for (let k = 1; k <= 4; k++) await callPoolsApi(t.nc, { op: 'scale', model: MODEL, stage: k, vms: 0 });
  const { vms } = await callPoolsApi(t.nc, { op: 'list' });
  const whole = vms.filter((v) => v.stage === 0 && v.state === 'ready');
  assert.equal(whole.length, 1, 'one ready whole-model VM');
  // Wait until the drained per-stage VMs are gone, so only the whole-model VM can serve. A draining VM lets its open
  // polls end on their own (workers/drain-slots.ts), which takes up to one long poll (10 s on the dev server) when
  // its queue is idle, and would run a task such a poll brings.
  await waitUntil('the drained per-stage VMs have exited', 60_000, async () =>
    (await callPoolsApi(t.nc, { op: 'list' })).vms.some((v) => v.stage > 0 && v.state !== 'terminated')
      ? undefined
      : true,
  );
  const split = loadSplit(loadManifest(MODEL), 'test');
  const results = await Promise.all(
    sampleIndices(split.images.length, 8, 3).map((i) =>
      t.client.infer(split.images[i]!, { model: MODEL, threshold: 0.999999 }),
    ),
  );
  assert.ok(
    results.some((r) => r.stages.length === 4),
    'some query ran all four stages',
  );
  for (const r of results) {
    for (const s of r.stages) assert.equal(s.worker, whole[0]!.id, `stage ${s.stage} ran on the whole-model VM`);
  }
  const { events } = await readBillingEvents(t.nc);
  const launched = events.map((e) => parseBillingEvent(e)).filter((e) => e.type === 'vm.launched' && e.stage === 0);
  assert.equal(launched.length, 1, 'one vm.launched for the whole-model VM (stage 0)');
});
