/**
 * client/query-builder.ts with the shipped mnist-ee manifest and fakes for the plan source and the claim-check
 * store: the query carries the descriptor `describeModel` would have resolved (the same builder,
 * models/descriptor.ts), the routing plan published or all-VM without one, the stage settings of the client's
 * config; a wrong query is refused with InferenceFailedError of the type and message the workflow would have
 * given, before anything is uploaded.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createModelActivities } from '../../../activities/model-activities';
import { buildInferenceQuery, InferenceFailedError, type QueryBuilderDeps } from '../../../client/query-builder';
import { RoutingPlans } from '../../../client/routing-plans';
import { compileConfig } from '../../../common/config';
import type { TensorRef } from '../../../common/contracts';
import { checkDescriptor } from '../../../common/descriptor-checks';
import { allVmPlan, planFromSpec, type StoredPlan } from '../../../common/routing';
import { buildModelDescriptor, FAAS_STAGE_MAX_ATTEMPTS } from '../../../models/descriptor';
import { loadManifest } from '../../../models/manifest';

const MODEL = 'mnist-ee';
const manifest = loadManifest(MODEL);
const config = compileConfig({
  stages: { timeoutMs: 3_000, maxAttempts: 4, heartbeatTimeoutMs: 1_500, queueTimeoutMs: 20_000 },
  faas: { coldStartExtraMs: 2_000 },
  timeScale: 10,
});
const image = Float32Array.from({ length: 784 }, (_, i) => (i % 7) / 7);

/** Deps with `plan` published for every model; `uploads` records what went to the claim-check store. */
function fakeDeps(plan: StoredPlan | null, uploads: string[] = []): QueryBuilderDeps {
  return {
    config,
    manifest: (name) => {
      if (name !== MODEL) return loadManifest(name); // throws UnknownModelError naming the available models
      return manifest;
    },
    routingPlan: async () => plan,
    activationStore: async () => ({
      toRef: async (data: Float32Array, dims: number[], key: string): Promise<TensorRef> => {
        uploads.push(key);
        return { kind: 'object', dims, bucket: 'serflow-activations', key, bytes: data.byteLength };
      },
    }),
  };
}

describe('buildInferenceQuery: the descriptor', () => {
  test('is the one describeModel resolves for the same query (one builder for both)', async () => {
    const plan = planFromSpec('vm-prefix:2', MODEL, 4, 1_000, 250);
    const query = await buildInferenceQuery(image, { threshold: 0.9 }, 'q-1', fakeDeps(plan));
    const lookup = createModelActivities({
      config,
      manifest: () => manifest,
      routingPlan: async () => plan,
    });
    const { descriptor, ...withoutDescriptor } = query;
    assert.deepEqual(descriptor, await lookup.describeModel(withoutDescriptor));
    assert.deepEqual(descriptor, buildModelDescriptor(manifest, config, plan));
  });

  test('has the model shape of the manifest, the stage settings of the config and the published plan', async () => {
    const plan = planFromSpec('shares:1,1,0.5,0', MODEL, 4, 1_000);
    const { descriptor } = await buildInferenceQuery(image, {}, 'q-2', fakeDeps(plan));
    assert.deepEqual(descriptor, {
      model: MODEL,
      stages: 4,
      defaultThreshold: manifest.defaultThreshold,
      inputDims: [1, 1, 28, 28],
      inlineActivationMaxBytes: config.activations.inlineMaxBytes,
      stageTimeoutMs: 3_000,
      stageMaxAttempts: 4,
      stageHeartbeatTimeoutMs: 1_500,
      faasStageTimeoutMs: 3_000 + 2_000 / 10, // the cold-start allowance passes at the configured time scale
      faasStageMaxAttempts: FAAS_STAGE_MAX_ATTEMPTS,
      stageQueueTimeoutMs: 20_000,
      routing: plan,
    });
    assert.equal(checkDescriptor(descriptor, MODEL), descriptor);
  });

  test('routes every stage to its VM pool when no plan is published', async () => {
    const { descriptor } = await buildInferenceQuery(image, {}, 'q-3', fakeDeps(null));
    assert.deepEqual(descriptor?.routing, allVmPlan(MODEL, 4));
  });

  const ALL_SERVERLESS = [1, 2, 3, 4].map((stage) => ({ stage, vmShare: 0 }));

  test('a published plan that does not fit the model is reported and every stage runs serverless', async (t: TestContext) => {
    const warn = t.mock.method(console, 'warn', () => undefined);
    const broken = { ...allVmPlan(MODEL, 4), stages: [{ stage: 7, vmShare: 1 }] };
    const { descriptor } = await buildInferenceQuery(image, {}, 'q-4', fakeDeps(broken));
    assert.deepEqual(descriptor?.routing.stages, ALL_SERVERLESS);
    assert.equal(descriptor?.routing.fused, undefined);
    assert.equal(warn.mock.callCount(), 1);
    assert.match(
      String(warn.mock.calls[0]?.arguments[0]),
      /^routing plan of mnist-ee not used \(every stage serverless\): plan for mnist-ee: stages\[0\]\.stage: 7 is not a stage/,
    );
  });

  test('a stored value the store rejected runs every stage serverless, with the reason reported', async (t: TestContext) => {
    const warn = t.mock.method(console, 'warn', () => undefined);
    const rejected = { model: MODEL, rejected: 'plan for mnist-ee: expected a plan object, got 5' };
    const { descriptor } = await buildInferenceQuery(image, {}, 'q-5', fakeDeps(rejected));
    assert.deepEqual(descriptor?.routing.stages, ALL_SERVERLESS);
    assert.match(String(warn.mock.calls[0]?.arguments[0]), /expected a plan object, got 5$/);
  });
});

