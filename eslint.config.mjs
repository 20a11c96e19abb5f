// ESLint flat config. TypeScript sources are linted with type information (typescript-eslint
// `recommendedTypeChecked`); the few plain CommonJS scripts (bin/, scripts/) without it.
// Workflow code (workflows/**) must stay deterministic, so Node built-ins and I/O packages are banned there
// (style.md, habit 8).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Message shown when workflow code imports something that does I/O. */
const WORKFLOW_IMPORT_MESSAGE =
  'workflow code must be deterministic: no I/O or Node built-ins (move it to an activity; `import type` is fine)';

/** Packages that do I/O (native code, sockets, worker threads) and so must not be loaded in the workflow sandbox. */
const WORKFLOW_BANNED_PACKAGES = [
  'onnxruntime-node',
  'nats',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  'piscina',
];

/**
 * Built-ins that exist only with the `node:` prefix. Node 20's `builtinModules` does not list them (newer Node
 * versions list them with the prefix, which the map below keeps as is).
 */
const PREFIX_ONLY_BUILTINS = ['node:sea', 'node:sqlite', 'node:test', 'node:test/reporters'];

/** Both spellings of every Node built-in (`fs`, `node:fs`, `fs/promises`, `node:fs/promises`, ...). */
const nodeBuiltins = [
  ...new Set([
    ...builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])),
    ...PREFIX_ONLY_BUILTINS,
  ]),
].sort();

/**
 * Files the lint test (test/unit/lint-workflows.test.ts) lints from text. They never exist on disk, so the
 * project service cannot find them in tsconfig.json; it type-checks them in its default project instead.
 */
const LINT_PROBE_FILES = ['workflows/__lint_probe__.ts', 'activities/__probe__.ts'];

/** Globals of a CommonJS Node script (the `globals` package is not a direct dependency). */
const nodeCommonJsGlobals = Object.fromEntries(
  [
    ...['require', 'module', 'exports', '__dirname', '__filename'],
    ...['process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'AbortController', 'TextEncoder', 'TextDecoder'],
    ...['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'],
    ...['queueMicrotask', 'structuredClone', 'fetch', 'performance', 'globalThis'],
  ].map((name) => [name, name === 'exports' || name === 'module' ? 'writable' : 'readonly']),
);

export default defineConfig(
  {
    ignores: [
      'lib/',
      'node_modules/',
      '.serflow/',
      '.venv*/',
      'models/tools/',
      'bench/results/',
      '**/*.js',
      '!bin/*.js',
      '!scripts/*.js',
    ],
  },

  js.configs.recommended,

  // TypeScript, type-checked.
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: LINT_PROBE_FILES },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // Activities and interface implementations are `async` to return a Promise of a contract even when their
      // body happens not to await (e.g. an in-memory fake, or an inline activation that needs no fetch).
      '@typescript-eslint/require-await': 'off',
    },
  },

  // Tests: node:test's `test()`/`describe()` return promises the runner awaits itself.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] },
          ],
        },
      ],
    },
  },

  // Workflow code runs in Temporal's deterministic sandbox.
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...WORKFLOW_BANNED_PACKAGES].map((name) => ({
            name,
            message: WORKFLOW_IMPORT_MESSAGE,
            allowTypeImports: true,
          })),
          patterns: [
            {
              // deep imports of the banned packages (`@temporalio/worker/lib/...`)
              group: WORKFLOW_BANNED_PACKAGES.map((p) => `${p}/*`),
              message: WORKFLOW_IMPORT_MESSAGE,
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },

  // Plain CommonJS Node scripts: no type information (the type-checked block above matches only *.ts).
  {
    files: ['bin/*.js', 'scripts/*.js'],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2022, globals: nodeCommonJsGlobals },
  },

  // This file (ESM, run by Node).
  {
    files: ['*.mjs'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022, globals: { console: 'readonly', process: 'readonly' } },
  },
);
