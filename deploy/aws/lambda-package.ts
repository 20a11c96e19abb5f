/**
 * The deployable artifact of a model's Lambda functions (`serflow package lambda --model M`), written to
 * `<outDir>/<model>/`:
 * - `lambda.zip`: the compiled handler and the lib/ modules it loads, the production packages it loads (ONNX
 *   Runtime's native library for the configured architecture only), and the model's manifest, profile and ONNX
 *   files under `models/<model>/`; the handler setting is `lib/deploy/aws/lambda-handler.handler`;
 * - `Dockerfile`: the same tree as a container image on `public.ecr.aws/lambda/nodejs:20` (build it in a directory
 *   where lambda.zip is unzipped; for models whose files exceed the zip limit of 250 MB unzipped);
 * - `functions.json`: each function to create (name, memory, environment, handler, runtime, architecture), from
 *   config `aws.lambda`: one per stage, and the whole-model fused run, and any fused run `aws.lambda.functions` lists.
 *
 * What goes in is found by running the handler (lambda-trace.ts): the modules it loads, not a hand-kept list, so
 * the zip holds ~20 of the project's ~60 production packages. The zip is reproducible: sorted entries, fixed dates.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ZipFile } from 'yazl';
import type { SerflowConfig } from '../../common/config';
import { ConfigError } from '../../common/errors';
import { PROJECT_ROOT } from '../../common/paths';
import type { FunctionRef } from '../../infra/providers';
import { loadManifest, modelDir } from '../../models/manifest';
import { LAMBDA_HANDLER_RELATIVE, LAMBDA_HANDLER_SETTING } from './lambda-handler-path';
import { lambdaFunctionName, lambdaMemoryMb } from './lambda-functions';

const run = promisify(execFile);

/** The Lambda runtime the artifact is built for (the handler needs Node >= 20.19, package.json `engines`). */
export const LAMBDA_RUNTIME = 'nodejs20.x';

/** Base image of the container image definition: Lambda's Node 20 image, as the zip's runtime. */
export const LAMBDA_BASE_IMAGE = 'public.ecr.aws/lambda/nodejs:20';

/** Lambda's limit on a function's unzipped code (zip deployment); above it, use the container image. */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;

/** The dates every zip entry carries, so that the same inputs make the same zip. */
const FIXED_MTIME = new Date('2020-01-01T00:00:00Z');

/** Files of a package that the runtime never reads: types, source maps, docs. */
const UNNEEDED_FILE = /(\.d\.ts|\.d\.mts|\.d\.cts|\.map|\.md|\.markdown|\.ts)$/i;

/** ONNX Runtime's binaries are per platform under `bin/napi-v*\/<os>/<arch>/`: only Lambda's are shipped. */
const ORT_BIN = /^node_modules\/onnxruntime-node\/bin\/napi-v[0-9]+\/([^/]+)\/([^/]+)\//;

/** Node's name of a Lambda architecture. */
const NODE_ARCH = { x86_64: 'x64', arm64: 'arm64' } as const;

/** The handler is not compiled, the trace failed: the artifact cannot be built. */
export class LambdaPackageError extends Error {
  override readonly name = 'LambdaPackageError';
}

/** One function of the model, as `aws lambda create-function` takes it. */
export interface LambdaFunctionSpec {
  name: string;
  stage: number;
  /** A fused function's last stage. */
  lastStage?: number;
  memoryMb: number;
  handler: string;
  runtime: string;
  architecture: 'x86_64' | 'arm64';
  /** Its environment; add NATS_URL (and NATS credentials) of the stack. */
  environment: Record<string, string>;
}

export interface LambdaPackageOptions {
  /** `aws.lambda` (names, memory, architecture), `modelsDir`. */
  config: SerflowConfig;
  model: string;
  /** The artifact goes to `<outDir>/<model>/`. */
  outDir: string;
  /** Where `lib/` and `node_modules/` are. @default PROJECT_ROOT */
  projectRoot?: string;
}

export interface LambdaPackage {
  model: string;
  dir: string;
  zipFile: string;
  dockerfile: string;
  functionsFile: string;
  /** Size of lambda.zip and of what it unzips to, bytes. */
  zipBytes: number;
  unzippedBytes: number;
  /** Entries in the zip. */
  files: number;
  /** The production packages shipped, by name. */
  packages: string[];
  functions: LambdaFunctionSpec[];
}

/** Every file under `dir` (relative to it, `/`-separated), recursively, sorted. */
function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/** The package directory (relative to the root: `node_modules/a` or `node_modules/@s/a/node_modules/b`) of a file. */
function packageDirOf(relFile: string): string | undefined {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(relFile);
  return m?.[1];
}

