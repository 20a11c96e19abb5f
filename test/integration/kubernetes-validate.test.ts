/**
 * Every manifest `serflow k8s manifests` renders (and the committed ones) validates against the Kubernetes API's
 * schemas, offline, with kubernetes-validate (PyPI, pinned in deploy/local/tools.ts) in strict mode, where an
 * unknown field is an error too; and the check does fail on a broken manifest.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeManifestFiles } from '../../cli/k8s-command';
import { compileConfig } from '../../common/config';
import { PROJECT_ROOT } from '../../common/paths';
import { renderModelManifestFiles } from '../../deploy/kubernetes/manifests';
import { PY_TEST_TOOLS, resolveTestTool } from '../../deploy/local/tools';

/**
 * The oldest Kubernetes the manifests must fit (pod-deletion-cost is beta and on by default since 1.22; 1.30 is the
 * oldest minor most managed offerings still support) and the newest the pinned validator knows.
 */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];

function validate(files: string[], version: string): { status: number | null; out: string } {
  const bin = resolveTestTool(PY_TEST_TOOLS.kubernetesValidate);
  const r = spawnSync(bin, ['--strict', '--kubernetes-version', version, ...files], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Kubernetes manifests against the API schemas (kubernetes-validate)', () => {
  let dir: string;
  const rendered: string[] = [];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-k8s-validate-'));
    // Both models, and a config that changes names, namespace and instance type, so every branch is rendered.
    const config = compileConfig({ kubernetes: { namespace: 'serflow-prod', instanceType: 'pod-2cpu' } });
    for (const model of ['mnist-ee', 'mnist-ee-heavy']) {
      const files = renderModelManifestFiles({ config, model, image: 'registry.example/serflow:0.1.0' });
      rendered.push(...writeManifestFiles(path.join(dir, model), model, files));
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const version of KUBERNETES_VERSIONS) {
    test(`every rendered manifest validates strictly against Kubernetes ${version}`, () => {
      const { status, out } = validate(rendered, version);
      assert.equal(status, 0, out);
      // One "passed" line per object: nothing skipped as unknown.
      const objects = rendered.reduce((n, f) => n + fs.readFileSync(f, 'utf8').split(/^---$/m).length, 0);
      assert.equal((out.match(/ passed for resource /g) ?? []).length, objects, out);
    });
  }

  test('the committed manifests of the default model validate', () => {
    const generated = path.join(PROJECT_ROOT, 'deploy', 'kubernetes', 'generated', 'mnist-ee');
    const files = fs.readdirSync(generated).map((f) => path.join(generated, f));
    const { status, out } = validate(files, '1.37.0');
    assert.equal(status, 0, out);
  });

  test('a broken manifest fails: a wrong type, and (strict) a misspelt field', () => {
    const stage = rendered.find((f) => f.endsWith('20-stage-1.yaml'))!;
    const text = fs.readFileSync(stage, 'utf8');
    const wrongType = path.join(dir, 'wrong-type.yaml');
    fs.writeFileSync(wrongType, text.replace(/replicas: 0/, 'replicas: two'));
    const misspelt = path.join(dir, 'misspelt.yaml');
    fs.writeFileSync(misspelt, text.replace('terminationGracePeriodSeconds', 'terminationGraceSeconds'));
    assert.notEqual(text, fs.readFileSync(wrongType, 'utf8'));
    assert.notEqual(text, fs.readFileSync(misspelt, 'utf8'));
    const a = validate([wrongType], '1.37.0');
    assert.equal(a.status, 1, a.out);
    assert.match(a.out, /spec\.replicas: 'two' is not of type 'integer'/);
    const b = validate([misspelt], '1.37.0');
    assert.equal(b.status, 1, b.out);
    assert.match(b.out, /'terminationGraceSeconds' was unexpected/);
  });
});
