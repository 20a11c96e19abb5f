/**
 * The AWS Lambda adapter (deploy/aws/lambda-platform.ts) against a local endpoint that speaks Lambda's Invoke REST
 * API (test/helpers/lambda-endpoint.ts) and runs the REAL compiled handler (deploy/aws/lambda-handler.ts) in child
 * processes, one per execution environment, on a real nats-server: outputs equal to the local function instance's
 * code path for the same input (one stage and a fused run), cold then warm, throttling, function errors, bad input,
 * an unknown function, and the billing facts the ledger reads. Then the packaged artifact: `serflow package lambda`'s
 * zip, unzipped away from this project's node_modules, runs behind the same endpoint.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Subscription } from 'nats';
import yauzl from 'yauzl';
import { createStageEventPublisher } from '../../activities/stage-events';
import { createBillingPublisher } from '../../billing/publisher';
import { BILLING_EVENTS_SUBJECT_PREFIX, parseBillingEvent, type BillingEvent } from '../../common/billing-events';
import { compileConfig, type SerflowConfig } from '../../common/config';
import type { StageCallContext, StageInput, StageOutput, TensorRef } from '../../common/contracts';
import type { StageEvent } from '../../common/events';
import { STAGE_EVENTS_SUBJECT_PREFIX } from '../../common/naming';
import { inlineTensor } from '../../common/tensor-codec';
import type { LambdaFunctionReply } from '../../deploy/aws/lambda-handler';
import type { LambdaPackage } from '../../deploy/aws/lambda-package';
import { createLambdaClient } from '../../deploy/aws/clients';
import { createLambdaPlatform, LambdaFunctionError, LambdaInvokeError } from '../../deploy/aws/lambda-platform';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { createActivationStore, type ActivationStore } from '../../infra/activation-store';
import { ensureNatsResources } from '../../infra/nats';
import {
  FunctionThrottledError,
  type FunctionInvocation,
  type FunctionRef,
  type ServerlessPlatform,
} from '../../infra/providers';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import {
  loadFunctionStages,
  runFunctionRequest,
  type FunctionReply,
  type LoadedFunctionStages,
} from '../../workers/function-instance';
import { startLambdaEndpoint, type EmulatedFunction, type LambdaEndpoint } from '../helpers/lambda-endpoint';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const STAGES = 4;
/** High enough that the chosen image continues after stage 1. */
const THRESHOLD = 0.99;
/** Requests in flight the endpoint allows across its functions (the account concurrency). */
const CONCURRENCY = 2;
/** Stage 2 gets more memory; the fused run 1-4 so inherits it (the largest of its stages'). */
const STAGE2_MEMORY_MB = 1024;
const DEFAULT_MEMORY_MB = 512;
const HANDLER_FILE = path.join(__dirname, '..', '..', 'deploy', 'aws', 'lambda-handler.js');
const FAKE_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

let seq = 0;
function callContext(stage: number): StageCallContext {
  return {
    workflowId: `wf-lambda-${++seq}`,
    runId: 'run',
    attempt: 1,
    scheduledAt: Date.now(),
    taskQueue: `${MODEL}.stage-${stage}.faas`,
  };
}
function stageInput(stage: number, activation: TensorRef): StageInput {
  return {
    queryId: `q-lambda-${seq + 1}`,
    model: MODEL,
    stage,
    lastStage: STAGES,
    threshold: THRESHOLD,
    activation,
    inlineActivationMaxBytes: 16 * 1024,
  };
}

const okOutput = (r: FunctionReply) => {
  assert.ok(r.ok, `the local code path failed: ${JSON.stringify(r)}`);
  return r;
};

