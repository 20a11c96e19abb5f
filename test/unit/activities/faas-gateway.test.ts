/**
 * activities/faas-gateway.ts with a fake ServerlessPlatform in a mock activity context: what the gateway passes
 * to the platform, what it returns, and how platform failures become Temporal failures; for single stages
 * (`runStage`) and fused runs (`runStages`: one invocation of the run's function, every stage's output back).
 */
import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { billedDurationMs, createFaasGatewayActivities, toGatewayFailure } from '../../../activities/faas-gateway';
import type {
  StageCallContext,
  StageInput,
  StageOutput,
  StageRunInput,
  StageRunOutput,
} from '../../../common/contracts';
import { UnknownStageError } from '../../../common/errors';
import {
  FunctionInstanceLostError,
  FunctionInvocationError,
  FunctionStartError,
} from '../../../deploy/local/serverless-platform';
import {
  FunctionThrottledError,
  type FunctionInvocation,
  type FunctionRef,
  type ServerlessPlatform,
} from '../../../infra/providers';

const INPUT: StageInput = {
  queryId: 'q-7',
  model: 'mnist-ee',
  stage: 2,
  lastStage: 4,
  threshold: 0.9,
  activation: { kind: 'inline', dims: [1], dataBase64: 'AAAAAA==' },
  inlineActivationMaxBytes: 16_384,
};

const OUTPUT: StageOutput = {
  stage: 2,
  label: 3,
  confidence: 0.97,
  exited: true,
  backend: 'faas',
  taskQueue: 'mnist-ee.stage-2.faas',
  worker: 'inst-1',
  attempt: 3,
  queueMs: 1,
  serviceMs: 0.4,
  handlerMs: 2,
  startedAt: 10,
  finishedAt: 12,
};

/** A platform that records its calls and answers with `result` (or throws it). */
function fakePlatform(result: FunctionInvocation | Error) {
  const calls: Array<{ fn: FunctionRef; input: StageInput; call: StageCallContext }> = [];
  const platform: ServerlessPlatform = {
    async invoke(fn, input, call) {
      calls.push({ fn, input, call });
      if (result instanceof Error) throw result;
      return result;
    },
    list: () => [],
    close: async () => undefined,
  };
  return { platform, calls };
}

function run(platform: ServerlessPlatform, granularity?: number): Promise<StageOutput> {
  const { runStage } = createFaasGatewayActivities({ platform, billingGranularityMs: granularity });
  const env = new MockActivityEnvironment(
    {
      workflowExecution: { workflowId: 'wf-1', runId: 'run-1' },
      attempt: 3,
      taskQueue: 'mnist-ee.stage-2.faas',
      currentAttemptScheduledTimestampMs: 5,
    },
    { logger: new DefaultLogger('ERROR') },
  );
  return env.run(runStage, INPUT);
}

async function rejection(p: Promise<unknown>): Promise<ApplicationFailure> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => ((caught = err), true));
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  return caught;
}

describe('faas gateway runStage', () => {
  test('invokes the stage function with the activity attempt as call context', async () => {
    const { platform, calls } = fakePlatform({
      output: OUTPUT,
      instanceId: 'inst-1',
      coldStart: false,
      initMs: 0,
      durationMs: 2.5,
      memoryMb: 512,
    });
    await run(platform);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.fn, { model: 'mnist-ee', stage: 2 });
    assert.deepEqual(calls[0]!.input, INPUT);
    assert.deepEqual(calls[0]!.call, {
      workflowId: 'wf-1',
      runId: 'run-1',
      attempt: 3,
      scheduledAt: 5,
      taskQueue: 'mnist-ee.stage-2.faas',
    });
  });

  test('returns the output with the cold start, the instance and the billed ms (init + duration, rounded up)', async () => {
    const { platform } = fakePlatform({
      output: { ...OUTPUT, worker: 'whatever' },
      instanceId: 'inst-9',
      coldStart: true,
      initMs: 1_180.4,
      durationMs: 3.2,
      memoryMb: 1024,
    });
    const out = await run(platform);
    assert.deepEqual(out, {
      ...OUTPUT,
      worker: 'inst-9',
      backend: 'faas',
      coldStart: true,
      instanceId: 'inst-9',
      billedMs: 1_184, // ceil(1180.4 + 3.2) at 1 ms granularity
      heartbeats: 0, // no heartbeat timeout in this mock attempt: none sent
    });
  });

  test('reports the gateway’s own heartbeats (its activity is the one that heartbeats), not the instance’s', async () => {
    let entered!: () => void;
    const inInvoke = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const platform: ServerlessPlatform = {
      async invoke() {
        entered();
        await released;
        const output: StageOutput = { ...OUTPUT, heartbeats: 7 };
        return { output, instanceId: 'inst-1', coldStart: true, initMs: 1_000, durationMs: 2, memoryMb: 512 };
      },
      list: () => [],
      close: async () => undefined,
    };
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    try {
      const { runStage } = createFaasGatewayActivities({ platform });
      const env = new MockActivityEnvironment(
        { heartbeatTimeoutMs: 2_000, taskQueue: 'mnist-ee.stage-2.faas' },
        { logger: new DefaultLogger('ERROR') },
      );
      let calls = 0;
      env.on('heartbeat', () => (calls += 1));
      const result: Promise<StageOutput> = env.run(runStage, INPUT);
      await inInvoke;
      // a cold start of 2 s, in 10 ms steps (one tick times every timer it runs at its end): calls at 500-2 000
      for (let t = 0; t < 2_000; t += 10) mock.timers.tick(10);
      release();
      const out = await result;
      assert.equal(calls, 4);
      // 500 sent; 1 000-2 000 held in the 1 600 ms window, the latest sent when it closes at 2 100: not yet
      assert.equal(out.heartbeats, 1);
    } finally {
      mock.timers.reset();
    }
  });

  test('throttling becomes a retryable FunctionThrottledError failure', async () => {
    const { platform } = fakePlatform(new FunctionThrottledError('limit reached (2 of 2)'));
    const f = await rejection(run(platform));
    assert.equal(f.type, 'FunctionThrottledError');
    assert.equal(f.nonRetryable, false);
    assert.match(f.message, /limit reached/);
  });

  test('a handler failure keeps the instance’s type, message and retryability', async () => {
    const bad = new FunctionInvocationError({ type: 'InvalidInputError', message: 'bad dims', nonRetryable: true });
    const f = await rejection(run(fakePlatform(bad).platform));
    assert.equal(f.type, 'InvalidInputError');
    assert.equal(f.message, 'bad dims');
    assert.equal(f.nonRetryable, true);
  });
});

