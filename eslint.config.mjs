// ESLint flat config. TypeScript sources are linted with type information (typescript-eslint
// `recommendedTypeChecked`); the few plain CommonJS scripts (bin/, scripts/) without it.
// Workflow code (workflows/**) must stay deterministic, so Node built-ins and I/O packages are banned there
// (style.md, habit 8). Each wing of the house imports only the wings below it (shared/docs/layout.md): the
// WINGS table below is that layout, and one `no-restricted-imports` block per wing enforces it.
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

/** The workflow sandbox's import restrictions (Node built-ins and I/O packages; `import type` is fine). */
const WORKFLOW_SANDBOX = {
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
};

/**
 * The wings of the house (shared/docs/layout.md, "Wings, bottom to top"): for each top-level folder, its floor,
 * the wings it may import (`may`; itself always), the wings it may only `import type` from (`mayType`), and the
 * rule in words, shown as the lint message. Every other folder of the project (a wing not listed in `may`,
 * test/, a new folder) is out of reach: a relative import that climbs out of the wing to anywhere else is an
 * error. tests (test/) and bin/*.js are not wings and are not restricted.
 */
const FLOOR_1 = ['common'];
const FLOOR_2 = ['models', 'billing', 'infra'];
const FLOOR_3 = ['workflows', 'activities', 'autoscaler', 'eval'];
const FLOOR_4 = ['workers', 'client', 'sim'];
const WINGS = {
  common: { floor: 1, may: [], rule: 'common/ is the ground floor: it imports nothing outside common/' },
  models: { floor: 2, may: FLOOR_1, rule: 'models/ is on floor 2: it imports only common/' },
  billing: { floor: 2, may: FLOOR_1, rule: 'billing/ is on floor 2: it imports only common/' },
  infra: { floor: 2, may: FLOOR_1, rule: 'infra/ is on floor 2: it imports only common/' },
  scripts: { floor: 2, may: FLOOR_1, rule: 'scripts/ import only common/' },
  workflows: {
    floor: 3,
    may: FLOOR_1,
    mayType: ['activities'],
    rule:
      'workflows/ runs in the sandbox: it imports only common/, and from activities/ only `import type` ' +
      "(Temporal's proxyActivities<typeof ...> idiom)",
  },
  activities: {
    floor: 3,
    may: [...FLOOR_1, ...FLOOR_2],
    rule: 'activities/ is on floor 3: it imports only common/, models/, billing/, infra/ (not workflows/, autoscaler/, eval/ beside it)',
  },
  autoscaler: {
    floor: 3,
    may: [...FLOOR_1, ...FLOOR_2],
    rule: 'autoscaler/ is on floor 3: it imports only common/, models/, billing/, infra/ (not workflows/, activities/, eval/ beside it)',
  },
  eval: {
    floor: 3,
    may: [...FLOOR_1, ...FLOOR_2],
    rule: 'eval/ is on floor 3: it imports only common/, models/, billing/, infra/ (not workflows/, activities/, autoscaler/ beside it)',
  },
  workers: {
    floor: 4,
    may: [...FLOOR_1, ...FLOOR_2, ...FLOOR_3],
    rule: 'workers/ is on floor 4: it imports only floors 1-3 (not client/, sim/ beside it, nor deploy/, bench/, cli/ above)',
  },
  client: {
    floor: 4,
    may: ['common', 'infra', 'models'],
    mayType: ['workflows'],
    rule: 'client/ is the SDK: it imports only common/, infra/, models/, and from workflows/ only `import type`',
  },
  sim: {
    floor: 4,
    may: [...FLOOR_1, ...FLOOR_2, ...FLOOR_3],
    rule: 'sim/ is on floor 4: it imports only floors 1-3 (not workers/, client/ beside it, nor deploy/, bench/, cli/ above)',
  },
  deploy: {
    floor: 5,
    may: [...FLOOR_1, ...FLOOR_2, ...FLOOR_3, ...FLOOR_4],
    rule: 'deploy/ is on floor 5: it imports only floors 1-4 (not bench/, cli/ above)',
  },
  bench: {
    floor: 6,
    may: [...FLOOR_1, ...FLOOR_2, ...FLOOR_3, ...FLOOR_4, 'deploy'],
    rule: 'bench/ is on floor 6: it imports only floors 1-5 (not cli/ above)',
  },
  cli: {
    floor: 7,
    may: [...FLOOR_1, ...FLOOR_2, ...FLOOR_3, ...FLOOR_4, 'deploy', 'bench'],
    rule: 'cli/ is the top floor: it imports every wing, but not test/',
  },
};