describe('AWS Lambda adapter against a local Invoke endpoint running the real handler', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-lambda-'));
  let nats: StartedNatsServer;
  let endpoint: LambdaEndpoint;
  let config: SerflowConfig;
  let client: LambdaClient;
  let platform: ServerlessPlatform;
  let store: ActivationStore;
  let local1: LoadedFunctionStages;
  let localFused: LoadedFunctionStages;
  let image: Float32Array;
  let billingSub: Subscription;
  let stageSub: Subscription;
  const billing: BillingEvent[] = [];
  const stageEvents: StageEvent[] = [];
  /** Every invocation that ran and returned, for the billing check. */
  const ran: FunctionInvocation[] = [];
  let ranFailed = 0;

  const fn = (name: string, stage: number, memoryMb: number, extra: Record<string, string> = {}): EmulatedFunction => ({
    name,
    handlerFile: HANDLER_FILE,
    memoryMb,
    env: { SERFLOW_MODEL: MODEL, SERFLOW_STAGE: String(stage), NATS_URL: nats.url, ...extra },
  });
  const invoke = async (ref: FunctionRef, input: StageInput, call: StageCallContext) => {
    const inv = await platform.invoke(ref, input, call);
    ran.push(inv);
    return inv;
  };
  const localRun = (loaded: LoadedFunctionStages, input: StageInput, call: StageCallContext) =>
    runFunctionRequest(
      { input, call },
      loaded.deps({ store, events: createStageEventPublisher(nats.nc), worker: 'local' }),
    );
  /** Same answer: label, confidence, exit, and the activation handed on (its values, wherever it is stored). */
  const assertSameOutput = async (lambda: StageOutput, local: StageOutput, what: string) => {
    assert.equal(lambda.stage, local.stage, `${what}: stage`);
    assert.equal(lambda.label, local.label, `${what}: label`);
    assert.ok(
      Math.abs(lambda.confidence - local.confidence) < 1e-6,
      `${what}: confidence ${lambda.confidence} vs ${local.confidence}`,
    );
    assert.equal(lambda.exited, local.exited, `${what}: exited`);
    assert.equal(!!lambda.activation, !!local.activation, `${what}: activation handed on`);
    if (lambda.activation && local.activation) {
      assert.deepEqual(lambda.activation.dims, local.activation.dims, `${what}: activation dims`);
      const a = await store.fetch(lambda.activation, what);
      const b = await store.fetch(local.activation, what);
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5, `${what}: activation[${i}]`);
    }
  };

  before(async () => {
    nats = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'jetstream'),
      logDir: dir,
      clientName: 'aws-lambda-test',
      readyTimeoutMs: 10_000,
    });
    await ensureNatsResources(nats.nc, compileConfig({ homeDir: dir }));
    billingSub = nats.nc.subscribe(`${BILLING_EVENTS_SUBJECT_PREFIX}.>`);
    void (async () => {
      for await (const m of billingSub) billing.push(parseBillingEvent(m.json()));
    })();
    stageSub = nats.nc.subscribe(`${STAGE_EVENTS_SUBJECT_PREFIX}.>`);
    void (async () => {
      for await (const m of stageSub) stageEvents.push(m.json<StageEvent>());
    })();
    endpoint = await startLambdaEndpoint({
      concurrency: CONCURRENCY,
      logDir: path.join(dir, 'lambda-logs'),
      functions: [
        fn('serflow-mnist-ee-s1', 1, DEFAULT_MEMORY_MB),
        fn('serflow-mnist-ee-s2', 2, STAGE2_MEMORY_MB),
        fn('serflow-mnist-ee-s3', 3, DEFAULT_MEMORY_MB),
        fn('serflow-mnist-ee-s1-4', 1, STAGE2_MEMORY_MB, { SERFLOW_LAST_STAGE: String(STAGES) }),
        // A deployment mistake: no NATS_URL, so the handler cannot start.
        { ...fn('serflow-mnist-ee-s4', 4, DEFAULT_MEMORY_MB), env: { SERFLOW_MODEL: MODEL, SERFLOW_STAGE: '4' } },
      ],
    });
    config = compileConfig({
      homeDir: dir,
      cloud: 'aws',
      aws: { endpoint: endpoint.url, lambda: { functions: { '2': { memoryMb: STAGE2_MEMORY_MB } } } },
    });
    client = createLambdaClient(config, { credentials: FAKE_CREDENTIALS });
    platform = createLambdaPlatform({
      config,
      billing: createBillingPublisher(nats.nc, 1),
      client,
      log: () => undefined,
    });
    store = await createActivationStore(nats.nc);
    local1 = await loadFunctionStages({ config, model: MODEL, stage: 1 });
    localFused = await loadFunctionStages({ config, model: MODEL, stage: 1, lastStage: STAGES });
    // An image stage 1 is not sure of, so a run goes on past it.
    const { images } = loadSplit(loadManifest(MODEL), 'test');
    for (const img of images.slice(0, 200)) {
      const r = okOutput(await localRun(local1, stageInput(1, inlineTensor(img, [1, 1, 28, 28])), callContext(1)));
      if (!r.output.exited) {
        image = new Float32Array(img);
        break;
      }
    }
    assert.ok(image, 'an uncertain test image among the first 200');
  });

  after(async () => {
    billingSub?.unsubscribe();
    stageSub?.unsubscribe();
    await platform?.close();
    client?.destroy();
    await local1?.close();
    await localFused?.close();
    await endpoint?.stop();
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const image1 = () => inlineTensor(image, [1, 1, 28, 28]);

  test('one stage: cold, then warm on the same environment; the output equals the local code path', async () => {
    const local = okOutput(await localRun(local1, stageInput(1, image1()), callContext(1)));
    const cold = await invoke({ model: MODEL, stage: 1 }, stageInput(1, image1()), callContext(1));
    assert.equal(cold.coldStart, true);
    assert.ok(cold.initMs > 0, `Init Duration ${cold.initMs} ms measured`);
    assert.ok(cold.durationMs > 0);
    assert.equal(cold.memoryMb, DEFAULT_MEMORY_MB);
    assert.equal(cold.output.backend, 'faas');
    assert.equal(cold.output.worker, cold.instanceId);
    assert.match(cold.instanceId, /^serflow-mnist-ee-s1-[0-9a-f]{12}$/);
    await assertSameOutput(cold.output, local.output, 'stage 1 (cold)');

    const warm = await invoke({ model: MODEL, stage: 1 }, stageInput(1, image1()), callContext(1));
    assert.equal(warm.coldStart, false);
    assert.equal(warm.initMs, 0);
    assert.equal(warm.instanceId, cold.instanceId);
    await assertSameOutput(warm.output, local.output, 'stage 1 (warm)');
    assert.equal(endpoint.environments('serflow-mnist-ee-s1'), 1, 'one environment served both calls');
    // The handler published each stage's outcome, as a local instance does, under its environment's id.
    const published = await waitUntil('the Lambda stage events', 5_000, () => {
      const e = stageEvents.filter((x) => x.worker === cold.instanceId);
      return e.length >= 2 ? e : undefined;
    });
    assert.deepEqual(
      published.map((e) => [e.type, e.backend, e.stage]),
      [
        ['stage.continued', 'faas', 1],
        ['stage.continued', 'faas', 1],
      ],
    );
    const seen = platform.list().find((i) => i.instanceId === cold.instanceId);
    assert.equal(seen?.invocations, 2);
    assert.equal(seen?.memoryMb, DEFAULT_MEMORY_MB);

    // The activation stage 1 handed on runs on stage 2's own function, with its own memory.
    assert.ok(warm.output.activation);
    const s2 = await invoke({ model: MODEL, stage: 2 }, stageInput(2, warm.output.activation), callContext(2));
    assert.equal(s2.memoryMb, STAGE2_MEMORY_MB);
    assert.equal(s2.output.stage, 2);
  });

  test('a fused run (stages 1-4, one invocation) returns every stage the local fused code path returns', async () => {
    const call = callContext(1);
    const local = okOutput(
      await localRun(localFused, { ...stageInput(1, image1()), runLast: STAGES } as StageInput, call),
    );
    const inv = await invoke({ model: MODEL, stage: 1, lastStage: STAGES }, stageInput(1, image1()), callContext(1));
    assert.ok(inv.stages && local.stages);
    assert.ok(inv.stages.length >= 2, `the run went past stage 1 (${inv.stages.length} stages)`);
    assert.equal(inv.stages.length, local.stages.length, 'the run stopped at the same stage');
    for (let i = 0; i < inv.stages.length; i++) {
      await assertSameOutput(inv.stages[i]!, local.stages[i]!, `fused stage ${i + 1}`);
    }
    assert.deepEqual(inv.output, inv.stages[inv.stages.length - 1]);
    assert.equal(inv.memoryMb, STAGE2_MEMORY_MB, 'the fused function has its hungriest stage’s memory');
    assert.equal(inv.coldStart, true);
  });

  test('beyond the concurrency, Lambda’s 429 is FunctionThrottledError (retryable), and a throttle fact is billed', async () => {
    // Three calls to a function with no environment yet: two start (cold, hundreds of ms), the third finds both in
    // flight and is refused.
    const results = await Promise.allSettled(
      [0, 1, 2].map(() =>
        invoke({ model: MODEL, stage: 3 }, stageInput(3, inlineTensor(new Float32Array(1), [1])), callContext(3)),
      ),
    );
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error) : undefined));
    const throttled = reasons.filter((e) => e instanceof FunctionThrottledError);
    assert.equal(throttled.length, 1, `exactly one call throttled: ${reasons.map((e) => e?.name).join(', ')}`);
    assert.match(throttled[0]!.message, /serflow-mnist-ee-s3.*ReservedFunctionConcurrentInvocationLimitExceeded/);
    assert.equal(endpoint.statusCounts[429], 1);
    // The two that ran got an input stage 3 cannot take (a 1-element tensor): a named, non-retryable failure each.
    const ranBadly = reasons.filter((e) => e instanceof LambdaFunctionError);
    assert.equal(ranBadly.length, 2, `two calls ran: ${reasons.map((e) => e?.name).join(', ')}`);
    for (const e of ranBadly) assert.equal(e.type, 'InvalidInputError');
    ranFailed += ranBadly.length;
  });

  test('bad input: the handler’s failure comes back as LambdaFunctionError InvalidInputError, non-retryable, billed', async () => {
    const bad = stageInput(1, inlineTensor(new Float32Array(27 * 28), [1, 1, 28, 27]));
    await assert.rejects(platform.invoke({ model: MODEL, stage: 1 }, bad, callContext(1)), (err: Error) => {
      assert.ok(err instanceof LambdaFunctionError, `${err.name}: ${err.message}`);
      assert.equal(err.type, 'InvalidInputError');
      assert.equal(err.nonRetryable, true);
      assert.equal(err.functionError, undefined, 'a failure the handler described, not a crash');
      assert.match(err.message, /stage 1 input/);
      return true;
    });
    ranFailed++;
  });

  test('an event that is not a function request gets InvalidInputError naming each bad field', async () => {
    const out = await client.send(
      new InvokeCommand({
        FunctionName: 'serflow-mnist-ee-s1',
        LogType: 'Tail',
        Payload: Buffer.from(JSON.stringify({ input: { stage: 'one' }, call: {} })),
      }),
    );
    assert.equal(out.FunctionError, undefined);
    const reply = JSON.parse(Buffer.from(out.Payload!).toString()) as LambdaFunctionReply;
    assert.equal(reply.ok, false);
    assert.ok(!reply.ok);
    assert.equal(reply.error.type, 'InvalidInputError');
    assert.equal(reply.error.nonRetryable, true);
    assert.match(reply.error.message, /input\.stage: expected number, got string/);
    assert.match(reply.error.message, /call\.workflowId: expected string, got missing/);
  });

  test('a function that cannot start is a function error (Unhandled): LambdaFunctionError naming the cause, retryable', async () => {
    await assert.rejects(
      platform.invoke(
        { model: MODEL, stage: 4 },
        stageInput(4, inlineTensor(new Float32Array(1), [1])),
        callContext(4),
      ),
      (err: Error) => {
        assert.ok(err instanceof LambdaFunctionError, `${err.name}: ${err.message}`);
        assert.equal(err.functionError, 'Unhandled');
        assert.equal(err.type, 'LambdaEnvironmentError');
        assert.equal(err.nonRetryable, false);
        assert.match(err.message, /NATS_URL/);
        return true;
      },
    );
    ranFailed++;
  });

  test('a function that is not deployed: LambdaInvokeError naming it (not billed)', async () => {
    await assert.rejects(
      platform.invoke({ model: MODEL, stage: 1, lastStage: 2 }, stageInput(1, image1()), callContext(1)),
      (err: Error) => {
        assert.ok(err instanceof LambdaInvokeError, `${err.name}: ${err.message}`);
        assert.match(err.message, /serflow-mnist-ee-s1-2.*Function not found/);
        return true;
      },
    );
  });

  test('billing: one faas.invoked per invocation that ran, with its REPORT facts; one faas.instance.started per environment', async () => {
    // Calls that ran and failed are billed too.
    const expectedInvoked = ran.length + ranFailed;
    const invoked = await waitUntil('the billing facts', 10_000, () => {
      const e = billing.filter((b) => b.type === 'faas.invoked');
      return e.length >= expectedInvoked ? e : undefined;
    });
    assert.equal(invoked.length, expectedInvoked);
    for (const inv of ran) {
      const e = invoked.find(
        (b) => b.instanceId === inv.instanceId && b.durationMs === inv.durationMs && b.initMs === inv.initMs,
      );
      assert.ok(e, `a faas.invoked event for ${inv.instanceId} (${inv.durationMs} ms)`);
      assert.equal(e.memoryMb, inv.memoryMb);
      assert.equal(e.coldStart, inv.coldStart);
    }
    const fused = invoked.filter((b) => b.lastStage === STAGES);
    assert.equal(fused.length, 1, 'the fused run is one invocation, naming its last stage');
    assert.equal(
      invoked.filter((b) => b.coldStart).length,
      new Set(invoked.filter((b) => b.coldStart).map((b) => b.instanceId)).size,
    );
    const started = billing.filter((b) => b.type === 'faas.instance.started');
    const environments = ['s1', 's2', 's3', 's1-4'].reduce(
      (n, s) => n + endpoint.environments(`serflow-mnist-ee-${s}`),
      0,
    );
    assert.equal(started.length, environments, 'each environment that answered started once');
    const throttled = billing.filter((b) => b.type === 'faas.throttled');
    assert.equal(throttled.length, 1);
    assert.equal(throttled[0]!.stage, 3);
  });
});

