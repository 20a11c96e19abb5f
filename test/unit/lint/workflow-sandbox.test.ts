/**
 * The ESLint config keeps workflow code deterministic: Node built-ins and I/O packages are a
 * `no-restricted-imports` error in workflows/ (type-only imports allowed), and fine elsewhere.
 * The probe files never exist on disk; eslint.config.mjs lets the project service type-check them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../../common/paths';
import { IMPORT_RULE as RULE, lintAt, projectEslint, restrictedImports } from '../../helpers/lint';

const WORKFLOW_PROBE = path.join(PROJECT_ROOT, 'workflows', '__lint_probe__.ts');
const ACTIVITY_PROBE = path.join(PROJECT_ROOT, 'activities', '__probe__.ts');

const banned: Array<{ what: string; code: string }> = [
  { what: 'node:fs', code: "import * as fs from 'node:fs';\nexport const x = fs;\n" },
  { what: 'bare fs', code: "import { readFileSync } from 'fs';\nexport const x = readFileSync;\n" },
  { what: 'fs/promises', code: "import { readFile } from 'node:fs/promises';\nexport const x = readFile;\n" },
  { what: 'node:crypto', code: "import { randomUUID } from 'node:crypto';\nexport const x = randomUUID;\n" },
  { what: 'node:test (a prefix-only built-in)', code: "import { test } from 'node:test';\nexport const x = test;\n" },
  { what: 'nats', code: "import { connect } from 'nats';\nexport const x = connect;\n" },
  { what: 'onnxruntime-node', code: "import * as ort from 'onnxruntime-node';\nexport const x = ort;\n" },
  { what: '@temporalio/client', code: "import { Client } from '@temporalio/client';\nexport const x = Client;\n" },
  { what: '@temporalio/worker', code: "import { Worker } from '@temporalio/worker';\nexport const x = Worker;\n" },
  {
    what: '@temporalio/activity',
    code: "import { Context } from '@temporalio/activity';\nexport const x = Context;\n",
  },
  { what: 'piscina', code: "import { Piscina } from 'piscina';\nexport const x = Piscina;\n" },
  {
    what: 'a deep import of @temporalio/worker',
    code: "import { Worker } from '@temporalio/worker/lib/worker';\nexport const x = Worker;\n",
  },
  { what: 'a re-export of nats', code: "export { connect } from 'nats';\n" },
];

for (const { what, code } of banned) {
  test(`importing ${what} in a workflow file is a ${RULE} error`, async () => {
    const result = await lintAt(code, WORKFLOW_PROBE);
    const errors = restrictedImports(result);
    assert.equal(errors.length, 1, JSON.stringify(result.messages, null, 2));
    assert.equal(errors[0]!.severity, 2);
    assert.match(errors[0]!.message, /workflow code must be deterministic/);
  });

  test(`importing ${what} in an activity file is allowed`, async () => {
    const result = await lintAt(code, ACTIVITY_PROBE);
    assert.deepEqual(restrictedImports(result), []);
  });
}

const allowedInWorkflows: Array<{ what: string; code: string }> = [
  {
    what: 'a type-only import of nats',
    code: "import type { NatsConnection } from 'nats';\nexport type X = NatsConnection;\n",
  },
  {
    what: 'a type-only import of an activity module',
    code: "import type { createStageActivities } from '../activities/stage-activities';\nexport type X = typeof createStageActivities;\n",
  },
  { what: 'zod (pure)', code: "import { z } from 'zod';\nexport const x = z.string();\n" },
  { what: '@temporalio/workflow', code: "import { sleep } from '@temporalio/workflow';\nexport const x = sleep;\n" },
  {
    what: 'shared pure modules',
    code: "import { stageTaskQueue } from '../common/naming';\nexport const x = stageTaskQueue;\n",
  },
];
for (const { what, code } of allowedInWorkflows) {
  test(`${what} is allowed in a workflow file`, async () => {
    const result = await lintAt(code, WORKFLOW_PROBE);
    assert.deepEqual(restrictedImports(result), []);
  });
}

test(`the workflow files in the repository have no ${RULE} errors`, async () => {
  const results = await projectEslint.lintFiles(['workflows/**/*.ts']);
  assert.ok(results.length > 0, 'found workflow files');
  const errors = results.flatMap((r) =>
    restrictedImports(r).map((m) => `${path.relative(PROJECT_ROOT, r.filePath)}:${m.line} ${m.message}`),
  );
  assert.deepEqual(errors, []);
});
