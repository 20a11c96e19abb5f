/**
 * Replay safety: every workflow history recorded by an earlier commit (test/fixtures/histories/<generation>/, one
 * folder per workflow generation, written by test/helpers/record-histories.ts) replays without nondeterminism
 * against the workflow bundle the workers run now (`lib/workflow-bundle.js`, built by `npm run build`, or the one
 * SERFLOW_WORKFLOW_BUNDLE names). A change to workflows/ that would break queries in flight during an upgrade fails
 * here; such a change needs `patched()` (workflow versioning) instead.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../../common/paths';
import { WORKFLOW_BUNDLE_PATH } from '../../../workers/workflow-worker';
import {
  HISTORIES_DIR,
  historyFromObject,
  historyGenerations,
  LOCAL_ACTIVITY_GENERATION,
  type HistoryIndex,
} from '../../helpers/record-histories';

const root = path.join(PROJECT_ROOT, HISTORIES_DIR);
const generations = historyGenerations(root);
const { EventType } = temporal.api.enums.v1;

Runtime.install({ logger: new DefaultLogger('WARN') });

test('the histories of every workflow generation are kept, the local-activity one among them', () => {
  // Queries started by the code before clients sent descriptors may be in flight at an upgrade: never drop them.
  assert.ok(generations.includes(LOCAL_ACTIVITY_GENERATION), `generations: ${generations.join(', ')}`);
  const loose = fs.readdirSync(root).filter((f) => f.endsWith('.json'));
  assert.deepEqual(loose, [], 'recordings live in a generation folder, not loose in the histories folder');
});

for (const generation of generations) {
  const dir = path.join(root, generation);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as HistoryIndex;
  const read = (file: string) => historyFromObject(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));

  describe(`replay of the ${generation} histories recorded at ${index.commit?.slice(0, 10) ?? 'an earlier commit'}`, () => {
    test('the recorded set covers completed and failed queries', () => {
      assert.ok(index.histories.length >= 6, `${index.histories.length} histories`);
      assert.ok(index.histories.some((h) => h.status === 'completed'));
      assert.ok(index.histories.some((h) => h.status === 'failed'));
    });

    if (generation === LOCAL_ACTIVITY_GENERATION) {
      test('every query of this generation ran the describeModel local activity (a marker in its history)', () => {
        for (const h of index.histories) {
          const markers = (read(h.file).events ?? []).filter(
            (e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED,
          );
          assert.equal(markers.length, 1, `${h.file}: ${markers.length} markers`);
        }
      });
    }

    for (const h of index.histories) {
      test(`${h.file}: ${h.what}`, async () => {
        // Throws DeterminismViolationError (or the workflow's own error on replay) when the code no longer fits.
        await Worker.runReplayHistory(
          { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } },
          read(h.file),
          h.workflowId,
        );
      });
    }
  });
}