describe('serflow package lambda: the zip runs behind the Invoke endpoint', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-lambda-pkg-'));
  let nats: StartedNatsServer;
  let pkg: LambdaPackage;

  before(async () => {
    nats = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'jetstream'),
      logDir: dir,
      clientName: 'aws-lambda-package-test',
      readyTimeoutMs: 10_000,
    });
    await ensureNatsResources(nats.nc, compileConfig({ homeDir: dir }));
  });

  after(async () => {
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the command builds the zip, the Dockerfile and functions.json', async () => {
    const run = promisify(execFile);
    const bin = path.join(__dirname, '..', '..', '..', 'bin', 'serflow.js');
    const { stdout } = await run(
      process.execPath,
      [bin, 'package', 'lambda', '--model', MODEL, '--out', dir, '--json'],
      {
        cwd: dir,
        env: { ...process.env, SERFLOW_HOME: dir },
      },
    );
    pkg = JSON.parse(stdout) as LambdaPackage;
    assert.equal(pkg.zipFile, path.join(dir, MODEL, 'lambda.zip'));
    assert.ok(pkg.zipBytes > 0 && pkg.zipBytes < 60 * 1024 * 1024, `zip ${pkg.zipBytes} bytes`);
    assert.ok(pkg.packages.includes('onnxruntime-node') && pkg.packages.includes('nats'));
    for (const heavy of ['@temporalio/worker', '@temporalio/client', 'vega', 'piscina', '@aws-sdk/client-lambda']) {
      assert.ok(!pkg.packages.includes(heavy), `${heavy} is not shipped`);
    }
    assert.match(fs.readFileSync(pkg.dockerfile, 'utf8'), /^FROM public\.ecr\.aws\/lambda\/nodejs:20$/m);
    const functions = JSON.parse(fs.readFileSync(pkg.functionsFile, 'utf8')) as Array<{
      name: string;
      handler: string;
    }>;
    assert.deepEqual(
      functions.map((f) => f.name),
      [
        'serflow-mnist-ee-s1',
        'serflow-mnist-ee-s2',
        'serflow-mnist-ee-s3',
        'serflow-mnist-ee-s4',
        'serflow-mnist-ee-s1-4',
      ],
    );
    assert.ok(functions.every((f) => f.handler === 'lib/deploy/aws/lambda-handler.handler'));

    const names = await new Promise<string[]>((resolve, reject) => {
      yauzl.open(pkg.zipFile, { lazyEntries: true }, (err, zip) => {
        if (err) return reject(err);
        const out: string[] = [];
        zip.on('entry', (e: yauzl.Entry) => {
          out.push(e.fileName);
          zip.readEntry();
        });
        zip.on('end', () => resolve(out));
        zip.on('error', reject);
        zip.readEntry();
      });
    });
    for (const f of [
      'lib/deploy/aws/lambda-handler.js',
      'lib/workers/function-instance.js',
      `models/${MODEL}/manifest.json`,
      `models/${MODEL}/profile.json`,
      ...[1, 2, 3, 4].map((k) => `models/${MODEL}/stage-${k}.onnx`),
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    ]) {
      assert.ok(names.includes(f), `${f} is in the zip`);
    }
    assert.ok(!names.some((n) => n.includes('/darwin/') || n.includes('/win32/')), 'no other platform’s binaries');
    assert.ok(!names.some((n) => n.startsWith('lib/test/') || n.startsWith('lib/cli/')), 'no tests, no CLI');
    assert.ok(!names.some((n) => n.startsWith('models/mnist-ee-heavy/')), 'only this model');
  });

  test('the unzipped artifact’s handler serves a stage on its own (no project node_modules around it)', async () => {
    assert.ok(pkg, 'the package was built');
    const root = path.join(dir, 'unzipped');
    await promisify(execFile)('unzip', ['-q', pkg.zipFile, '-d', root]);
    const endpoint = await startLambdaEndpoint({
      concurrency: 1,
      logDir: path.join(dir, 'logs'),
      functions: [
        {
          name: 'serflow-mnist-ee-s1',
          handlerFile: path.join(root, 'lib', 'deploy', 'aws', 'lambda-handler.js'),
          memoryMb: DEFAULT_MEMORY_MB,
          env: { SERFLOW_MODEL: MODEL, SERFLOW_STAGE: '1', NATS_URL: nats.url },
        },
      ],
    });
    const config = compileConfig({ homeDir: dir, aws: { endpoint: endpoint.url } });
    const billingEvents: BillingEvent[] = [];
    const platform = createLambdaPlatform({
      config,
      billing: {
        publish: async (f) => void billingEvents.push({ v: 1, timeScale: 1, ...f } as BillingEvent),
        pending: 0,
        lost: 0,
        close: async () => undefined,
      },
      client: createLambdaClient(config, { credentials: FAKE_CREDENTIALS }),
    });
    try {
      const { images } = loadSplit(loadManifest(MODEL), 'test');
      const inv = await platform.invoke(
        { model: MODEL, stage: 1 },
        stageInput(1, inlineTensor(images[0]!, [1, 1, 28, 28])),
        callContext(1),
      );
      assert.equal(inv.coldStart, true);
      assert.equal(inv.output.stage, 1);
      assert.ok(inv.output.confidence > 0 && inv.output.confidence <= 1);
      assert.equal(billingEvents.filter((e) => e.type === 'faas.invoked').length, 1);
    } finally {
      await platform.close();
      await endpoint.stop();
    }
  });
});
