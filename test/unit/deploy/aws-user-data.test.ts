/**
 * deploy/aws/user-data.ts: the launch template's boot script of a pool. Its inputs are validated by name; what it
 * renders is valid shell (bash -n), starts the stage worker of the pool against the given Temporal and NATS with the
 * instance id as VM id, drains on stop (SIGTERM) and carries a config that compiles on the instance.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { compileConfig } from '../../../common/config';
import {
  DRAIN_WATCH_UNIT,
  STAGE_WORKER_UNIT,
  USER_DATA_MAX_BYTES,
  instanceConfig,
  launchTemplateInput,
  renderStageWorkerUserData,
  type StageWorkerUserDataOptions,
} from '../../../deploy/aws/user-data';

const config = compileConfig({ aws: { autoScaling: { drainTimeoutMs: 90_000 } }, homeDir: '/home/me/.serflow' });
const base: StageWorkerUserDataOptions = {
  config,
  model: 'mnist-ee',
  stage: 2,
  temporalAddress: 'temporal.internal:7233',
  natsUrl: 'nats://nats-a.internal:4222,nats://nats-b.internal:4222',
};

/** The body of the here-document that writes `target`. */
function fileIn(script: string, target: string): string {
  const m = new RegExp(`cat > ${target.replace(/[.]/g, '\\.')} <<'([A-Z_]+)'\\n([\\s\\S]*?)\\n\\1\\n`).exec(script);
  assert.ok(m, `the script writes ${target}`);
  return m[2]!;
}

