/**
 * The ESLint config keeps the house's layering (shared/docs/layout.md): each wing imports only the wings below
 * it, wings on one floor do not import each other, and the two sanctioned type-only arrows
 * (activities → workflows, workflows → client) stay type-only. An import that breaks a rule is a
 * `no-restricted-imports` error whose message says the rule.
 * The probe files never exist on disk; eslint.config.mjs lets the project service type-check them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../../common/paths';
import { IMPORT_RULE as RULE, lintAt, projectEslint, restrictedImports } from '../../helpers/lint';

/** A probe file at the top of `wing` (depth 1); `models/__wing_probe__/` is a probe one folder down (depth 2). */
function probe(wing: string): string {
  return path.join(PROJECT_ROOT, wing, '__wing_probe__.ts');
}
const NESTED_MODELS_PROBE = path.join(PROJECT_ROOT, 'models', '__wing_probe__', '__wing_probe__.ts');

/** A value import of `from` (the module's exports are used, so it is not a type-only import). */
const valueImport = (from: string) => `import * as m from '${from}';\nexport const x = m;\n`;
/** A type-only import of `from`. */
const typeImport = (from: string) => `import type * as m from '${from}';\nexport type X = typeof m;\n`;

interface Case {
  what: string;
  file: string;
  code: string;
}

const bad: Array<Case & { message: RegExp }> = [
  {
    what: 'common/ importing infra/',
    file: probe('common'),
    code: valueImport('../infra/nats'),
    message: /^.*common\/ is the ground floor: it imports nothing outside common\/ \(layout\.md\)$/,
  },
  {
    what: 'common/ importing a type from models/',
    file: probe('common'),
    code: typeImport('../models/manifest'),
    message: /common\/ is the ground floor/,
  },
  {
    what: 'infra/ importing activities/',
    file: probe('infra'),
    code: valueImport('../activities/stage-activities'),
    message: /infra\/ is on floor 2: it imports only common\//,
  },
  {
    what: 'infra/ importing models/ (same floor)',
    file: probe('infra'),
    code: valueImport('../models/manifest'),
    message: /infra\/ is on floor 2/,
  },
  {
    what: 'billing/ re-exporting infra/',
    file: probe('billing'),
    code: "export { connectNats } from '../infra/nats';\n",
    message: /billing\/ is on floor 2/,
  },
  {
    what: 'models/runtime-like subfolder importing infra/ (two levels up)',
    file: NESTED_MODELS_PROBE,
    code: valueImport('../../infra/nats'),
    message: /models\/ is on floor 2/,
  },
  {
    what: 'scripts/ importing infra/',
    file: probe('scripts'),
    code: valueImport('../infra/temporal'),
    message: /scripts\/ import only common\//,
  },
  {
    what: 'activities/ importing autoscaler/ (beside it)',
    file: probe('activities'),
    code: valueImport('../autoscaler/config'),
    message: /activities\/ is on floor 3: .*not workflows\/, autoscaler\/, eval\/ beside it/,
  },
  {
    what: 'activities/ importing workflows/',
    file: probe('activities'),
    code: valueImport('../workflows/activity-options'),
    message: /activities\/ is on floor 3/,
  },
  {
    what: 'autoscaler/ importing eval/',
    file: probe('autoscaler'),
    code: valueImport('../eval/workload/traces'),
    message: /autoscaler\/ is on floor 3/,
  },
  {
    what: 'eval/ importing sim/ (a floor up)',
    file: probe('eval'),
    code: valueImport('../sim/engine'),
    message: /eval\/ is on floor 3/,
  },
  {
    what: 'a value import of activities/ into workflows/',
    file: probe('workflows'),
    code: "import { createStageActivities } from '../activities/stage-activities';\nexport const x = createStageActivities;\n",
    message: /workflows\/ runs in the sandbox: .*from activities\/ only `import type`/,
  },
  {
    what: 'workflows/ importing infra/ (even a type: only common/ and activities/ types)',
    file: probe('workflows'),
    code: typeImport('../infra/routing-store'),
    message: /workflows\/ runs in the sandbox: it imports only common\//,
  },
  {
    what: 'workers/ importing deploy/',
    file: probe('workers'),
    code: valueImport('../deploy/local/stack'),
    message: /workers\/ is on floor 4/,
  },
  {
    what: 'workers/ importing client/ (beside it)',
    file: probe('workers'),
    code: valueImport('../client'),
    message: /workers\/ is on floor 4: .*not client\/, sim\/ beside it/,
  },
  {
    what: 'sim/ importing bench/',
    file: probe('sim'),
    code: valueImport('../bench/sim-speed'),
    message: /sim\/ is on floor 4/,
  },
  {
    what: 'a value import of workflows/ into client/',
    file: probe('client'),
    code: "import { inferenceWorkflow } from '../workflows/inference';\nexport const x = inferenceWorkflow;\n",
    message: /client\/ is the SDK: .*from workflows\/ only `import type`/,
  },
  {
    what: 'client/ importing activities/',
    file: probe('client'),
    code: typeImport('../activities/stage-activities'),
    message: /client\/ is the SDK: it imports only common\/, infra\/, models\//,
  },
  {
    what: 'deploy/ importing cli/',
    file: probe('deploy'),
    code: valueImport('../cli/main'),
    message: /deploy\/ is on floor 5/,
  },
  {
    what: 'bench/ importing cli/ (spelled ./../)',
    file: probe('bench'),
    code: valueImport('./../cli/table'),
    message: /bench\/ is on floor 6/,
  },
  {
    what: 'cli/ importing test helpers',
    file: probe('cli'),
    code: valueImport('../test/helpers/wait-until'),
    message: /cli\/ is the top floor: it imports every wing, but not test\//,
  },
];

