/**
 * `cloud: kubernetes` end to end through the real stack: the cloud agent picks its adapters by the config switch
 * (deploy/cloud-providers.ts), so `serflow pools scale` sets a stage Deployment's replicas through its scale
 * subresource (a local API server that implements it, with the ReplicaSet controller's pods), and queries started
 * by the SDK run serverless on the in-cluster function platform (`kubernetes.functions: in-cluster`). The fake
 * API's pods run nothing, so no stage is routed to a VM here; the pods' drain and billing are the provider's
 * contract test's (kubernetes-provider.test.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { InferenceResult } from '../../common/contracts';
import { sampleIndices } from '../../common/stats';
import {
  APP_LABEL,
  COMPONENT_LABEL,
  MODEL_LABEL,
  STAGE_LABEL,
  STAGE_WORKER_COMPONENT,
} from '../../deploy/kubernetes/names';
import { callPoolsApi } from '../../infra/pools-api';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api';
import { startTestStack, type TestStack } from '../helpers/test-stack';
import { waitUntil } from '../helpers/wait-until';

const MODEL = 'mnist-ee';
const STAGES = loadManifest(MODEL).stages.length;
const NS = 'serflow-e2e';
const TOKEN = 'e2e-token';
const QUERIES = 4;

describe('cloud: kubernetes through the real stack (scale subresource API + in-cluster functions)', () => {
  let dir: string;
  let fake: FakeKubeApi;
  let t: TestStack;
  const results: InferenceResult[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-cloud-k8s-'));
    fs.writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
    fake = await startFakeKubeApi({ namespace: NS, token: TOKEN });
    for (let stage = 1; stage <= STAGES; stage++) {
      fake.addDeployment(`serflow-${MODEL}-stage-${stage}`, {
        [APP_LABEL]: 'serflow',
        [COMPONENT_LABEL]: STAGE_WORKER_COMPONENT,
        [MODEL_LABEL]: MODEL,
        [STAGE_LABEL]: String(stage),
      });
    }
    t = await startTestStack({
      cloud: 'kubernetes',
      kubernetes: {
        namespace: NS,
        apiServer: fake.url,
        serviceAccountDir: dir,
        pollIntervalMs: 200,
        functions: 'in-cluster',
      },
      vm: { initialPerStage: 0 },
      routing: { plan: 'all-faas' },
      stages: { timeoutMs: 60_000 },
    });
    const split = loadSplit(loadManifest(MODEL), 'test');
    for (const i of sampleIndices(split.images.length, QUERIES, 23)) {
      results.push(await t.client.infer(split.images[i]!, { model: MODEL, threshold: 0.9 }));
    }
  });

  after(async () => {
    await t?.stop();
    await fake?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('queries run serverless on the in-cluster function platform', () => {
    assert.equal(results.length, QUERIES);
    for (const r of results) {
      assert.ok(r.stages.length >= 1);
      assert.ok(
        r.stages.every((s) => s.backend === 'faas' && s.instanceId !== undefined),
        `ran on ${r.stages.map((s) => `${s.backend}:${s.instanceId}`).join(',')}`,
      );
    }
  });

  test('`serflow pools scale` sets the stage Deployment through its scale subresource, and lists its pods', async () => {
    const name = `serflow-${MODEL}-stage-3`;
    const reply = await callPoolsApi(t.nc, { op: 'scale', model: MODEL, stage: 3, vms: 2 }, 60_000);
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.equal(fake.deployments.get(name)?.replicas, 2);
    assert.ok(
      fake.requests.some((r) => /^(PATCH|PUT) .*\/deployments\/serflow-mnist-ee-stage-3\/scale$/.test(r)),
      'the replicas were set through the scale subresource',
    );
    const listed = await waitUntil('2 pods of stage 3 in the pool list', 30_000, async () => {
      const now = await callPoolsApi(t.nc, { op: 'list' }, 60_000);
      assert.ok(now.ok, JSON.stringify(now));
      const pods = now.vms.filter((v) => v.model === MODEL && v.stage === 3 && v.state !== 'terminated');
      return pods.length === 2 ? pods : undefined;
    });
    for (const vm of listed) assert.ok(fake.pods.has(vm.id), `${vm.id} is a pod of the API`);
  });
});
