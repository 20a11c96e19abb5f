/**
 * Linting code as if it stood at a path of the project, for the tests of the lint rules (test/unit/lint/). The
 * probe paths never exist on disk; eslint.config.mjs lets the project service type-check them (LINT_PROBE_FILES).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ESLint } from 'eslint';
import { PROJECT_ROOT } from '../../common/paths';

/** The rule the import restrictions (workflow sandbox, wings) are written with. */
export const IMPORT_RULE = 'no-restricted-imports';

/** One ESLint for the whole test file: it loads the config and the TypeScript project once. */
export const projectEslint = new ESLint({ cwd: PROJECT_ROOT });

/** Lint `code` as if it were at `filePath`; fails the test on a parse or project-service error. */
export async function lintAt(code: string, filePath: string): Promise<ESLint.LintResult> {
  assert.ok(!fs.existsSync(filePath), `${filePath} must not exist on disk`);
  const [result] = await projectEslint.lintText(code, { filePath });
  assert.ok(result, 'one lint result');
  const fatal = result.messages.filter((m) => m.fatal || m.ruleId === null);
  assert.deepEqual(fatal, [], 'no parse or configuration errors');
  return result;
}

/** The import-restriction messages of a result. */
export function restrictedImports(result: ESLint.LintResult): ESLint.LintResult['messages'] {
  return result.messages.filter((m) => m.ruleId === IMPORT_RULE);
}