describe('stage worker user-data', () => {
  test('is valid bash, and its drain watcher valid sh', () => {
    const script = renderStageWorkerUserData({ ...base, npmPackage: 'serflow@0.1.0' });
    assert.ok(script.startsWith('#!/bin/bash\n'));
    const bash = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    assert.equal(bash.status, 0, bash.stderr);
    const watch = fileIn(script, '/usr/local/lib/serflow/drain-watch.sh');
    const sh = spawnSync('sh', ['-n'], { input: watch, encoding: 'utf8' });
    assert.equal(sh.status, 0, sh.stderr);
    assert.match(watch, /meta-data\/autoscaling\/target-lifecycle-state/);
    assert.match(watch, new RegExp(`systemctl stop ${STAGE_WORKER_UNIT.replace('.', '\\.')}`));
  });

  test('the worker unit starts the pool stage against the configured servers, as the instance, and drains on stop', () => {
    const script = renderStageWorkerUserData(base);
    const unit = fileIn(script, `/etc/systemd/system/${STAGE_WORKER_UNIT}`);
    const line = (key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`));
    assert.deepEqual(line('ExecStart'), [
      'ExecStart=/usr/bin/node /opt/serflow/node_modules/serflow/lib/deploy/local/child-main.js stage ' +
        '--model mnist-ee --stage 2 --vm-id ${SERFLOW_VM_ID} --instance-type ${SERFLOW_INSTANCE_TYPE}',
    ]);
    assert.deepEqual(line('Environment'), [
      'Environment=TEMPORAL_ADDRESS=temporal.internal:7233',
      'Environment=NATS_URL=nats://nats-a.internal:4222,nats://nats-b.internal:4222',
      'Environment=SERFLOW_CONFIG=/etc/serflow/config.json',
      'Environment=SERFLOW_HOME=/var/lib/serflow',
    ]);
    assert.deepEqual(line('KillSignal'), ['KillSignal=SIGTERM']);
    // the drain timeout of the config (90 s), as the unit's stop timeout
    assert.deepEqual(line('TimeoutStopSec'), ['TimeoutStopSec=90']);
    assert.match(script, /VM_ID=\$\(imds instance-id\)/);
    assert.match(
      script,
      new RegExp(`systemctl enable --now ${STAGE_WORKER_UNIT} ${DRAIN_WATCH_UNIT}`.replace(/\./g, '\\.')),
    );
    // no npm install without a package: the image has serflow
    assert.doesNotMatch(script, /npm install/);
  });

  test('the whole-model pool runs `--stage all`', () => {
    const unit = fileIn(renderStageWorkerUserData({ ...base, stage: 0 }), `/etc/systemd/system/${STAGE_WORKER_UNIT}`);
    assert.match(unit, /--model mnist-ee --stage all --vm-id/);
  });

  test('the config written compiles, without the render machine paths and addresses', () => {
    const withAddresses = compileConfig({ temporal: { address: 'x:1' }, nats: { url: 'nats://x:2' }, timeScale: 1 });
    const script = renderStageWorkerUserData({ ...base, config: withAddresses });
    const written = JSON.parse(fileIn(script, '/etc/serflow/config.json')) as Record<string, unknown>;
    assert.equal(written.homeDir, undefined);
    assert.equal(written.modelsDir, undefined);
    assert.deepEqual(written.nats, { port: 0 });
    assert.equal((written.temporal as { address?: string }).address, undefined);
    const back = compileConfig(written);
    assert.equal(back.workers.stageConcurrency, withAddresses.workers.stageConcurrency);
    assert.deepEqual(instanceConfig(withAddresses), written);
  });

  const refused: Array<[string, Partial<StageWorkerUserDataOptions>, RegExp]> = [
    ['a model with a space', { model: 'mnist ee' }, /model: expected a model name/],
    ['a model with a quote', { model: "m'x" }, /model: expected a model name/],
    ['a negative stage', { stage: -1 }, /stage: /],
    ['a fractional stage', { stage: 1.5 }, /stage: /],
    [
      'a Temporal address without a port',
      { temporalAddress: 'temporal.internal' },
      /temporalAddress: expected host:port/,
    ],
    ['a NATS URL of another scheme', { natsUrl: 'http://nats:4222' }, /natsUrl: .*expected a nats:\/\//],
    ['a NATS URL with a password', { natsUrl: 'nats://u:secret@nats:4222' }, /natsUrl: .*no user or password/],
    ['a NATS URL with a percent sign (a systemd specifier)', { natsUrl: 'nats://n%41:4222' }, /natsUrl: /],
    ['a relative serflow directory', { serflowDir: 'opt/serflow' }, /serflowDir: expected an absolute path/],
    ['a node path with a space', { nodePath: '/usr/local/my node' }, /nodePath: expected an absolute path/],
    [
      'an npm spec with a shell command',
      { npmPackage: 'serflow; rm -rf /' },
      /npmPackage: expected an npm package spec/,
    ],
  ];
  for (const [what, change, message] of refused) {
    test(`refuses ${what}, naming the input`, () => {
      assert.throws(() => renderStageWorkerUserData({ ...base, ...change }), { name: 'UserDataError', message });
    });
  }

  test('refuses a script over EC2s user-data limit', () => {
    const big = compileConfig({
      faas: { stageMemoryMb: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [String(i + 1), 1024])) },
    });
    assert.throws(() => renderStageWorkerUserData({ ...base, config: big }), {
      name: 'UserDataError',
      message: new RegExp(`over EC2's ${USER_DATA_MAX_BYTES}`),
    });
  });

  test('the launch template input is named by the pattern, with the script as base64 and IMDSv2 required', () => {
    const input = launchTemplateInput({ ...base, imageId: 'ami-0abc123' });
    assert.equal(input.LaunchTemplateName, 'serflow-mnist-ee-s2');
    assert.equal(input.LaunchTemplateData.InstanceType, 'c6i.large');
    assert.equal(input.LaunchTemplateData.MetadataOptions.HttpTokens, 'required');
    assert.equal(
      Buffer.from(input.LaunchTemplateData.UserData, 'base64').toString('utf8'),
      renderStageWorkerUserData(base),
    );
    assert.throws(() => launchTemplateInput({ ...base, imageId: 'ubuntu' }), {
      name: 'UserDataError',
      message: /imageId/,
    });
  });
});
