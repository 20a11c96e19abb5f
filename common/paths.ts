import * as path from 'node:path';

/**
 * The project root. Compiled code lives in `<root>/lib/<dir>/`, so this file compiles to
 * `<root>/lib/common/paths.js`; model artifacts and tools are resolved from the root, not from `lib/`.
 */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** Directory holding one folder per shipped early-exit model (`models/<name>/manifest.json`). */
export const MODELS_DIR = path.join(PROJECT_ROOT, 'models');

/** Project-local state: embedded-stack data (SQLite, JetStream store), tools, the `up --detach` state file. */
export const DEFAULT_HOME_DIR = path.join(PROJECT_ROOT, '.serflow');