describe('buildInferenceQuery: the query', () => {
  test('keeps the options and puts a small input inline', async () => {
    const query = await buildInferenceQuery(image, { threshold: 0.8, maxStage: 3, sloMs: 250 }, 'q-5', fakeDeps(null));
    assert.equal(query.queryId, 'q-5');
    assert.equal(query.model, MODEL);
    assert.deepEqual([query.threshold, query.maxStage, query.sloMs], [0.8, 3, 250]);
    assert.equal(query.input.kind, 'inline');
    assert.deepEqual(query.input.dims, [1, 1, 28, 28]);
  });

  test('claim-checks an input over the inline limit', async () => {
    const uploads: string[] = [];
    const query = await buildInferenceQuery(image, { inlineActivationMaxBytes: 0 }, 'q-6', fakeDeps(null, uploads));
    assert.deepEqual(uploads, ['input/serflow-mnist-ee-q-6']);
    assert.equal(query.input.kind, 'object');
  });

  const refused: Array<{ what: string; input?: Float32Array; options: object; type: string; message: RegExp }> = [
    {
      what: 'an unknown model',
      options: { model: 'no-such-model', dims: [1, 1, 28, 28] },
      type: 'UnknownModelError',
      message: /unknown model "no-such-model".*available models: .*mnist-ee/,
    },
    {
      what: 'a stage cap beyond the model',
      options: { maxStage: 9 },
      type: 'UnknownStageError',
      message: /^maxStage 9 is out of range: model mnist-ee has stages 1\.\.4$/,
    },
    {
      what: 'a threshold out of range',
      options: { threshold: 1.5 },
      type: 'InvalidInputError',
      message: /^threshold 1\.5 is out of range/,
    },
    {
      what: 'a threshold that is not a number',
      options: { threshold: '0.9' },
      type: 'InvalidInputError',
      message: /^threshold: expected a number/,
    },
    { what: 'a zero SLO', options: { sloMs: 0 }, type: 'InvalidInputError', message: /^sloMs: expected a positive/ },
    {
      what: 'an input of the wrong shape',
      input: new Float32Array(28 * 27),
      options: { dims: [1, 1, 28, 27] },
      type: 'InvalidInputError',
      message: /dimension 3 is 27, expected 28/,
    },
    {
      what: 'an input of the wrong rank',
      options: { dims: [1, 784] },
      type: 'InvalidInputError',
      message: /expected a tensor of rank 4/,
    },
    {
      what: 'too few values',
      input: new Float32Array(700),
      options: {},
      type: 'InvalidInputError',
      message: /needs 784 values, got 700/,
    },
    {
      what: 'a NaN',
      input: Float32Array.from({ length: 784 }, (_, k) => (k === 100 ? Number.NaN : 0.5)),
      options: {},
      type: 'InvalidInputError',
      message: /flat index 100 is NaN/,
    },
  ];
  for (const c of refused) {
    test(`refuses ${c.what}: InferenceFailedError ${c.type}, nothing uploaded`, async () => {
      const uploads: string[] = [];
      // A zero inline limit: an accepted input would be uploaded, so no upload shows it was refused first.
      const options = { inlineActivationMaxBytes: 0, ...c.options };
      await assert.rejects(buildInferenceQuery(c.input ?? image, options, 'q-bad', fakeDeps(null, uploads)), (err) => {
        assert.ok(err instanceof InferenceFailedError, String(err));
        assert.equal(err.queryId, 'q-bad');
        assert.equal(err.type, c.type);
        assert.match(err.message, c.message);
        return true;
      });
      assert.deepEqual(uploads, []);
    });
  }

  test('leaves an infrastructure error as it is (not a refused query)', async () => {
    const deps = { ...fakeDeps(null), routingPlan: () => Promise.reject(new Error('KV unavailable')) };
    await assert.rejects(buildInferenceQuery(image, {}, 'q-7', deps), (err) => {
      assert.ok(!(err instanceof InferenceFailedError));
      assert.match((err as Error).message, /KV unavailable/);
      return true;
    });
  });
});

describe('RoutingPlans', () => {
  test('without a NATS URL, no plan (every stage on VMs), and nothing to close', async () => {
    const plans = new RoutingPlans();
    assert.equal(await plans.get(MODEL), null);
    await plans.close();
  });

  test('a failed connection is not remembered: the next query tries again', async () => {
    let attempts = 0;
    const plans = new RoutingPlans(() => {
      attempts++;
      return Promise.reject(new Error('cannot connect to NATS'));
    });
    await assert.rejects(plans.get(MODEL), /cannot connect to NATS/);
    await assert.rejects(plans.get(MODEL), /cannot connect to NATS/);
    assert.equal(attempts, 2);
    await plans.close();
  });
});