/** The modules the handler loads, relative to `root`, by running it (lambda-trace.ts). */
async function traceHandler(root: string, model: string, modelsDir: string): Promise<string[]> {
  const script = path.join(root, 'lib', 'deploy', 'aws', 'lambda-trace.js');
  if (!fs.existsSync(path.join(root, LAMBDA_HANDLER_RELATIVE)) || !fs.existsSync(script)) {
    throw new LambdaPackageError(`${path.join(root, LAMBDA_HANDLER_RELATIVE)} is not built: run npm run build first`);
  }
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [script, model, modelsDir], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new LambdaPackageError(`tracing the handler failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
  const files = JSON.parse(stdout) as string[];
  return files
    .filter((f) => path.isAbsolute(f) && f.startsWith(root + path.sep))
    .map((f) => path.relative(root, f).split(path.sep).join('/'));
}

/** The functions of `model` to create: one per stage, the whole-model run, and the fused runs configured. */
export function lambdaFunctionSpecs(config: SerflowConfig, model: string, stages: number): LambdaFunctionSpec[] {
  const lambda = config.aws.lambda;
  const refs: FunctionRef[] = Array.from({ length: stages }, (_, i) => ({ model, stage: i + 1 }));
  const fused = new Set(stages > 1 ? [`1-${stages}`] : []);
  for (const key of Object.keys(lambda.functions)) if (key.includes('-')) fused.add(key);
  for (const key of [...fused].sort()) {
    const [first, last] = key.split('-').map(Number) as [number, number];
    if (!(first < last && last <= stages)) {
      throw new ConfigError(`aws.lambda.functions["${key}"]: ${model} has stages 1..${stages}; no fused run ${key}`);
    }
    refs.push({ model, stage: first, lastStage: last });
  }
  return refs.map((fn) => ({
    name: lambdaFunctionName(fn, lambda),
    stage: fn.stage,
    ...(fn.lastStage !== undefined ? { lastStage: fn.lastStage } : {}),
    memoryMb: lambdaMemoryMb(fn, lambda),
    handler: LAMBDA_HANDLER_SETTING,
    runtime: LAMBDA_RUNTIME,
    architecture: lambda.architecture,
    environment: {
      SERFLOW_MODEL: model,
      SERFLOW_STAGE: String(fn.stage),
      ...(fn.lastStage !== undefined ? { SERFLOW_LAST_STAGE: String(fn.lastStage) } : {}),
    },
  }));
}

function dockerfileText(model: string): string {
  return [
    `# The Lambda functions of ${model} as a container image (serflow package lambda). Build it in a directory`,
    '# where lambda.zip is unzipped:  mkdir ctx && unzip lambda.zip -d ctx && docker build -f Dockerfile ctx',
    `FROM ${LAMBDA_BASE_IMAGE}`,
    'COPY lib/ ${LAMBDA_TASK_ROOT}/lib/',
    'COPY node_modules/ ${LAMBDA_TASK_ROOT}/node_modules/',
    'COPY models/ ${LAMBDA_TASK_ROOT}/models/',
    'COPY package.json ${LAMBDA_TASK_ROOT}/',
    `CMD ["${LAMBDA_HANDLER_SETTING}"]`,
    '',
  ].join('\n');
}

/** Build the artifact of `model`'s Lambda functions. */
export async function packageLambda(options: LambdaPackageOptions): Promise<LambdaPackage> {
  const { config, model } = options;
  const root = path.resolve(options.projectRoot ?? PROJECT_ROOT);
  const manifest = loadManifest(model, config.modelsDir); // throws UnknownModelError, InvalidManifestError
  const functions = lambdaFunctionSpecs(config, model, manifest.stages.length);
  const arch = NODE_ARCH[config.aws.lambda.architecture];
  const traced = await traceHandler(root, model, config.modelsDir);

  /** Zip path → file on disk. */
  const entries = new Map<string, string>();
  for (const f of traced) if (f.startsWith('lib/') && f.endsWith('.js')) entries.set(f, path.join(root, f));
  const packages = [...new Set(traced.map(packageDirOf).filter((d): d is string => d !== undefined))].sort();
  for (const dir of packages) {
    for (const rel of walk(path.join(root, dir))) {
      const f = `${dir}/${rel}`;
      // A package's own node_modules are packages of their own: shipped only if the handler loads them.
      if (rel.startsWith('node_modules/') || UNNEEDED_FILE.test(rel)) continue;
      const bin = ORT_BIN.exec(f);
      if (bin && !(bin[1] === 'linux' && bin[2] === arch)) continue;
      entries.set(f, path.join(root, f));
    }
  }
  const sourceModelDir = modelDir(model, config.modelsDir);
  const modelFiles = ['manifest.json', 'profile.json', ...manifest.stages.map((s) => s.file)];
  for (const name of modelFiles) {
    const file = path.join(sourceModelDir, name);
    if (fs.existsSync(file)) entries.set(`models/${model}/${name}`, file);
  }

  const dir = path.join(options.outDir, model);
  fs.mkdirSync(dir, { recursive: true });
  const zipFile = path.join(dir, 'lambda.zip');
  const zip = new ZipFile();
  const packageJson = JSON.stringify(
    { name: `serflow-lambda-${model}`, private: true, type: 'commonjs', description: 'serflow package lambda' },
    null,
    2,
  );
  zip.addBuffer(Buffer.from(`${packageJson}\n`), 'package.json', { mtime: FIXED_MTIME, mode: 0o100644 });
  let unzippedBytes = packageJson.length + 1;
  for (const [name, file] of [...entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const stat = fs.statSync(file);
    unzippedBytes += stat.size;
    // Keep the executable bit (a native library must stay loadable); everything readable by Lambda's user.
    zip.addFile(file, name, { mtime: FIXED_MTIME, mode: 0o100000 | (stat.mode & 0o111) | 0o644 });
  }
  const written = new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(zipFile);
    out.on('close', resolve);
    out.on('error', reject);
    zip.outputStream.on('error', reject).pipe(out);
  });
  zip.end();
  await written;

  const dockerfile = path.join(dir, 'Dockerfile');
  fs.writeFileSync(dockerfile, dockerfileText(model));
  const functionsFile = path.join(dir, 'functions.json');
  fs.writeFileSync(functionsFile, `${JSON.stringify(functions, null, 2)}\n`);
  return {
    model,
    dir,
    zipFile,
    dockerfile,
    functionsFile,
    zipBytes: fs.statSync(zipFile).size,
    unzippedBytes,
    files: entries.size + 1,
    packages: packages.map((d) => d.replace(/^.*node_modules\//, '')),
    functions,
  };
}
