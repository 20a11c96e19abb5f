/**
 * The real `serflow` binary (bin/serflow.js) without servers: `--version`, the exit-code table in `--help`, and the
 * exit code of each failure class it can reach here: a bad flag (2), a bad model (3), no stack or an unreachable
 * one (4), with the JSON error on stdout under `--json`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { EXIT_CLASSES, EXIT_CODE } from '../../../cli/exit-codes';
import { PROJECT_ROOT } from '../../../common/paths';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const VERSION = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-surface-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

/** Run the CLI in an empty home (no stack recorded, no server addresses unless `env` sets them). */
async function serflow(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
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

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('serflow --version and --help', () => {
  test('--version and -V print the package version, exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await serflow([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), VERSION);
    }
  });

  test('--help lists every exit code, exit 0', async () => {
    const r = await serflow(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Exit codes:/);
    for (const { code } of Object.values(EXIT_CLASSES)) assert.match(r.stdout, new RegExp(`^  ${code} `, 'm'));
  });
});

describe('serflow exit codes', () => {
  test('an unknown flag: usage (2), the message names it', async () => {
    const r = await serflow(['status', '--no-such-flag']);
    assert.equal(r.code, EXIT_CODE.usage);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
  });

  test('an unknown command: usage (2)', async () => {
    const r = await serflow(['frobnicate']);
    assert.equal(r.code, EXIT_CODE.usage);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  test('a flag value out of range, refused by its parser or by the command: usage (2)', async () => {
    const parser = await serflow(['infer', '--samples', '0']);
    assert.equal(parser.code, EXIT_CODE.usage);
    assert.match(parser.stderr, /--samples.*positive integer/);
    const action = await serflow(['pools', 'scale', '--stage', '1', '--vms', '65']);
    assert.equal(action.code, EXIT_CODE.usage);
    assert.match(action.stderr, /^serflow: --vms 65 is above/m);
  });

  test('status with no stack: no stack (4); the report says why, in text and in JSON', async () => {
    const text = await serflow(['status']);
    assert.equal(text.code, EXIT_CODE.noStack);
    assert.match(text.stdout, /no stack: .*serflow up --detach/);
    const json = await serflow(['status', '--json']);
    assert.equal(json.code, EXIT_CODE.noStack);
    const report = JSON.parse(json.stdout) as { running: boolean; problem: string };
    assert.equal(report.running, false);
    assert.match(report.problem, /^no stack: /);
    assert.match(json.stderr, /^serflow: no stack: /m);
  });

  test('a read command with no stack: no stack (4), the JSON error under --json', async () => {
    const r = await serflow(['pools', '--json']);
    assert.equal(r.code, EXIT_CODE.noStack);
    assert.match(r.stderr, /^serflow: no NATS address/m);
    const { error } = JSON.parse(r.stdout) as { error: Record<string, unknown> };
    assert.equal(error.exitCode, EXIT_CODE.noStack);
    assert.equal(error.class, 'noStack');
    assert.equal(error.type, 'NoStackError');
    assert.match(String(error.message), /no NATS address/);
  });

  test('an address nothing answers on: no stack (4), naming the address', async () => {
    const port = await closedPort();
    const r = await serflow(['plan', '--json'], { NATS_URL: `nats://127.0.0.1:${port}` });
    assert.equal(r.code, EXIT_CODE.noStack);
    assert.match(r.stderr, new RegExp(`cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}`));
    assert.equal((JSON.parse(r.stdout) as { error: { type: string } }).error.type, 'StackUnreachableError');
  });

  test('an unknown model: bad input (3)', async () => {
    const r = await serflow(['route', 'show', '--model', 'no-such-model']);
    assert.equal(r.code, EXIT_CODE.badInput);
    assert.match(r.stderr, /no-such-model/);
  });
});
