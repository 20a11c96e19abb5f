/**
 * The Kubernetes manifests (deploy/kubernetes/manifests.ts): the committed render equals a fresh one, one Deployment
 * per stage pool with the labels and names the VM provider looks for, a Role that grants the cloud agent exactly
 * what the provider calls, a ConfigMap that is a valid SERFLOW config, and a NATS values file whose store holds
 * SERFLOW's streams. (Their validation against the Kubernetes schemas: test/integration/kubernetes-validate.test.ts.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { writeManifestFiles } from '../../../cli/k8s-command';
import { compileConfig } from '../../../common/config';
import { PROJECT_ROOT } from '../../../common/paths';
import {
  AGENT_SERVICE_ACCOUNT,
  CONFIG_FILE_KEY,
  manifestFiles,
  renderManifests,
  renderModelManifestFiles,
  STAGE_TERMINATION_GRACE_SECONDS,
  type KubeObject,
} from '../../../deploy/kubernetes/manifests';
import {
  deploymentName,
  KubernetesNameError,
  MODEL_LABEL,
  STAGE_LABEL,
  STAGE_PODS_SELECTOR,
} from '../../../deploy/kubernetes/names';
import { streamLimits } from '../../../infra/nats';
import { loadManifest } from '../../../models/manifest';
import { STAGE_WORKER_SHUTDOWN_GRACE_MS } from '../../../workers/stage-worker';

const GENERATED_DIR = path.join(PROJECT_ROOT, 'deploy', 'kubernetes', 'generated', 'mnist-ee');
const REGENERATE =
  "node -e \"const c=require('./lib/common/config'),m=require('./lib/deploy/kubernetes/manifests'),w=require('./lib/cli/k8s-command');" +
  "w.writeManifestFiles('deploy/kubernetes/generated/mnist-ee','mnist-ee',m.renderModelManifestFiles({config:c.compileConfig({}),model:'mnist-ee'}))\"";

const all = (model = 'mnist-ee', raw: Record<string, unknown> = {}) => {
  const config = compileConfig(raw);
  const stages = loadManifest(model, config.modelsDir).stages.length;
  return { config, stages, objects: renderManifests({ config, model, stages }).flatMap((f) => f.objects) };
};
const ofKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
type PodTemplate = {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    automountServiceAccountToken: boolean;
    terminationGracePeriodSeconds: number;
    containers: { args: string[]; env: { name: string }[] }[];
  };
};
const template = (d: KubeObject) => (d.spec as { template: PodTemplate }).template;

describe('Kubernetes manifests', () => {
  test('the committed manifests of the default model are exactly a fresh render (no stale file either)', () => {
    const fresh = renderModelManifestFiles({ config: compileConfig({}), model: 'mnist-ee' });
    const committed = fs.readdirSync(GENERATED_DIR).sort();
    assert.deepEqual(committed, fresh.map((f) => f.file).sort(), `files differ; regenerate with\n${REGENERATE}`);
    for (const { file, text } of fresh) {
      assert.equal(
        fs.readFileSync(path.join(GENERATED_DIR, file), 'utf8'),
        text,
        `${file} is stale; regenerate with\n${REGENERATE}`,
      );
    }
  });

  test('every file parses back to the objects rendered', () => {
    const config = compileConfig({});
    const set = renderManifests({ config, model: 'mnist-ee', stages: 4 });
    const files = renderModelManifestFiles({ config, model: 'mnist-ee' });
    for (const [i, { text }] of files.entries()) {
      const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
      assert.deepEqual(docs, set[i]!.objects);
    }
  });

  for (const model of ['mnist-ee', 'mnist-ee-heavy']) {
    test(`${model}: one Deployment per stage, labelled and named as the VM provider expects`, () => {
      const { config, stages, objects } = all(model);
      const pools = ofKind(objects, 'Deployment').filter((d) => template(d).metadata.labels[STAGE_LABEL]);
      // Stages 1..K and the whole-model pool (stage 0, label `all`).
      assert.equal(pools.length, stages + 1);
      for (const [i, d] of pools.entries()) {
        const stage = i < stages ? i + 1 : 0;
        assert.equal(d.metadata.name, deploymentName(config.kubernetes, model, stage));
        const labels = template(d).metadata.labels;
        // The provider lists pods with STAGE_PODS_SELECTOR and maps them by these two labels.
        for (const term of STAGE_PODS_SELECTOR.split(',')) {
          const [k, v] = term.split('=');
          assert.equal(labels[k!], v, `${d.metadata.name}: ${term}`);
        }
        assert.equal(labels[MODEL_LABEL], model);
        assert.equal(labels[STAGE_LABEL], stage === 0 ? 'all' : String(stage));
        const pod = template(d).spec;
        assert.ok(pod.terminationGracePeriodSeconds * 1000 > STAGE_WORKER_SHUTDOWN_GRACE_MS, 'grace covers the drain');
        assert.equal(pod.terminationGracePeriodSeconds, STAGE_TERMINATION_GRACE_SECONDS);
        const args = pod.containers[0]!.args;
        // The pod's name is its VM id, so the worker's own billing facts name the VM the provider bills.
        assert.deepEqual(args.slice(args.indexOf('--vm-id'), args.indexOf('--vm-id') + 2), ['--vm-id', '$(POD_NAME)']);
        assert.equal(args[args.indexOf('--stage') + 1], stage === 0 ? 'all' : String(stage));
        assert.ok(pod.containers[0]!.env.some((e) => e.name === 'POD_NAME'));
        assert.equal(pod.automountServiceAccountToken, false, 'a stage worker needs no API token');
      }
    });
  }

  test("the Role grants the cloud agent exactly the provider's calls, on the pools' Deployments only", () => {
    const { config, objects } = all();
    const [role] = ofKind(objects, 'Role');
    const poolNames = [1, 2, 3, 4, 0].map((s) => deploymentName(config.kubernetes, 'mnist-ee', s));
    assert.deepEqual(role!.rules, [
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: poolNames,
        verbs: ['get', 'update', 'patch'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'patch', 'delete'] },
    ]);
    const [binding] = ofKind(objects, 'RoleBinding');
    assert.deepEqual(binding!.subjects, [
      { kind: 'ServiceAccount', name: AGENT_SERVICE_ACCOUNT, namespace: 'serflow' },
    ]);
    // Only the agent's pods get a token; the autoscaler acts through the agent's pool API.
    const withToken = ofKind(objects, 'Deployment').filter((d) => template(d).spec.automountServiceAccountToken);
    assert.deepEqual(
      withToken.map((d) => [d.metadata.name, template(d).spec.serviceAccountName]),
      [['serflow-cloud-agent', AGENT_SERVICE_ACCOUNT]],
    );
  });

  test('the ConfigMap holds a valid SERFLOW config for the cluster (existing Temporal, NATS, kubernetes cloud)', () => {
    const { objects } = all('mnist-ee', { kubernetes: { namespace: 'prod', instanceType: 'pod-2cpu' } });
    const [cm] = ofKind(objects, 'ConfigMap');
    const text = (cm!.data as Record<string, string>)[CONFIG_FILE_KEY]!;
    const pod = compileConfig(JSON.parse(text));
    assert.equal(pod.cloud, 'kubernetes');
    assert.equal(pod.temporal.address, 'temporal-frontend.temporal.svc.cluster.local:7233');
    assert.equal(pod.nats.url, 'nats://nats:4222');
    assert.equal(pod.kubernetes.namespace, 'prod');
    assert.equal(pod.kubernetes.instanceType, 'pod-2cpu');
    assert.ok(
      objects.every((o) => o.kind === 'Namespace' || (o.metadata as { namespace?: string }).namespace === 'prod'),
    );
  });

  test('flags and config choose the Temporal address, NATS URL, image and namespace', () => {
    const config = compileConfig({ temporal: { address: 'temporal.example:7233' } });
    const set = renderManifests({
      config,
      model: 'mnist-ee',
      stages: 1,
      image: 'reg/serflow:1',
      natsUrl: 'nats://n:4222',
      namespace: 'x',
    });
    const objects = set.flatMap((f) => f.objects);
    const cm = JSON.parse((ofKind(objects, 'ConfigMap')[0]!.data as Record<string, string>)[CONFIG_FILE_KEY]!) as {
      temporal: { address: string };
      nats: { url: string };
    };
    assert.deepEqual([cm.temporal.address, cm.nats.url], ['temporal.example:7233', 'nats://n:4222']);
    const images = ofKind(objects, 'Deployment').map(
      (d) => (template(d).spec.containers[0] as unknown as { image: string }).image,
    );
    assert.ok(images.every((i) => i === 'reg/serflow:1'));
    assert.equal(objects[0]!.metadata.name, 'x');
  });

  test('a model or a name pattern Kubernetes would refuse is a KubernetesNameError naming it', () => {
    const config = compileConfig({});
    assert.throws(
      () => renderManifests({ config, model: 'Bad Model', stages: 2 }),
      (err: unknown) => {
        assert.ok(err instanceof KubernetesNameError);
        assert.match(err.message, /model "Bad Model" cannot be a Kubernetes label value/);
        return true;
      },
    );
    const long = compileConfig({
      kubernetes: { deploymentName: 'a-much-too-long-prefix-for-{model}-pools-of-stage-{stage}' },
    });
    assert.throws(
      () => renderManifests({ config: long, model: 'mnist-ee', stages: 1 }),
      /kubernetes\.deploymentName .* at most 46/,
    );
    assert.throws(
      () => compileConfig({ kubernetes: { deploymentName: 'pool-{stage}' } }),
      /kubernetes\.deploymentName.*\{model\}/,
    );
    assert.throws(() => renderManifests({ config, model: 'mnist-ee', stages: 0 }), RangeError);
    assert.throws(
      () => renderManifests({ config, model: 'mnist-ee', stages: 1, namespace: 'Bad_NS' }),
      /namespace "Bad_NS" is not a DNS-1123 label/,
    );
  });

  test("the NATS values file turns JetStream on with a file store that holds SERFLOW's streams", () => {
    const values = parse(
      fs.readFileSync(path.join(PROJECT_ROOT, 'deploy', 'kubernetes', 'nats-values.yaml'), 'utf8'),
    ) as {
      config: {
        jetstream: { enabled: boolean; fileStore: { enabled: boolean; maxSize: string; pvc: { size: string } } };
      };
    };
    const js = values.config.jetstream;
    assert.equal(js.enabled, true);
    assert.equal(js.fileStore.enabled, true);
    const gi = (s: string) => {
      const m = /^(\d+)Gi$/.exec(s);
      assert.ok(m, `expected NGi, got ${s}`);
      return Number(m[1]) * 2 ** 30;
    };
    const reserved = Object.values(streamLimits(compileConfig({}))).reduce((n, l) => n + l.max_bytes, 0);
    assert.ok(
      gi(js.fileStore.maxSize) >= reserved,
      `file store ${js.fileStore.maxSize} < the streams' ${reserved} bytes`,
    );
    assert.ok(gi(js.fileStore.maxSize) < gi(js.fileStore.pvc.size), 'a margin below the volume');
  });

  test('writing the files removes what an earlier render wrote and nothing else', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-k8s-out-'));
    try {
      const config = compileConfig({});
      writeManifestFiles(dir, 'mnist-ee', renderModelManifestFiles({ config, model: 'mnist-ee' }));
      fs.writeFileSync(path.join(dir, 'mine.yaml'), 'kind: Secret\n');
      const two = renderManifests({ config, model: 'mnist-ee', stages: 2 });
      writeManifestFiles(dir, 'mnist-ee', manifestFiles(two, 'mnist-ee'));
      const left = fs.readdirSync(dir).sort();
      assert.ok(left.includes('mine.yaml'));
      assert.ok(!left.includes('20-stage-3.yaml') && !left.includes('20-stage-4.yaml'));
      assert.ok(left.includes('20-stage-2.yaml'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