for (const { what, file, code, message } of bad) {
  test(`${what} is a ${RULE} error naming the rule`, async () => {
    const result = await lintAt(code, file);
    const errors = restrictedImports(result);
    assert.equal(errors.length, 1, JSON.stringify(result.messages, null, 2));
    assert.equal(errors[0]!.severity, 2);
    assert.match(errors[0]!.message, message);
    assert.match(errors[0]!.message, /\(layout\.md\)$/);
  });
}

const good: Case[] = [
  { what: 'common/ importing common/', file: probe('common'), code: valueImport('./naming') },
  { what: 'infra/ importing common/', file: probe('infra'), code: valueImport('../common/naming') },
  { what: 'infra/ importing itself the long way', file: probe('infra'), code: valueImport('../infra/nats') },
  { what: 'models/ importing its runtime/ subfolder', file: probe('models'), code: valueImport('./runtime/session') },
  {
    what: 'a models/ subfolder importing a sibling subfolder (`../runtime/x`)',
    file: NESTED_MODELS_PROBE,
    code: valueImport('../runtime/session'),
  },
  {
    // `../infra` from two levels down is models/infra/, not the infra/ wing
    what: 'a models/ subfolder importing a subfolder that shares a wing name',
    file: NESTED_MODELS_PROBE,
    code: valueImport('../infra/x'),
  },
  {
    what: 'a models/ subfolder importing common/ (two levels up)',
    file: NESTED_MODELS_PROBE,
    code: valueImport('../../common/naming'),
  },
  { what: 'autoscaler/ importing ./policies', file: probe('autoscaler'), code: valueImport('./policies') },
  { what: 'scripts/ importing common/', file: probe('scripts'), code: valueImport('../common/paths') },
  { what: 'activities/ importing infra/', file: probe('activities'), code: valueImport('../infra/nats') },
  { what: 'activities/ importing models/', file: probe('activities'), code: valueImport('../models/manifest') },
  { what: 'eval/ importing billing/', file: probe('eval'), code: valueImport('../billing/prices') },
  { what: 'workflows/ importing common/', file: probe('workflows'), code: valueImport('../common/routing') },
  {
    what: '`import type` of activities/ into workflows/',
    file: probe('workflows'),
    code: "import type { createStageActivities } from '../activities/stage-activities';\nexport type X = typeof createStageActivities;\n",
  },
  {
    what: 'workers/ importing activities/',
    file: probe('workers'),
    code: valueImport('../activities/stage-activities'),
  },
  { what: 'sim/ importing eval/', file: probe('sim'), code: valueImport('../eval/workload/traces') },
  { what: 'client/ importing infra/', file: probe('client'), code: valueImport('../infra/temporal') },
  {
    what: '`import type` of workflows/ into client/',
    file: probe('client'),
    code: "import type { inferenceWorkflow } from '../workflows/inference';\nexport type X = typeof inferenceWorkflow;\n",
  },
  { what: 'deploy/ importing workers/', file: probe('deploy'), code: valueImport('../workers/stage-worker') },
  { what: 'bench/ importing deploy/', file: probe('bench'), code: valueImport('../deploy/local/stack') },
  { what: 'cli/ importing bench/', file: probe('cli'), code: valueImport('../bench/overhead') },
  { what: 'a package import', file: probe('common'), code: valueImport('zod') },
];

for (const { what, file, code } of good) {
  test(`${what} is allowed`, async () => {
    const result = await lintAt(code, file);
    assert.deepEqual(restrictedImports(result), [], JSON.stringify(result.messages, null, 2));
  });
}

test('workflows/ keeps the sandbox rule beside the wing rule (flat config replaces, not merges, rule options)', async () => {
  const result = await lintAt(valueImport('node:fs'), probe('workflows'));
  const errors = restrictedImports(result);
  assert.equal(errors.length, 1, JSON.stringify(result.messages, null, 2));
  assert.match(errors[0]!.message, /workflow code must be deterministic/);
});

test(`every top-level folder with TypeScript sources (but test/) has a ${RULE} wing rule`, async () => {
  const folders = fs
    .readdirSync(PROJECT_ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'lib', 'test'].includes(e.name))
    .filter((e) => fs.readdirSync(path.join(PROJECT_ROOT, e.name), { recursive: true }).some(isTs))
    .map((e) => e.name);
  assert.ok(folders.includes('common') && folders.includes('cli'), `found the wings: ${folders.join(', ')}`);
  for (const folder of folders) {
    for (const file of [probe(folder), path.join(PROJECT_ROOT, folder, 'a', 'b', 'c', 'd.ts')]) {
      const config = (await projectEslint.calculateConfigForFile(file)) as { rules?: Record<string, unknown> };
      const options = config.rules?.[RULE] as [unknown, { patterns?: Array<{ message?: string }> }] | undefined;
      const messages = (options?.[1]?.patterns ?? []).map((p) => p.message ?? '');
      assert.ok(
        messages.some((m) => m.startsWith(`${folder}/ `) && m.endsWith('(layout.md)')),
        `${path.relative(PROJECT_ROOT, file)}: no wing rule in eslint.config.mjs`,
      );
    }
  }
});

function isTs(name: string | Buffer): boolean {
  const s = name.toString();
  return s.endsWith('.ts') && !s.endsWith('.d.ts') && !s.includes('node_modules');
}
