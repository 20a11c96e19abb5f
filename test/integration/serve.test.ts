/**
 * `serflow serve` on a real stack (Temporal dev server, nats-server, workflow worker, stage VMs), driven with real
 * HTTP requests: health and metadata, inference whose answers equal the direct in-process ONNX run, a request id
 * sent twice being one workflow, every error class with its status and a body naming the field, the in-flight bound,
 * and a graceful stop, in-process and as the real CLI (SIGTERM with a request in flight).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startOipServer, type OipServer } from '../../cli/serve-command';
import { PROJECT_ROOT } from '../../common/paths';
import { inferenceWorkflowId } from '../../common/naming';
import { freePort } from '../../deploy/local/processes';
import { connectNats } from '../../infra/nats';
import { listWorkers } from '../../infra/worker-status';
import { loadSplit, type DatasetSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { createDirectPipeline, type DirectPipeline } from '../../models/runtime/direct-pipeline';
import { TEST_CONFIG, startTestStack, type TestStack } from '../helpers/test-stack';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
/** A stage nobody serves fails its query after this long (StageUnavailableError): the slow requests below. */
const QUEUE_TIMEOUT_MS = 2_000;
/** Small bounds, so the tests can cross them. */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_IN_FLIGHT = 2;

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(base: string, method: string, route: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${base}${route}`, {
    method,
    ...(body === undefined
      ? {}
      : {
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const inferBody = (image: Float32Array, extra: Record<string, unknown> = {}, parameters?: Record<string, unknown>) => ({
  inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(image) }],
  ...(parameters ? { parameters } : {}),
  ...extra,
});

function outputOf(reply: Reply, name: string): number {
  const outputs = reply.body.outputs as Array<{ name: string; data: number[] }>;
  const o = outputs.find((x) => x.name === name);
  assert.ok(o, `output ${name} in ${JSON.stringify(reply.body)}`);
  return o.data[0]!;
}

describe('serflow serve: the Open Inference Protocol v2 over HTTP', { timeout: 300_000 }, () => {
  let s: TestStack;
  let server: OipServer;
  let base: string;
  let direct: DirectPipeline;
  let split: DatasetSplit;
  /** A test image that does not exit at stage 1 even at threshold 1: it needs stage 2. */
  let needsStage2: Float32Array;

  before(async () => {
    s = await startTestStack({ stages: { ...TEST_CONFIG.stages, queueTimeoutMs: QUEUE_TIMEOUT_MS } });
    server = await startOipServer({
      client: s.client,
      nc: s.nc,
      config: s.config,
      host: '127.0.0.1',
      port: await freePort(),
      maxBodyBytes: MAX_BODY_BYTES,
      maxInFlight: MAX_IN_FLIGHT,
    });
    base = server.url;
    direct = await createDirectPipeline(MODEL);
    split = loadSplit(loadManifest(MODEL), 'test');
    for (const image of split.images) {
      const r = await direct.run(image, 1, 1);
      if (r.confidence < 0.99) {
        needsStage2 = image;
        break;
      }
    }
    assert.ok(needsStage2, 'a test image with stage-1 confidence below 0.99');
  });

  after(async () => {
    await server?.close();
    await direct?.close();
    await s?.stop();
  });

  test('live, ready, server and model metadata', async () => {
    assert.deepEqual(await call(base, 'GET', '/v2/health/live').then((r) => [r.status, r.body]), [200, { live: true }]);
    assert.deepEqual(await call(base, 'GET', '/v2/health/ready').then((r) => [r.status, r.body]), [
      200,
      { ready: true },
    ]);
    const ready = await call(base, 'GET', `/v2/models/${MODEL}/ready`);
    assert.deepEqual([ready.status, ready.body], [200, { name: MODEL, ready: true }]);
    const serverMeta = await call(base, 'GET', '/v2');
    assert.equal(serverMeta.status, 200);
    assert.equal(serverMeta.body.name, 'serflow');
    const meta = await call(base, 'GET', `/v2/models/${MODEL}`);
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body, {
      name: MODEL,
      platform: 'serflow_early_exit_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] }],
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [1] },
        { name: 'confidence', datatype: 'FP32', shape: [1] },
      ],
    });
  });

  test('an unknown model is 404 on metadata, ready and infer, naming the model and the available ones', async () => {
    for (const [method, route, body] of [
      ['GET', '/v2/models/nope', undefined],
      ['GET', '/v2/models/nope/ready', undefined],
      ['POST', '/v2/models/nope/infer', inferBody(split.images[0]!)],
    ] as const) {
      const r = await call(base, method, route, body);
      assert.equal(r.status, 404, `${method} ${route}`);
      assert.match(String(r.body.error), /^UnknownModelError: unknown model "nope".*available models: .*mnist-ee/);
    }
  });

  test('inference answers equal the direct in-process ONNX run (label, confidence, exit stage)', async () => {
    for (const [k, image] of split.images.slice(0, 6).entries()) {
      const want = await direct.run(image);
      const r = await call(base, 'POST', `/v2/models/${MODEL}/infer`, inferBody(image, { id: `direct-${k}` }));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.model_name, MODEL);
      assert.equal(r.body.id, `direct-${k}`);
      assert.equal(outputOf(r, 'label'), want.label, `sample ${k}: label`);
      assert.ok(Math.abs(outputOf(r, 'confidence') - want.confidence) < 1e-5, `sample ${k}: confidence`);
      const p = r.body.parameters as Record<string, unknown>;
      assert.equal(p.exitStage, want.exitStage, `sample ${k}: exit stage`);
      assert.equal(p.answerStage, want.answerStage);
      assert.ok(typeof p.latencyMs === 'number' && p.latencyMs > 0);
    }
    // parameters reach the query: maxStage 1 exits at stage 1 whatever the confidence
    const capped = await call(base, 'POST', `/v2/models/${MODEL}/infer`, inferBody(needsStage2, {}, { maxStage: 1 }));
    assert.equal(capped.status, 200, JSON.stringify(capped.body));
    assert.equal((capped.body.parameters as Record<string, unknown>).exitStage, 1);
    assert.equal(outputOf(capped, 'label'), (await direct.run(needsStage2, undefined, 1)).label);
    assert.match(String(capped.body.id), /^[0-9a-f-]{36}$/, 'without an id the server picks one and says which');
  });

  test('the same request id twice (at once, then again) is one workflow with one answer', async () => {
    const id = `twice-${Date.now()}`;
    const body = inferBody(split.images[7]!, { id });
    const [a, b] = await Promise.all([
      call(base, 'POST', `/v2/models/${MODEL}/infer`, body),
      call(base, 'POST', `/v2/models/${MODEL}/infer`, body),
    ]);
    const c = await call(base, 'POST', `/v2/models/${MODEL}/infer`, body);
    for (const r of [a, b, c]) assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(b.body, a.body, 'the concurrent retry joined the running query');
    assert.deepEqual(c.body, a.body, 'the later retry read the ended query (same latency: the same run)');
    const workflowId = inferenceWorkflowId(MODEL, id);
    const runs = await waitUntil('the workflow in visibility', 10_000, async () => {
      const found: string[] = [];
      for await (const w of s.client.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        found.push(w.runId);
      }
      return found.length > 0 ? found : undefined;
    });
    assert.equal(runs.length, 1, `one run of ${workflowId}: ${runs.join(', ')}`);
  });

  test('bad requests are 400 with an OIP error body naming the field', async () => {
    const image = split.images[0]!;
    const rows: Array<[string, unknown, RegExp]> = [
      ['not JSON', '{"inputs": [', /^InvalidInputError: body: not valid JSON/],
      [
        'the wrong datatype',
        inferBody(image, { inputs: [{ ...inferBody(image).inputs[0], datatype: 'INT64' }] }),
        /inputs\[0\]\.datatype: expected "FP32"/,
      ],
      [
        'a batch of 2',
        inferBody(image, { inputs: [{ ...inferBody(image).inputs[0], shape: [2, 1, 28, 28] }] }),
        /inputs\[0\]\.shape: expected \[1, 1, 28, 28\]/,
      ],
      [
        'too few elements',
        inferBody(image, { inputs: [{ ...inferBody(image).inputs[0], data: [0.5] }] }),
        /inputs\[0\]\.data: expected 784 elements/,
      ],
      [
        'a threshold out of range',
        inferBody(image, {}, { threshold: 2 }),
        /parameters\.threshold: expected a number in \(0, 1\]/,
      ],
      [
        'a stage the model does not have',
        inferBody(image, {}, { maxStage: 9 }),
        /parameters\.maxStage: expected a stage of mnist-ee \(1\.\.4\)/,
      ],
      ['an unknown parameter', inferBody(image, {}, { temperature: 0.5 }), /parameters: .*"temperature"/],
      ['an empty id', inferBody(image, { id: '' }), /^InvalidInputError: id: /],
    ];
    for (const [what, body, message] of rows) {
      const r = await call(base, 'POST', `/v2/models/${MODEL}/infer`, body);
      assert.equal(r.status, 400, what);
      assert.deepEqual(Object.keys(r.body), ['error'], `${what}: an OIP error body`);
      assert.match(String(r.body.error), message, what);
    }
  });

  test('a body over the limit is 413; an unknown route 404; a wrong method 405', async () => {
    const big = inferBody(split.images[0]!, {
      inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(20_000).fill(0.123456) }],
    });
    const tooLarge = await call(base, 'POST', `/v2/models/${MODEL}/infer`, big);
    assert.equal(tooLarge.status, 413);
    assert.match(
      String(tooLarge.body.error),
      /^body: \d+ bytes, above the limit of 65536 bytes \(serve\.maxBodyBytes\)$/,
    );
    const nowhere = await call(base, 'GET', '/v1/models');
    assert.equal(nowhere.status, 404);
    assert.match(String(nowhere.body.error), /no such route/);
    const wrong = await call(base, 'GET', `/v2/models/${MODEL}/infer`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    // the server still serves after all of them
    assert.equal((await call(base, 'POST', `/v2/models/${MODEL}/infer`, inferBody(split.images[1]!))).status, 200);
  });

  test('no worker for a stage is 503, the deadline 504, and past maxInFlight 503 busy at once', async () => {
    await s.stack.scaleStage(MODEL, 2, 0);
    await waitUntil('stage 2 has no worker left', 30_000, async () =>
      (await listWorkers(s.nc)).some((w) => w.model === MODEL && w.stage === 2) ? undefined : true,
    );
    const t0 = Date.now();
    const unavailable = call(base, 'POST', `/v2/models/${MODEL}/infer`, inferBody(needsStage2, {}, { threshold: 1 }));
    const late = call(
      base,
      'POST',
      `/v2/models/${MODEL}/infer`,
      inferBody(needsStage2, {}, { threshold: 1, deadlineMs: 1_000 }),
    );
    await waitUntil('two requests in flight', 5_000, () => (server.inFlight() === MAX_IN_FLIGHT ? true : undefined));
    const busy = await call(base, 'POST', `/v2/models/${MODEL}/infer`, inferBody(split.images[0]!));
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.match(
      String(busy.body.error),
      /^the server is busy: 2 inference requests in flight \(serve\.maxInFlight 2\)/,
    );
    assert.ok(Date.now() - t0 < QUEUE_TIMEOUT_MS, 'refused at once, not queued');

    const [u, l] = await Promise.all([unavailable, late]);
    assert.equal(u.status, 503, JSON.stringify(u.body));
    assert.match(String(u.body.error), /^StageUnavailableError: stage 2: no vm worker took it within 2000 ms/);
    assert.equal(l.status, 504, JSON.stringify(l.body));
    assert.match(String(l.body.error), /^QueryDeadlineExceeded: /);
  });

  test('not ready (503, saying why) when NATS is not reachable', async () => {
    const nc = await connectNats(s.stack.info.natsUrl, 'serflow-test-closed');
    await nc.close();
    const other = await startOipServer({ client: s.client, nc, config: s.config, host: '127.0.0.1', port: 0 });
    try {
      const r = await call(other.url, 'GET', '/v2/health/ready');
      assert.deepEqual([r.status, r.body.ready], [503, false]);
      assert.match(String(r.body.error), /^not ready: NATS is not reachable/);
      assert.equal((await call(other.url, 'GET', '/v2/health/live')).status, 200, 'live all the same');
    } finally {
      await other.close();
    }
  });

  test('close: stops accepting, answers the request in flight, then resolves', async () => {
    const inFlight = call(base, 'POST', `/v2/models/${MODEL}/infer`, inferBody(needsStage2, {}, { threshold: 1 }));
    await waitUntil('a request in flight', 5_000, () => (server.inFlight() === 1 ? true : undefined));
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await assert.rejects(fetch(`${base}/v2/health/live`), 'a new connection is refused while closing');
    const r = await inFlight;
    assert.equal(r.status, 503, 'the in-flight request got its answer (stage 2 has no worker)');
    assert.match(String(r.body.error), /^StageUnavailableError/);
    await closing;
    assert.ok(closed);
  });

  test('the real CLI: `serflow serve` answers, and SIGTERM finishes the request in flight before it exits 0', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'bin', 'serflow.js'), 'serve', '--port', String(port)],
      {
        cwd: s.dir,
        env: {
          ...process.env,
          SERFLOW_HOME: s.dir,
          TEMPORAL_ADDRESS: s.stack.info.temporalAddress,
          NATS_URL: s.stack.info.natsUrl,
          SERFLOW_CONFIG_JSON: JSON.stringify({ stages: { queueTimeoutMs: QUEUE_TIMEOUT_MS } }),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitUntil(`serflow serve listening (stderr: ${err})`, 30_000, () =>
        out.includes(`on ${url}`) ? true : undefined,
      );
      assert.equal((await call(url, 'GET', '/v2/health/ready')).status, 200);
      const good = await call(url, 'POST', `/v2/models/${MODEL}/infer`, inferBody(split.images[2]!));
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal(outputOf(good, 'label'), (await direct.run(split.images[2]!)).label);

      const id = `sigterm-${Date.now()}`;
      const slow = call(url, 'POST', `/v2/models/${MODEL}/infer`, inferBody(needsStage2, { id }, { threshold: 1 }));
      const handle = s.client.temporal.workflow.getHandle(inferenceWorkflowId(MODEL, id));
      await waitUntil('the slow request started its workflow', 5_000, () => handle.describe());
      child.kill('SIGTERM');
      const r = await slow;
      assert.equal(r.status, 503, `answered after SIGTERM: ${JSON.stringify(r.body)}`);
      assert.match(String(r.body.error), /^StageUnavailableError/);
      assert.equal(await exited, 0, `exit code (stderr: ${err})`);
      assert.match(err, /SIGTERM: stopping/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
