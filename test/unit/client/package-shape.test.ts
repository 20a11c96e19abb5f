/**
 * The client SDK as a package: `npm pack` ships the compiled client with its type declarations, the CLI, the model
 * files queries need and the setup script, and no tests or sources; a scratch project that has the packed tarball
 * in its node_modules compiles against `serflow` (strict TypeScript, both module resolutions: `exports` and the
 * legacy `types` field) and can `require('serflow')` at run time. The scratch project links the dependencies from
 * this checkout's node_modules, so nothing is downloaded. Uses the built tree (`npm run build`); the pack runs with
 * `--ignore-scripts` so it does not rebuild.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../../common/paths';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-pack-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface PackEntry {
  filename: string;
  files: { path: string; size: number }[];
}

async function npm(args: string[]): Promise<string> {
  const { stdout } = await run(NPM, args, { cwd: PROJECT_ROOT, timeout: 120_000, maxBuffer: 64 << 20 });
  return stdout;
}

/** The JSON printed by `npm pack --json` (after any lifecycle output). */
function packJson(stdout: string): PackEntry {
  const entries = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackEntry[];
  assert.equal(entries.length, 1);
  return entries[0]!;
}

describe('npm pack', () => {
  test('the tarball holds the client with its declarations, the CLI and the models; no tests, sources or maps', async () => {
    const files = packJson(await npm(['pack', '--dry-run', '--json', '--ignore-scripts'])).files.map((f) => f.path);
    const has = new Set(files);
    for (const needed of [
      'package.json',
      'lib/client/index.js',
      'lib/client/index.d.ts',
      'lib/client/serflow-client.d.ts',
      'lib/common/contracts.d.ts',
      'lib/cli/main.js',
      'lib/workflow-bundle.js',
      'bin/serflow.js',
      'models/mnist-ee/manifest.json',
      'models/mnist-ee/stage-1.onnx',
      'scripts/setup-tools.js',
    ]) {
      assert.ok(has.has(needed), `${needed} is not in the tarball`);
    }
    const unwanted = files.filter(
      (f) =>
        f.startsWith('test/') ||
        f.startsWith('lib/test/') ||
        f.endsWith('.map') ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        f.startsWith('.serflow/') ||
        f.startsWith('node_modules/'),
    );
    assert.deepEqual(unwanted, []);
  });

  test('a scratch project compiles against the packed package and requires it', async () => {
    const out = packJson(await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', scratch]));
    const modules = path.join(scratch, 'node_modules');
    const pkgDir = path.join(modules, 'serflow');
    fs.mkdirSync(pkgDir, { recursive: true });
    await run('tar', ['xzf', path.join(scratch, out.filename), '-C', pkgDir, '--strip-components=1']);
    // Dependencies as an install would place them, linked from this checkout (no network).
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const dep of [...Object.keys(pkg.dependencies), '@types/node']) {
      fs.mkdirSync(path.dirname(path.join(modules, dep)), { recursive: true });
      fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules', dep), path.join(modules, dep), 'dir');
    }
    fs.writeFileSync(
      path.join(scratch, 'consumer.ts'),
      [
        "import { SerflowClient, InferenceFailedError, NoStackError, StackUnreachableError, loadConfig } from 'serflow';",
        "import type { InferenceResult, SerflowConfig, InferOptions } from 'serflow';",
        'export async function classify(pixels: Float32Array): Promise<number> {',
        '  const config: SerflowConfig = loadConfig();',
        '  const options: InferOptions = { threshold: 0.9, deadlineMs: 5_000 };',
        '  const client = await SerflowClient.connect({ config, connectTimeoutMs: 1_000 });',
        '  try {',
        '    const result: InferenceResult = await client.infer(pixels, options);',
        '    // @ts-expect-error an input is a tensor, not a string: the declarations are real, not any',
        "    await client.infer('pixels');",
        '    return result.exitStage;',
        '  } catch (err) {',
        '    if (err instanceof InferenceFailedError) return err.type.length;',
        '    if (err instanceof NoStackError || err instanceof StackUnreachableError) return -1;',
        '    throw err;',
        '  } finally {',
        '    await client.close();',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    for (const resolution of [
      { module: 'node16', moduleResolution: 'node16' },
      { module: 'commonjs', moduleResolution: 'node10' },
    ]) {
      const tsconfig = path.join(scratch, `tsconfig.${resolution.moduleResolution}.json`);
      fs.writeFileSync(
        tsconfig,
        JSON.stringify({
          compilerOptions: { ...resolution, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true },
          files: ['consumer.ts'],
        }),
      );
      try {
        await run(process.execPath, [TSC, '-p', tsconfig], { cwd: scratch, timeout: 120_000 });
      } catch (err) {
        assert.fail(
          `tsc (${resolution.moduleResolution}) failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`,
        );
      }
    }
    const probe = [
      "const s = require('serflow');",
      "const fs = require('node:fs'); const path = require('node:path');",
      'const c = s.loadConfig();',
      "let blocked = false; try { require('serflow/lib/cli/main'); } catch (e) { blocked = e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'; }",
      'console.log(JSON.stringify({',
      '  client: typeof s.SerflowClient.connect,',
      "  manifest: fs.existsSync(path.join(c.modelsDir, c.defaultModel, 'manifest.json')),",
      "  inPackage: c.modelsDir.startsWith(path.join(process.cwd(), 'node_modules', 'serflow')),",
      '  blocked,',
      '}));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['-e', probe], { cwd: scratch, timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout), { client: 'function', manifest: true, inPackage: true, blocked: true });
  });
});
