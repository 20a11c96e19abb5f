/**
 * Stage fusion served serverless, on a real stack: with the plan `all-faas+fuse:1-K`, each query's stages run as
 * ONE `runStages` activity on `<model>.all-stages.faas`, which the faas gateway relays to ONE invocation of the
 * fused function of stages 1..K (its own instances, billed once at the largest of its stages' memory). Results
 * equal in-process ONNX runs, every stage keeps its record and event, the history shows one activity attempt per
 * query, and the billing one invocation per query.
 *
 * Time scale 10: the 1 000 ms cold-start extra waits 100 ms of wall time; the 600 000 ms keep-alive (60 s wall)
 * keeps the fused function's instance warm for the whole file.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { billedDurationMs } from '../../activities/faas-gateway';
import { actionsFromHistory } from '../../billing/history-actions';
import { createBillingPublisher } from '../../billing/publisher';
import type { BillingEvent } from '../../common/billing-events';
import type { InferenceResult, StageCallContext, StageInput } from '../../common/contracts';
import { UnknownStageError } from '../../common/errors';
import { inferenceWorkflowId, wholeModelQueue } from '../../common/naming';
import { planFromSpec } from '../../common/routing';
import { sampleIndices } from '../../common/stats';
import { createLocalServerlessPlatform } from '../../deploy/local/serverless-platform';
import { callPoolsApi } from '../../infra/pools-api';
import { loadSplit, type DatasetSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { createDirectPipeline, type DirectPipeline, type DirectResult } from '../../models/runtime/direct-pipeline';
import { inlineTensor } from '../../common/tensor-codec';
import { readAllBillingEvents } from '../helpers/billing-events';
import { publishPlan } from '../helpers/routing';
import { byQuery, readAllStageEvents } from '../helpers/stage-events';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const MODEL = 'mnist-ee';
const STAGES = loadManifest(MODEL).stages.length;
const TIME_SCALE = 10;
/** Exits at every stage happen at this threshold: the runs' early exits inside one invocation are exercised. */
const THRESHOLD = 0.99;
const DEFAULT_MEMORY = 512;
/** Members of the fused function with more memory than the default: the function is billed at the largest. */
const STAGE_MEMORY = { '2': 1024, '3': 1536 };
const FUSED_MEMORY = 1536;
const FAAS = {
  coldStartExtraMs: 1_000,
  keepAliveMs: 600_000,
  memoryMb: DEFAULT_MEMORY,
  stageMemoryMb: STAGE_MEMORY,
  accountConcurrency: 4,
};
const RUN_QUEUE = wholeModelQueue(MODEL, 'faas');

type Invoked = Extract<BillingEvent, { type: 'faas.invoked' }>;

function assertSameAsDirect(result: InferenceResult, direct: DirectResult, what: string): void {
  assert.equal(result.label, direct.label, `${what}: label`);
  assert.equal(result.exitStage, direct.exitStage, `${what}: exit stage`);
  assert.ok(Math.abs(result.confidence - direct.confidence) < 1e-6, `${what}: confidence`);
  assert.deepEqual(
    result.stages.map((s) => [s.label, s.exited]),
    direct.stages.map((s, i) => [s.label, i === direct.stages.length - 1]),
    `${what}: per-stage labels and exits`,
  );
}

/** Sample indices whose in-process run exits early (before the last stage) and at the last stage, `n` of each. */
async function mixedSamples(direct: DirectPipeline, split: DatasetSplit, n: number, seed: number): Promise<number[]> {
  const early: number[] = [];
  const deep: number[] = [];
  for (const i of sampleIndices(split.images.length, 400, seed)) {
    const { exitStage } = await direct.run(split.images[i]!, THRESHOLD);
    if (exitStage > 1 && exitStage < STAGES && early.length < n) early.push(i);
    if (exitStage === STAGES && deep.length < n) deep.push(i);
    if (early.length === n && deep.length === n) return [...deep, ...early];
  }
  throw new Error(`only ${early.length} early and ${deep.length} deep samples in 400 at threshold ${THRESHOLD}`);
}

