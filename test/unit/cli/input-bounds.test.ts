/**
 * Upper bounds of CLI inputs: an out-of-range `serflow infer` / `demo` flag or `pools scale --vms` fails at once with
 * an error naming the flag and the bound, before anything connects to a stack.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { MAX_INFER_CONCURRENCY, MAX_INFER_RATE_QPS, MAX_INFER_SAMPLES } from '../../../common/config';
import { PROJECT_ROOT } from '../../../common/paths';
import { positiveIntUpTo, positiveNumberUpTo } from '../../../cli/options';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-bounds-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

/** Run the CLI in an empty home (no stack): returns its exit code and stderr. */
async function serflow(...args: string[]): Promise<{ code: number; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SERFLOW_HOME: home };
  delete env.TEMPORAL_ADDRESS;
  delete env.NATS_URL;
  try {
    const r = await run(process.execPath, [SERFLOW, ...args], { env, cwd: home, timeout: 60_000 });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('bounded parsers', () => {
  test('accept up to the bound, refuse above it naming the bound', () => {
    assert.equal(positiveIntUpTo(10, 'TEN')('10'), 10);
    assert.throws(() => positiveIntUpTo(10, 'TEN')('11'), /up to 10 \(TEN\), got 11/);
    assert.throws(() => positiveIntUpTo(10, 'TEN')('0'), /positive integer/);
    assert.equal(positiveNumberUpTo(2.5, 'X')('2.5'), 2.5);
    assert.throws(() => positiveNumberUpTo(2.5, 'X')('2.6'), /up to 2\.5 \(X\)/);
  });
});

describe('serflow flags out of range', () => {
  const cases: [string[], RegExp][] = [
    [['infer', '--samples', String(MAX_INFER_SAMPLES + 1)], new RegExp(`--samples.*up to ${MAX_INFER_SAMPLES}`)],
    [['demo', '--samples', String(MAX_INFER_SAMPLES + 1)], new RegExp(`--samples.*up to ${MAX_INFER_SAMPLES}`)],
    [
      ['infer', '--concurrency', String(MAX_INFER_CONCURRENCY + 1)],
      new RegExp(`--concurrency.*up to ${MAX_INFER_CONCURRENCY}`),
    ],
    [['infer', '--rate', String(MAX_INFER_RATE_QPS * 2)], new RegExp(`--rate.*up to ${MAX_INFER_RATE_QPS}`)],
    [['pools', 'scale', '--stage', '1', '--vms', '65'], /--vms 65 is above .*pools\.maxVmsPerPool = 64/],
  ];
  for (const [args, expected] of cases) {
    test(`serflow ${args.join(' ')}`, async () => {
      const { code, stderr } = await serflow(...args);
      assert.notEqual(code, 0);
      assert.match(stderr, expected);
    });
  }
});