// The table is checked when the config loads, so it cannot contradict the floors: a wing imports only wings on a
// lower floor, and `import type` may also reach its own floor (the one sanctioned case: activities/ into workflows/).
for (const [wing, { floor, may, mayType = [] }] of Object.entries(WINGS)) {
  for (const [to, ok] of [
    ...may.map((w) => [w, WINGS[w]?.floor < floor]),
    ...mayType.map((w) => [w, WINGS[w]?.floor <= floor]),
  ]) {
    if (!ok)
      throw new Error(
        `eslint.config.mjs: WINGS.${wing} (floor ${floor}) may not import ${to}/ (floor ${WINGS[to]?.floor})`,
      );
  }
}

/**
 * A file at depth d (`infra/x.ts`: 1, `models/runtime/x.ts`: 2) reaches a top-level folder with exactly d `../`,
 * so the blocks are made per depth: `../runtime/x` from models/runtime/ (a subfolder of the same wing) and
 * `./policies` never match. Files deeper than WING_MAX_DEPTH share the last block, which counts d or more `../`.
 */
const WING_MAX_DEPTH = 3;

/** `^(./)?(../){d}` (d exactly, or at least d when `orMore`) as regex source. */
const climb = (d, orMore) => `^(\\./)?(\\.\\./){${d}${orMore ? ',' : ''}}`;
const oneOf = (names) => `(${names.join('|')})(/|$)`;

/** The `no-restricted-imports` options of a file of `wing` at depth `d`. */
function wingRestrictions(wing, d, orMore) {
  const { may, mayType = [], rule } = WINGS[wing];
  const message = `${rule} (layout.md)`;
  const reachable = [wing, ...may, ...mayType];
  const patterns = [
    // Climb out of the wing to any top-level folder not reachable (a wing above or beside, test/, a new folder).
    { regex: `${climb(d, orMore)}(?!${oneOf(reachable)})[^./]`, message },
  ];
  if (mayType.length > 0) {
    patterns.push({ regex: `${climb(d, orMore)}${oneOf(mayType)}`, message, allowTypeImports: true });
  }
  const sandbox = wing === 'workflows' ? WORKFLOW_SANDBOX : { paths: [], patterns: [] };
  return { paths: sandbox.paths, patterns: [...sandbox.patterns, ...patterns] };
}

/** One config block per wing and depth d: `files: ['<wing>/*.ts']` for d = 1, one `*` folder more per depth. */
const wingBlocks = Object.keys(WINGS).flatMap((wing) =>
  Array.from({ length: WING_MAX_DEPTH }, (_, i) => {
    const d = i + 1;
    const orMore = d === WING_MAX_DEPTH;
    const dirs = Array.from({ length: d - 1 }, () => '*/');
    const files = [`${wing}/${dirs.join('')}${orMore ? '**/' : ''}*.ts`];
    return {
      name: `serflow/wings/${wing}/depth-${d}${orMore ? '+' : ''}`,
      files,
      rules: { 'no-restricted-imports': ['error', wingRestrictions(wing, d, orMore)] },
    };
  }),
);

/**
 * Files the lint tests (test/unit/lint/) lint from text. They never exist on disk, so the project service cannot
 * find them in tsconfig.json; it type-checks them in its default project instead.
 */
const LINT_PROBE_FILES = [
  'workflows/__lint_probe__.ts',
  'activities/__probe__.ts',
  ...Object.keys(WINGS).map((wing) => `${wing}/__wing_probe__.ts`),
  'models/__wing_probe__/__wing_probe__.ts',
];

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
      // Private build folders of parallel work (gitignored too).
      'lib-*/',
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
        projectService: {
          allowDefaultProject: LINT_PROBE_FILES,
          // One probe per wing: more than the default 8. Only the probes (never on disk) open in the default project.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: LINT_PROBE_FILES.length,
        },
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

  // The wings (layout.md): each imports only the wings below it. The workflows/ blocks carry the workflow
  // sandbox's restrictions too (flat config replaces a rule's options, it does not merge them).
  ...wingBlocks,

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