describe('fused runs served serverless (all-faas+fuse:1-K) on a real stack', () => {
  let t: TestStack;
  let direct: DirectPipeline;
  let split: DatasetSplit;
  /** The first query: it starts the fused function's instance (a cold start). */
  let first: InferenceResult;

  before(async () => {
    t = await startTestStack({ timeScale: TIME_SCALE, vm: { bootDelayMs: 1_000, initialPerStage: 0 }, faas: FAAS });
    direct = await createDirectPipeline(MODEL);
    split = loadSplit(loadManifest(MODEL), 'test');
    await publishPlan(t.nc, planFromSpec(`all-faas+fuse:1-${STAGES}`, MODEL, STAGES, Date.now()), STAGES, t.client);
  });

  after(async () => {
    await direct?.close();
    await t?.stop();
  });

  test('the first query starts ONE instance of the fused function (cold), not one per stage', async () => {
    const [i] = sampleIndices(split.images.length, 1, 61);
    first = await t.client.infer(split.images[i!]!, { model: MODEL, threshold: 0.999999 });
    assert.ok(first.stages.length >= 2, 'the first query ran more than one stage (in its one invocation)');
    for (const s of first.stages) {
      assert.equal(s.backend, 'faas');
      assert.equal(s.coldStart, true, `stage ${s.stage} ran in the cold invocation`);
      assert.match(s.instanceId ?? '', new RegExp(`-s1_${STAGES}-`), 'an instance of the fused function');
    }
    const { functions } = await callPoolsApi(t.nc, { op: 'list' });
    assert.deepEqual(
      functions.map((f) => [f.model, f.stage, f.lastStage, f.memoryMb]),
      [[MODEL, 1, STAGES, FUSED_MEMORY]],
      'one instance, of the fused function, at the largest member memory; no per-stage function was started',
    );
    const started = (await readAllBillingEvents(t.nc)).filter((e) => e.type === 'faas.instance.started');
    assert.deepEqual(
      started.map((e) => [e.stage, e.type === 'faas.instance.started' ? e.memoryMb : 0]),
      [[1, FUSED_MEMORY]],
    );
  });

  test('each query: one activity attempt, every stage’s record in order on faas, one invocation billed', async (ctx) => {
    assert.ok(first, 'runs after the cold-start test');
    const picks = await mixedSamples(direct, split, 2, 67);
    const results: InferenceResult[] = [];
    // One at a time: the fused function's one instance is idle whenever the next call comes (warm every time).
    for (const i of picks) results.push(await t.client.infer(split.images[i]!, { model: MODEL, threshold: THRESHOLD }));
    assert.ok(
      results.some((r) => r.exitStage < STAGES) && results.some((r) => r.exitStage === STAGES),
      'some queries exit inside the run, some at its end',
    );

    const ids = new Set(results.map((r) => r.queryId));
    const invoked = (await readAllBillingEvents(t.nc)).filter(
      (e): e is Invoked => e.type === 'faas.invoked' && ids.has(e.queryId),
    );
    const events = byQuery(await readAllStageEvents(t.nc));
    const instanceId = first.stages[0]!.instanceId;

    for (const [n, i] of picks.entries()) {
      const r = results[n]!;
      const what = `sample ${i} (query ${r.queryId})`;
      assertSameAsDirect(r, await direct.run(split.images[i]!, THRESHOLD), what);

      // The records: every stage up to the exit, in order, all from the one serverless attempt.
      assert.deepEqual(
        r.stages.map((s) => s.stage),
        Array.from({ length: r.exitStage }, (_, k) => k + 1),
        `${what}: records of stages 1..exit in order`,
      );
      assert.deepEqual(r.backends, ['faas']);
      for (const s of r.stages) {
        const where = `${what} stage ${s.stage}`;
        assert.equal(s.backend, 'faas', where);
        assert.equal(s.taskQueue, RUN_QUEUE, `${where}: came through the fused-run queue`);
        assert.equal(s.attempt, 1, where);
        assert.equal(s.instanceId, instanceId, `${where}: the fused function's one (warm) instance`);
        assert.equal(s.worker, s.instanceId, where);
        assert.equal(s.coldStart, false, where);
        assert.equal(s.overflowed, undefined, where);
      }
      const billedOn = r.stages.filter((s) => s.billedMs !== undefined).map((s) => s.stage);
      assert.deepEqual(billedOn, [r.exitStage], `${what}: the invocation's billed ms once, on its last record`);

      // The history: one runStages activity, one attempt, nothing per stage.
      const history = await t.client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, r.queryId)).fetchHistory();
      assert.equal(actionsFromHistory(history).activityAttempts, 1, `${what}: one activity attempt for all stages`);
      const scheduled = (history.events ?? []).flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        return a ? [[a.activityType?.name, a.taskQueue?.name]] : [];
      });
      assert.deepEqual(scheduled, [['runStages', RUN_QUEUE]], `${what}: activities scheduled`);

      // The billing: one invocation of the fused function, at its memory, on the answering instance.
      const mine = invoked.filter((e) => e.queryId === r.queryId);
      assert.equal(mine.length, 1, `${what}: one faas.invoked for the whole run, got ${mine.length}`);
      const bill = mine[0]!;
      assert.deepEqual(
        [bill.stage, bill.lastStage, bill.memoryMb, bill.instanceId, bill.coldStart],
        [1, STAGES, FUSED_MEMORY, instanceId, false],
        `${what}: the invocation billed`,
      );
      assert.equal(
        r.stages.at(-1)!.billedMs,
        billedDurationMs(bill, t.config.prices.faasBillingGranularityMs),
        `${what}: the record's billed ms are the billed invocation's`,
      );

      // The stage events: one per stage run, from the instance, as a per-stage execution publishes them.
      const list = events.get(r.queryId) ?? [];
      assert.deepEqual(
        list.map((e) => [e.stage, e.type, e.backend, e.worker, e.attempt]),
        r.stages.map((s) => [s.stage, s.exited ? 'stage.exited' : 'stage.continued', 'faas', instanceId, 1]),
        `${what}: stage events`,
      );
    }
    ctx.diagnostic(
      `exit stages ${results.map((r) => r.exitStage).join(', ')}; latencies ${results.map((r) => r.latencyMs).join(', ')} ms`,
    );
  });

  test('the platform refuses a run outside the model’s stages before starting anything, naming it', async () => {
    const platform = createLocalServerlessPlatform({
      config: t.config,
      natsUrl: t.stack.info.natsUrl,
      nc: t.nc,
      billing: createBillingPublisher(t.nc, TIME_SCALE),
      logDir: path.join(t.dir, 'fn-logs-refused'),
    });
    try {
      const input: StageInput = {
        queryId: 'refused',
        model: MODEL,
        stage: 1,
        lastStage: STAGES,
        threshold: THRESHOLD,
        activation: inlineTensor(split.images[0]!, [1, 1, 28, 28]),
        inlineActivationMaxBytes: 16 * 1024,
      };
      const call: StageCallContext = { workflowId: 'wf', runId: 'r', attempt: 1, scheduledAt: 0, taskQueue: RUN_QUEUE };
      const refused = async (p: Promise<unknown>, type: string, message: RegExp) => {
        await assert.rejects(p, (err: unknown) => {
          assert.equal((err as Error).name, type);
          assert.match((err as Error).message, message);
          return true;
        });
      };
      await refused(
        platform.invoke({ model: MODEL, stage: 1, lastStage: STAGES + 1 }, input, call),
        UnknownStageError.name,
        new RegExp(
          `${MODEL} has stages 1\\.\\.${STAGES}; a fused function from stage 1 cannot end at lastStage ${STAGES + 1}`,
        ),
      );
      await refused(
        platform.invoke({ model: MODEL, stage: 2, lastStage: STAGES }, input, call),
        UnknownStageError.name,
        new RegExp(
          `query refused: function ${MODEL} stages 2-${STAGES} runs from stage 2 .*called with ${MODEL} stage 1`,
        ),
      );
      await refused(
        platform.invoke({ model: MODEL, stage: 1, lastStage: STAGES }, { ...input, lastStage: STAGES - 1 }, call),
        'InvalidInputError',
        new RegExp(`runs to stage ${STAGES}, past the query's lastStage ${STAGES - 1}`),
      );
      assert.deepEqual(platform.list(), [], 'no instance was started for a refused call');
    } finally {
      await platform.close();
    }
  });
});
