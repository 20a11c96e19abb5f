/**
 * The fault suite's bad-input table on a real stack (Temporal dev server, nats-server, workflow worker, cloud agent
 * with its stage VMs and serverless gateway): every input class but the CLI (whose 19 child processes take a minute
 * of their own: `node lib/bench/faults/bad-inputs-main.js` runs all of it) gets its malformed values through its
 * real entry point. Every one must be rejected with a named error, and after each class a good query must still
 * complete with every process the stack started still alive.
 * Also the one CLI case that goes through the running stack's cloud agent (`pools scale --stage 99`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runBadInputs, type BadInputClass, type BadInputRow } from '../../bench/faults/bad-inputs';
import { badInputText } from '../../bench/faults/bad-input-table';
import { startTestStack, type TestStack } from '../helpers/test-stack';

const CLASSES: BadInputClass[] = [
  'sdk',
  'claimCheck',
  'config',
  'trace',
  'profile',
  'manifest',
  'stageEvents',
  'billing',
  'routing',
  'pools',
];

describe('bad inputs on a real stack', { timeout: 300_000 }, () => {
  let s: TestStack;
  let rows: BadInputRow[];

  before(async () => {
    s = await startTestStack();
    const lines: string[] = [];
    rows = await runBadInputs(
      { client: s.client, nc: s.nc, config: s.config, stackInfo: s.stack.info, classes: CLASSES },
      (l) => lines.push(l),
    );
  });
  after(async () => s?.stop());

  test('every input class got its cases', () => {
    const labels = new Set(rows.map((r) => r.input));
    assert.equal(labels.size, CLASSES.length, [...labels].join(', '));
    assert.ok(rows.length >= 90, `${rows.length} rows`);
  });

  test('every bad input is rejected with a named error', () => {
    const notNamed = rows.filter((r) => !r.named);
    assert.deepEqual(notNamed, [], badInputText(notNamed));
  });

  test('nothing was lost or stopped: a good query completed after each class and every process is the one started', () => {
    const lost = rows.filter((r) => r.lostOrStopped !== undefined);
    assert.deepEqual(lost, [], badInputText(lost));
  });

  test('the routing bucket holds no bad value afterwards, and queries still run', async () => {
    const result = await s.client.infer(new Float32Array(784).fill(0.5));
    assert.ok(result.exitStage >= 1);
  });
});
