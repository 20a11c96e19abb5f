/**
 * The Kubernetes VM provider (deploy/kubernetes/deployment-provider.ts) against a local fake of the API server that
 * implements the scale subresource, pod list/patch/delete and the ReplicaSet controller's choices
 * (test/helpers/fake-kube-api.ts): scaling up and down through the scale subresource, the chosen pod drained,
 * list() following the pods, the billing facts of their lifecycle, and named errors for bad answers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { computeLedger } from '../../billing/ledger';
import { createBillingPublisher, type BillingFact, type BillingPublisher } from '../../billing/publisher';
import { parseBillingEvent } from '../../common/billing-events';
import { compileConfig } from '../../common/config';
import type { VmPoolProvider } from '../../infra/providers';
import {
  createKubernetesVmProvider,
  InvalidScaleError,
  UnknownVmError,
} from '../../deploy/kubernetes/deployment-provider';
import {
  KubernetesApiError,
  KubernetesCredentialsError,
  KubernetesResponseError,
  resolveKubeApiTarget,
} from '../../deploy/kubernetes/kube-api';
import { APP_LABEL, COMPONENT_LABEL, MODEL_LABEL, STAGE_LABEL } from '../../deploy/kubernetes/names';
import { startNatsServer, type StartedNatsServer } from '../../deploy/local/nats-server';
import { freePort, stopPid } from '../../deploy/local/processes';
import { ensureNatsResources } from '../../infra/nats';
import { waitForBillingEvents } from '../helpers/billing-events';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api';
import { waitUntil } from '../helpers/wait-until';

const NS = 'serflow-test';
const TOKEN = 'test-token';
const MODEL = 'mnist-ee';

function recordingBilling(): BillingPublisher & { facts: BillingFact[] } {
  const facts: BillingFact[] = [];
  return {
    facts,
    async publish(fact) {
      facts.push(fact);
    },
    pending: 0,
    lost: 0,
    async close() {},
  };
}

const stageLabels = (stage: number) => ({
  [APP_LABEL]: 'serflow',
  [COMPONENT_LABEL]: 'stage-worker',
  [MODEL_LABEL]: MODEL,
  [STAGE_LABEL]: String(stage),
});

describe('Kubernetes VM provider', () => {
  let dir: string;
  let fake: FakeKubeApi;
  let billing: ReturnType<typeof recordingBilling>;
  let logs: string[];
  let provider: VmPoolProvider | undefined;

  const config = () =>
    compileConfig({
      cloud: 'kubernetes',
      kubernetes: {
        namespace: NS,
        apiServer: fake.url,
        serviceAccountDir: dir,
        pollIntervalMs: 100,
        requestTimeoutMs: 2_000,
        launchWaitMs: 3_000,
        instanceType: 'k8s-pod-1cpu',
      },
    });
  const start = async () =>
    (provider = await createKubernetesVmProvider({ config: config(), billing, log: (l) => logs.push(l) }));
  const live = (stage: number) => provider!.list({ model: MODEL, stage }).filter((v) => v.state !== 'terminated');

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-k8s-'));
    fs.writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    fake = await startFakeKubeApi({ namespace: NS, token: TOKEN });
    fake.addDeployment('serflow-mnist-ee-stage-1', stageLabels(1));
    fake.addDeployment('serflow-mnist-ee-stage-2', stageLabels(2));
    billing = recordingBilling();
    logs = [];
    provider = undefined;
  });
  afterEach(async () => {
    await provider?.close();
    await fake.close();
  });

  test('scaleTo up sets the replicas through the scale subresource; list() follows the pods to ready', async () => {
    await start();
    await provider!.scaleTo(MODEL, 1, 3);
    assert.equal(fake.deployments.get('serflow-mnist-ee-stage-1')!.replicas, 3);
    assert.ok(
      fake.requests.includes(`PATCH /apis/apps/v1/namespaces/${NS}/deployments/serflow-mnist-ee-stage-1/scale`),
    );
    const ready = await waitUntil('3 ready VMs in stage 1', 5_000, () => {
      const vms = live(1);
      return vms.length === 3 && vms.every((v) => v.state === 'ready') ? vms : undefined;
    });
    assert.deepEqual(live(2), [], 'stage 2 untouched');
    for (const vm of ready) {
      const pod = fake.pods.get(vm.id)!;
      assert.equal(vm.launchedAt, Date.parse(pod.metadata.creationTimestamp), 'launched at the pod creation');
      assert.ok(vm.readyAt! >= vm.launchedAt);
      assert.equal(vm.instanceType, 'k8s-pod-1cpu');
    }
    const launched = billing.facts.filter((f) => f.type === 'vm.launched');
    assert.deepEqual(launched.map((f) => ('vmId' in f ? f.vmId : '')).sort(), ready.map((v) => v.id).sort());
    assert.ok(
      launched.every(
        (f) => f.model === MODEL && f.stage === 1 && 'instanceType' in f && f.instanceType === 'k8s-pod-1cpu',
      ),
    );
  });

  test('scaleTo down drains the newest pod, which is billed as draining then terminated', async () => {
    await start();
    await provider!.scaleTo(MODEL, 1, 1);
    await waitUntil('1 ready', 5_000, () => (live(1)[0]?.state === 'ready' ? true : undefined));
    await provider!.scaleTo(MODEL, 1, 2);
    const [older, newer] = (
      await waitUntil('2 ready', 5_000, () => {
        const vms = live(1);
        return vms.length === 2 && vms.every((v) => v.state === 'ready') ? vms : undefined;
      })
    ).sort((a, b) => a.launchedAt - b.launchedAt);
    await provider!.scaleTo(MODEL, 1, 1);
    const gone = await waitUntil('the newest terminated', 5_000, () =>
      provider!.list({ model: MODEL, stage: 1 }).find((v) => v.id === newer!.id && v.state === 'terminated'),
    );
    assert.ok(gone.drainingAt! <= gone.terminatedAt!);
    assert.equal(
      live(1)
        .map((v) => v.id)
        .join(),
      older!.id,
    );
    const facts = billing.facts.filter((f) => 'vmId' in f && f.vmId === newer!.id).map((f) => f.type);
    assert.deepEqual(facts, ['vm.launched', 'vm.draining', 'vm.terminated']);
    const terminated = billing.facts.find((f) => f.type === 'vm.terminated');
    assert.equal(terminated?.type === 'vm.terminated' && terminated.reason, 'drained');
    // The facts make a bill: the drained pod billed from its creation to its end, 60 s minimum, at its type's price.
    const prices = compileConfig({ prices: { vmPerHourUsd: { 'k8s-pod-1cpu': 0.036 } } }).prices;
    const ledger = computeLedger({
      billing: billing.facts.map((f) => parseBillingEvent({ v: 2, timeScale: 1, ...f })),
      stages: [],
      queries: [],
      prices,
      now: Date.now(),
    });
    const bill = ledger.vms.find((v) => v.vmId === newer!.id)!;
    assert.deepEqual([bill.state, bill.endReportedBy, bill.billedSeconds], ['terminated', 'provider', 60]);
    assert.equal(bill.launchedAt, newer!.launchedAt);
    assert.ok(Math.abs(bill.usd - (60 * 0.036) / 3600) < 1e-12, `usd ${bill.usd}`);
  });

  test('drain of a chosen ready pod marks it cheapest and shrinks by one: that pod goes, not the newest', async () => {
    await start();
    await provider!.scaleTo(MODEL, 1, 3);
    const vms = (
      await waitUntil('3 ready', 5_000, () => {
        const v = live(1);
        return v.length === 3 && v.every((x) => x.state === 'ready') ? v : undefined;
      })
    ).sort((a, b) => a.launchedAt - b.launchedAt);
    const chosen = vms[0]!; // the oldest: the controller would take the newest unless told otherwise
    const drained = await provider!.drain(chosen.id);
    assert.equal(drained.state, 'draining');
    assert.equal(
      fake.pods.get(chosen.id)?.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'],
      '-2147483648',
    );
    assert.equal(fake.deployments.get('serflow-mnist-ee-stage-1')!.replicas, 2);
    await waitUntil('the chosen pod gone', 5_000, () => (fake.pods.has(chosen.id) ? undefined : true));
    await waitUntil('list shows it terminated', 5_000, () =>
      provider!.list().find((v) => v.id === chosen.id && v.state === 'terminated'),
    );
    assert.deepEqual(
      live(1)
        .map((v) => v.id)
        .sort(),
      [vms[1]!.id, vms[2]!.id].sort(),
    );
    assert.ok(!fake.requests.some((r) => r.startsWith('DELETE')), 'no pod deleted directly');
  });

  test('drain of a ready pod while another boots deletes that pod (a booting one would go first otherwise)', async () => {
    await start();
    await provider!.scaleTo(MODEL, 2, 1);
    const [first] = await waitUntil('1 ready', 5_000, () => {
      const v = live(2);
      return v.length === 1 && v[0]!.state === 'ready' ? v : undefined;
    });
    // A second pod that stays unready (its readiness probe fails).
    await provider!.scaleTo(MODEL, 2, 2);
    const booting = await waitUntil('a second pod', 5_000, () => live(2).find((v) => v.id !== first!.id));
    fake.setReady(booting.id, false);
    await provider!.drain(first!.id);
    assert.ok(fake.requests.includes(`DELETE /api/v1/namespaces/${NS}/pods/${first!.id}`));
    await waitUntil('the ready pod gone and one left', 5_000, () =>
      !fake.pods.has(first!.id) && live(2).length === 1 ? true : undefined,
    );
    assert.equal(fake.deployments.get('serflow-mnist-ee-stage-2')!.replicas, 1);
    assert.notEqual(live(2)[0]!.id, first!.id);
  });

  test('launch adds to the replicas (retrying a write conflict) and returns the new pods', async () => {
    await start();
    await provider!.scaleTo(MODEL, 1, 1);
    await waitUntil('1 pod', 5_000, () => (live(1).length === 1 ? true : undefined));
    fake.inject({
      method: 'PUT',
      path: `/apis/apps/v1/namespaces/${NS}/deployments/serflow-mnist-ee-stage-1/scale`,
      status: 409,
      body: JSON.stringify({ kind: 'Status', code: 409, reason: 'Conflict', message: 'the object has been modified' }),
    });
    const added = await provider!.launch(MODEL, 1, 2);
    assert.equal(added.length, 2);
    assert.equal(fake.deployments.get('serflow-mnist-ee-stage-1')!.replicas, 3);
    assert.ok(added.every((v) => v.model === MODEL && v.stage === 1 && fake.pods.has(v.id)));
  });

  test('the whole-model pool (stage 0) is the Deployment named `all`', async () => {
    fake.addDeployment('serflow-mnist-ee-stage-all', { ...stageLabels(1), [STAGE_LABEL]: 'all' });
    await start();
    await provider!.scaleTo(MODEL, 0, 1);
    assert.equal(fake.deployments.get('serflow-mnist-ee-stage-all')!.replicas, 1);
    const [vm] = await waitUntil('a whole-model VM', 5_000, () => (live(0).length === 1 ? live(0) : undefined));
    assert.equal(vm!.stage, 0);
    assert.deepEqual(live(1), []);
  });

  test('pods that exist before the provider starts are listed and billed from their creation', async () => {
    fake.deployments.get('serflow-mnist-ee-stage-2')!.replicas = 2;
    fake.addDeployment('serflow-mnist-ee-stage-3', stageLabels(3), 1);
    await start();
    assert.equal(provider!.list().length, 3);
    assert.equal(billing.facts.filter((f) => f.type === 'vm.launched').length, 3);
  });

  test('a pod that fails (evicted) is billed terminated once; a failed pod first seen later is not billed', async () => {
    await start();
    await provider!.scaleTo(MODEL, 1, 1);
    const [vm] = await waitUntil('1 ready pod', 5_000, () => (live(1)[0]?.state === 'ready' ? live(1) : undefined));
    // Evicted: the object stays, phase Failed (the fake's controller does not replace it; the real one would).
    Object.assign(fake.pods.get(vm!.id)!.status, { phase: 'Failed', reason: 'Evicted' });
    await waitUntil('terminated', 5_000, () =>
      provider!.list().find((v) => v.id === vm!.id && v.state === 'terminated'),
    );
    const t = billing.facts.filter((f) => f.type === 'vm.terminated');
    assert.deepEqual(
      t.map((f) => f.type === 'vm.terminated' && f.reason),
      ['pod Failed: Evicted'],
    );
    // A second provider (a restarted agent) sees the lingering failed pod: no VM, no bill.
    const before = billing.facts.length;
    const second = await createKubernetesVmProvider({ config: config(), billing, log: () => undefined });
    try {
      assert.ok(!second.list().some((v) => v.id === vm!.id));
      assert.equal(billing.facts.length, before);
    } finally {
      await second.close();
    }
  });

  test('a pod deleted behind its back (not drained) is billed terminated as deleted', async () => {
    await start();
    await provider!.scaleTo(MODEL, 1, 1);
    const [vm] = await waitUntil('1 pod', 5_000, () => (live(1).length === 1 ? live(1) : undefined));
    fake.pods.delete(vm!.id);
    await waitUntil('terminated', 5_000, () =>
      provider!.list().find((v) => v.id === vm!.id && v.state === 'terminated'),
    );
    const t = billing.facts.find((f) => f.type === 'vm.terminated');
    assert.equal(t?.type === 'vm.terminated' && t.reason, 'pod deleted');
  });

  test('a malformed pod in the list is skipped and reported once; the others are still seen', async () => {
    fake.extraListItems.push({ metadata: { name: 'bad-pod', labels: stageLabels(1), creationTimestamp: 'yesterday' } });
    fake.extraListItems.push('not an object');
    await start();
    await provider!.scaleTo(MODEL, 1, 1);
    await waitUntil('the good pod', 5_000, () => (live(1).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300)); // a few polls
    assert.equal(logs.filter((l) => l.includes('bad-pod')).length, 1, logs.join('\n'));
    assert.ok(
      logs.some((l) => /bad-pod skipped, malformed: metadata\.creationTimestamp/.test(l)),
      logs.join('\n'),
    );
    assert.ok(
      logs.some((l) => l.includes('pod #')),
      'the item with no name is reported by its index',
    );
    assert.ok(!provider!.list().some((v) => v.id === 'bad-pod'));
  });

  test('an API refusal is a KubernetesApiError with the status and the reason', async () => {
    await start();
    await assert.rejects(provider!.scaleTo(MODEL, 9, 1), (err: unknown) => {
      assert.ok(err instanceof KubernetesApiError);
      assert.equal(err.status, 404);
      assert.equal(err.reason, 'NotFound');
      assert.match(err.message, /serflow-mnist-ee-stage-9/);
      return true;
    });
  });

  test('a body that is not JSON, or not a Scale, is a KubernetesResponseError naming the call', async () => {
    await start();
    const scalePath = `/apis/apps/v1/namespaces/${NS}/deployments/serflow-mnist-ee-stage-1/scale`;
    fake.inject({ method: 'GET', path: scalePath, status: 200, body: '<html>proxy login</html>' });
    await assert.rejects(provider!.launch(MODEL, 1, 1), (err: unknown) => {
      assert.ok(err instanceof KubernetesResponseError);
      assert.match(err.message, /GET .*stage-1\/scale: HTTP 200 body is not JSON: <html>proxy login/);
      return true;
    });
    fake.inject({
      method: 'GET',
      path: scalePath,
      status: 200,
      body: JSON.stringify({ kind: 'Scale', spec: { replicas: -2 } }),
    });
    await assert.rejects(provider!.launch(MODEL, 1, 1), (err: unknown) => {
      assert.ok(err instanceof KubernetesResponseError);
      assert.match(err.message, /unexpected response: .*metadata/);
      return true;
    });
  });

  test('a pod list that is not a PodList fails the start with a named error; a later bad poll keeps the last view', async () => {
    fake.inject({
      method: 'GET',
      path: `/api/v1/namespaces/${NS}/pods`,
      status: 200,
      body: JSON.stringify({ items: 'none' }),
    });
    await assert.rejects(start(), KubernetesResponseError);
    provider = undefined;
    await start();
    await provider!.scaleTo(MODEL, 1, 1);
    await waitUntil('1 pod', 5_000, () => (live(1).length === 1 ? true : undefined));
    for (let i = 0; i < 3; i++)
      fake.inject({ method: 'GET', path: `/api/v1/namespaces/${NS}/pods`, status: 500, body: 'oops' });
    await waitUntil('the poll failure reported', 5_000, () =>
      logs.some((l) => /listing pods failed: .*HTTP 500/.test(l)) ? true : undefined,
    );
    assert.equal(live(1).length, 1, 'the last good view stays');
  });

  test('a wrong token is a KubernetesApiError 401', async () => {
    fs.writeFileSync(path.join(dir, 'token'), 'stolen');
    try {
      await assert.rejects(start(), (err: unknown) => err instanceof KubernetesApiError && err.status === 401);
      provider = undefined;
    } finally {
      fs.writeFileSync(path.join(dir, 'token'), TOKEN);
    }
  });

  test('bad requests are named errors: an unknown VM, a negative count', async () => {
    await start();
    await assert.rejects(provider!.drain('no-such-pod'), UnknownVmError);
    await assert.rejects(provider!.scaleTo(MODEL, 1, -1), InvalidScaleError);
    await assert.rejects(provider!.launch(MODEL, 1, 1.5), InvalidScaleError);
  });

  test('without kubernetes.apiServer outside a pod, the credentials error says what to set', () => {
    const c = compileConfig({ kubernetes: { serviceAccountDir: dir } }).kubernetes;
    assert.throws(
      () => resolveKubeApiTarget(c, {}),
      (err: unknown) => {
        assert.ok(err instanceof KubernetesCredentialsError);
        assert.match(err.message, /set kubernetes\.apiServer/);
        return true;
      },
    );
    // In a pod without a CA bundle (token automount off): named, with the directory.
    assert.throws(
      () => resolveKubeApiTarget(c, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }),
      /in-cluster credentials unreadable in kubernetes\.serviceAccountDir/,
    );
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'pem');
    try {
      const t = resolveKubeApiTarget(c, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' });
      assert.equal(t.baseUrl, 'https://[fd00::1]:443');
      assert.equal(t.tokenFile, path.join(dir, 'token'));
    } finally {
      fs.rmSync(path.join(dir, 'ca.crt'));
    }
  });
});

describe('Kubernetes VM provider with a real nats-server', () => {
  let dir: string;
  let nats: StartedNatsServer;
  let fake: FakeKubeApi;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-k8s-nats-'));
    fs.writeFileSync(path.join(dir, 'token'), TOKEN);
    nats = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'jetstream'),
      logDir: dir,
      clientName: 'k8s-provider-test',
      readyTimeoutMs: 10_000,
    });
    await ensureNatsResources(nats.nc, compileConfig({ homeDir: dir }));
    // Pods that never turn Ready by themselves (no readiness probe answered): only the worker's own fact says so.
    fake = await startFakeKubeApi({ namespace: NS, token: TOKEN, readyMs: 600_000 });
    fake.addDeployment('serflow-mnist-ee-stage-1', stageLabels(1));
  });
  after(async () => {
    await fake?.close();
    await nats?.nc.drain().catch(() => undefined);
    if (nats) await stopPid(nats.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the pods' lifecycle lands in SERFLOW_BILLING, and a pod's own vm.ready makes it ready", async () => {
    const config = compileConfig({
      homeDir: dir,
      cloud: 'kubernetes',
      kubernetes: { namespace: NS, apiServer: fake.url, serviceAccountDir: dir, pollIntervalMs: 100 },
    });
    const billing = createBillingPublisher(nats.nc, config.timeScale);
    const provider = await createKubernetesVmProvider({ config, billing, nc: nats.nc, log: () => undefined });
    try {
      await provider.scaleTo(MODEL, 1, 1);
      const [vm] = await waitUntil('a booting pod', 5_000, () => {
        const v = provider.list({ model: MODEL, stage: 1 });
        return v.length === 1 && v[0]!.state === 'booting' ? v : undefined;
      });
      // What the pod's stage worker publishes once it polls its queue (workers/stage-worker.ts).
      const readyAt = Date.now();
      const worker = createBillingPublisher(nats.nc, config.timeScale);
      await worker.publish({
        type: 'vm.ready',
        at: readyAt,
        model: MODEL,
        stage: 1,
        vmId: vm!.id,
        instanceType: 'c6i.large',
      });
      await worker.close();
      const ready = await waitUntil('ready from the vm.ready fact', 5_000, () =>
        provider.list().find((v) => v.id === vm!.id && v.state === 'ready'),
      );
      assert.equal(ready.readyAt, readyAt);
      await provider.drain(vm!.id);
      const events = await waitForBillingEvents(nats.nc, 'the pod terminated in the stream', 10_000, (es) =>
        es.some((e) => e.type === 'vm.terminated' && e.vmId === vm!.id),
      );
      assert.deepEqual(
        events.filter((e) => 'vmId' in e && e.vmId === vm!.id).map((e) => e.type),
        ['vm.launched', 'vm.ready', 'vm.draining', 'vm.terminated'],
      );
    } finally {
      await provider.close();
      await billing.close();
    }
  });
});