describe('toGatewayFailure', () => {
  const cases: Array<{ label: string; err: unknown; type: string; nonRetryable: boolean }> = [
    {
      label: 'lost instance: retryable',
      err: new FunctionInstanceLostError('gone'),
      type: 'FunctionInstanceLostError',
      nonRetryable: false,
    },
    {
      label: 'failed start: retryable',
      err: new FunctionStartError('no'),
      type: 'FunctionStartError',
      nonRetryable: false,
    },
    {
      label: 'unknown stage: non-retryable',
      err: new UnknownStageError('no stage 9'),
      type: 'UnknownStageError',
      nonRetryable: true,
    },
    {
      label: 'retryable handler failure stays retryable',
      err: new FunctionInvocationError({ type: 'Error', message: 'nats hiccup', nonRetryable: false }),
      type: 'Error',
      nonRetryable: false,
    },
    { label: 'a plain Error: retryable', err: new Error('x'), type: 'Error', nonRetryable: false },
  ];
  for (const c of cases) {
    test(c.label, () => {
      const f = toGatewayFailure(c.err);
      assert.equal(f.type, c.type);
      assert.equal(f.nonRetryable, c.nonRetryable);
    });
  }
});

describe('billedDurationMs', () => {
  test('warm: the handler duration rounded up to 1 ms', () => {
    assert.equal(billedDurationMs({ initMs: 0, durationMs: 3.01 }, 1), 4);
  });
  test('cold: init + duration; at 100 ms granularity 1 180.4 + 3.2 → 1 200', () => {
    assert.equal(billedDurationMs({ initMs: 1_180.4, durationMs: 3.2 }, 100), 1_200);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Fused runs

const RUN_INPUT: StageRunInput = { ...INPUT, stage: 1, lastStage: 4, runLast: 4 };

const RUN_QUEUE = 'mnist-ee.all-stages.faas';

/** What the fused function 1-4 of mnist-ee returns when the query continues at 1 and 2 and exits at 3. */
function runOutputs(instanceId: string): StageOutput[] {
  return [1, 2, 3].map((stage) => ({
    ...OUTPUT,
    stage,
    label: stage,
    confidence: 0.5 + stage / 10,
    exited: stage === 3,
    taskQueue: RUN_QUEUE,
    worker: instanceId,
    queueMs: stage === 1 ? 1 : 0,
    serviceMs: stage / 4,
    startedAt: 10 + stage,
    finishedAt: 11 + stage,
  }));
}

const RUN_INVOCATION: FunctionInvocation = {
  output: runOutputs('inst-f')[2]!,
  stages: runOutputs('inst-f'),
  instanceId: 'inst-f',
  coldStart: true,
  initMs: 1_180.4,
  durationMs: 3.2,
  memoryMb: 2048,
};

function runStages(platform: ServerlessPlatform, input: StageRunInput = RUN_INPUT): Promise<StageRunOutput> {
  const { runStages } = createFaasGatewayActivities({ platform });
  const env = new MockActivityEnvironment(
    {
      workflowExecution: { workflowId: 'wf-2', runId: 'run-2' },
      attempt: 1,
      taskQueue: RUN_QUEUE,
      currentAttemptScheduledTimestampMs: 5,
    },
    { logger: new DefaultLogger('ERROR') },
  );
  return env.run(runStages, input);
}

describe('faas gateway runStages (a fused run)', () => {
  test('invokes the run’s fused function exactly once, for the whole run, with the attempt as call context', async () => {
    const { platform, calls } = fakePlatform(RUN_INVOCATION);
    await runStages(platform);
    assert.equal(calls.length, 1, 'one invocation for the whole run, not one per stage');
    assert.deepEqual(calls[0]!.fn, { model: 'mnist-ee', stage: 1, lastStage: 4 });
    assert.deepEqual(calls[0]!.input, RUN_INPUT);
    assert.deepEqual(calls[0]!.call, {
      workflowId: 'wf-2',
      runId: 'run-2',
      attempt: 1,
      scheduledAt: 5,
      taskQueue: RUN_QUEUE,
    });
  });

  test('a run cut short by the query’s last stage invokes the function of exactly that run', async () => {
    const { platform, calls } = fakePlatform(RUN_INVOCATION);
    await runStages(platform, { ...RUN_INPUT, stage: 2, lastStage: 3, runLast: 3 });
    assert.deepEqual(
      calls.map((c) => c.fn),
      [{ model: 'mnist-ee', stage: 2, lastStage: 3 }],
    );
  });

  test('returns every stage’s output in order, unchanged, with the one invocation’s serverless facts', async () => {
    const { platform } = fakePlatform({
      ...RUN_INVOCATION,
      stages: runOutputs('whatever').map((o) => ({ ...o, backend: 'vm' as const })),
    });
    const out = await runStages(platform);
    const facts = { backend: 'faas', worker: 'inst-f', coldStart: true, instanceId: 'inst-f' } as const;
    assert.deepEqual(out, {
      stages: runOutputs('inst-f').map((o, i) => ({
        ...o,
        ...facts,
        // billed once, on the last output: ceil(1180.4 + 3.2) at 1 ms granularity
        ...(i === 2 ? { billedMs: 1_184 } : {}),
      })),
      heartbeats: 0, // no heartbeat timeout in this mock attempt: none sent
    });
  });

  test('billed ms summed over the run’s outputs are the one invocation’s, not one per stage', async () => {
    const { platform } = fakePlatform(RUN_INVOCATION);
    const out = await runStages(platform);
    const billed = out.stages.map((s) => s.billedMs ?? 0).reduce((a, b) => a + b, 0);
    assert.equal(billed, billedDurationMs(RUN_INVOCATION, 1));
    assert.equal(out.stages.filter((s) => s.billedMs !== undefined).length, 1);
  });

  test('heartbeats are the gateway attempt’s, once at the top, never on a stage', async () => {
    let entered!: () => void;
    const inInvoke = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const platform: ServerlessPlatform = {
      async invoke() {
        entered();
        await released;
        return RUN_INVOCATION;
      },
      list: () => [],
      close: async () => undefined,
    };
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    try {
      const { runStages } = createFaasGatewayActivities({ platform });
      const env = new MockActivityEnvironment(
        { heartbeatTimeoutMs: 2_000, taskQueue: RUN_QUEUE },
        { logger: new DefaultLogger('ERROR') },
      );
      let calls = 0;
      env.on('heartbeat', () => (calls += 1));
      const result: Promise<StageRunOutput> = env.run(runStages, RUN_INPUT);
      await inInvoke;
      for (let t = 0; t < 2_000; t += 10) mock.timers.tick(10);
      release();
      const out = await result;
      assert.equal(calls, 4);
      assert.equal(out.heartbeats, 1);
      assert.ok(out.stages.every((s) => s.heartbeats === undefined));
    } finally {
      mock.timers.reset();
    }
  });

  test('a one-stage run (runLast = stage) takes the invocation’s single output', async () => {
    const { platform, calls } = fakePlatform({
      output: OUTPUT,
      instanceId: 'inst-1',
      coldStart: false,
      initMs: 0,
      durationMs: 2.5,
      memoryMb: 512,
    });
    const out = await runStages(platform, { ...INPUT, runLast: 2 });
    assert.deepEqual(calls[0]!.fn, { model: 'mnist-ee', stage: 2, lastStage: 2 });
    assert.deepEqual(
      out.stages.map((s) => [s.stage, s.billedMs]),
      [[2, 3]],
    );
  });

  test('a run without runLast is refused as non-retryable before anything is invoked', async () => {
    const { platform, calls } = fakePlatform(RUN_INVOCATION);
    const { runLast: _omitted, ...noRunLast } = RUN_INPUT;
    const f = await rejection(runStages(platform, noRunLast as StageRunInput));
    assert.equal(f.type, 'UnknownStageError');
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /runLast/);
    assert.match(f.message, /mnist-ee\.all-stages\.faas/);
    assert.equal(calls.length, 0);
  });

  test('platform failures keep their retryability: throttled retryable, a bad run non-retryable', async () => {
    const throttled = await rejection(runStages(fakePlatform(new FunctionThrottledError('limit')).platform));
    assert.equal(throttled.type, 'FunctionThrottledError');
    assert.equal(throttled.nonRetryable, false);
    const bad = await rejection(runStages(fakePlatform(new UnknownStageError('mnist-ee has stages 1..4')).platform));
    assert.equal(bad.type, 'UnknownStageError');
    assert.equal(bad.nonRetryable, true);
  });
});
