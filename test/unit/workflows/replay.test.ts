/**
 * Replay safety: every workflow history recorded by an earlier commit (test/fixtures/histories/, written by
 * test/helpers/record-histories.ts) replays without nondeterminism against the workflow bundle the workers run
 * now (`lib/workflow-bundle.js`, built by `npm run build`). A change to workflows/ that would break queries in
 * flight during an upgrade fails here; such a change needs `patched()` (workflow versioning) instead.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../../common/paths';
import { WORKFLOW_BUNDLE_PATH } from '../../../workers/workflow-worker';
import { HISTORIES_DIR, historyFromObject, type HistoryIndex } from '../../helpers/record-histories';

const dir = path.join(PROJECT_ROOT, HISTORIES_DIR);
const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as HistoryIndex;

describe(`replay of the histories recorded at ${index.commit?.slice(0, 10) ?? 'an earlier commit'}`, () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });

  test('the recorded set covers completed and failed queries', () => {
    assert.ok(index.histories.length >= 6, `${index.histories.length} histories`);
    assert.ok(index.histories.some((h) => h.status === 'completed'));
    assert.ok(index.histories.some((h) => h.status === 'failed'));
  });

  for (const h of index.histories) {
    test(`${h.file}: ${h.what}`, async () => {
      const history = historyFromObject(JSON.parse(fs.readFileSync(path.join(dir, h.file), 'utf8')));
      // Throws DeterminismViolationError (or the workflow's own error on replay) when the code no longer fits.
      await Worker.runReplayHistory({ workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }, history, h.workflowId);
    });
  }
});
