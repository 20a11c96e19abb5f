/**
 * `serflow aws user-data` through the real binary (no servers, no AWS): the script of a pool, its names under
 * `--json`, the launch template input with `--image-id`, addresses from the environment, and bad input refused with
 * the usage (2) or bad-input (3) exit code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { EXIT_CODE } from '../../../cli/exit-codes';
import { PROJECT_ROOT } from '../../../common/paths';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-aws-cli-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

async function serflow(args: string[], env: NodeJS.ProcessEnv = {}) {
  const full: NodeJS.ProcessEnv = { ...process.env, SERFLOW_HOME: home, ...env };
  if (!env.TEMPORAL_ADDRESS) delete full.TEMPORAL_ADDRESS;
  if (!env.NATS_URL) delete full.NATS_URL;
  try {
    const r = await run(process.execPath, [SERFLOW, ...args], { env: full, cwd: home, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const ADDRESSES = ['--temporal', 'temporal.internal:7233', '--nats', 'nats://nats.internal:4222'];

describe('serflow aws user-data', () => {
  test('prints the boot script of the pool', async () => {
    const r = await serflow(['aws', 'user-data', '--stage', '3', '--model', 'mnist-ee', ...ADDRESSES]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith('#!/bin/bash\n'));
    assert.match(r.stdout, /child-main\.js stage --model mnist-ee --stage 3 --vm-id/);
  });

  test('--json names the group and template; the addresses may come from the environment', async () => {
    const r = await serflow(['aws', 'user-data', '--stage', 'all', '--json'], {
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      NATS_URL: 'nats://nats.internal:4222',
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [out.model, out.stage, out.groupName, out.launchTemplateName],
      ['mnist-ee', 0, 'serflow-mnist-ee-all', 'serflow-mnist-ee-sall'],
    );
    assert.match(String(out.userData), /Environment=TEMPORAL_ADDRESS=temporal\.internal:7233/);
  });

  test('--image-id prints the CreateLaunchTemplate input', async () => {
    const r = await serflow(['aws', 'user-data', '--stage', '1', '--image-id', 'ami-0abc', ...ADDRESSES]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as {
      LaunchTemplateName: string;
      LaunchTemplateData: { ImageId: string; UserData: string };
    };
    assert.equal(t.LaunchTemplateName, 'serflow-mnist-ee-s1');
    assert.equal(t.LaunchTemplateData.ImageId, 'ami-0abc');
    assert.match(Buffer.from(t.LaunchTemplateData.UserData, 'base64').toString(), /--stage 1 /);
  });

  test('bad input is refused by name, with its exit code', async () => {
    const noStage = await serflow(['aws', 'user-data', ...ADDRESSES]);
    assert.equal(noStage.code, EXIT_CODE.usage);
    const badStage = await serflow(['aws', 'user-data', '--stage', '0', ...ADDRESSES]);
    assert.equal(badStage.code, EXIT_CODE.usage);
    assert.match(badStage.stderr, /expected a stage from 1, or all, got "0"/);
    const noAddresses = await serflow(['aws', 'user-data', '--stage', '1']);
    assert.equal(noAddresses.code, EXIT_CODE.usage);
    assert.match(noAddresses.stderr, /need --temporal and --nats/);
    const badModel = await serflow(['aws', 'user-data', '--stage', '1', '--model', 'a b', '--json', ...ADDRESSES]);
    assert.equal(badModel.code, EXIT_CODE.badInput);
    assert.match(badModel.stderr, /model: expected a model name/);
    assert.equal((JSON.parse(badModel.stdout) as { error: { type: string } }).error.type, 'UserDataError');
  });
});
