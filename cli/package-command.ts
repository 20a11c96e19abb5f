/**
 * `serflow package lambda --model M [--out DIR]`: the deployable artifact of a model's AWS Lambda functions
 * (deploy/aws/lambda-package.ts): lambda.zip, a Dockerfile for the container image, and functions.json.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import type { SerflowConfig } from '../common/config';
import { LAMBDA_UNZIPPED_LIMIT_BYTES, packageLambda, type LambdaPackage } from '../deploy/aws/lambda-package';
import { formatTextTable } from '../eval/report/text-table';

/** Where artifacts go unless `--out` says otherwise, relative to the working directory. */
export const DEFAULT_PACKAGE_OUT_DIR = path.join('dist', 'lambda');

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

export function formatLambdaPackage(p: LambdaPackage): string {
  const lines = [
    `${p.model}: ${p.zipFile} (${mb(p.zipBytes)}, ${mb(p.unzippedBytes)} unzipped, ${p.files} files)`,
    `  container image definition: ${p.dockerfile}`,
    `  packages: ${p.packages.join(', ')}`,
  ];
  if (p.unzippedBytes > LAMBDA_UNZIPPED_LIMIT_BYTES) {
    lines.push(`  over Lambda's ${mb(LAMBDA_UNZIPPED_LIMIT_BYTES)} unzipped limit: deploy the container image`);
  }
  lines.push(`  functions (${p.functionsFile}):`);
  const rows = p.functions.map((f) => [
    f.name,
    f.lastStage !== undefined ? `${f.stage}-${f.lastStage}` : String(f.stage),
    `${f.memoryMb} MB`,
  ]);
  lines.push(
    formatTextTable([['function', 'stages', 'memory'], ...rows])
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
  return lines.join('\n');
}

export function registerPackageCommand(program: Command, config: () => SerflowConfig): void {
  const pkg = program.command('package').description('build deployable artifacts for a cloud');
  pkg
    .command('lambda')
    .description("a model's AWS Lambda functions: lambda.zip, a container image Dockerfile and functions.json")
    .option('--model <name>', 'model (default: the default model)')
    .option(
      '--out <dir>',
      `output directory; the artifact goes to <dir>/<model>/ (default: ${DEFAULT_PACKAGE_OUT_DIR})`,
    )
    .option('--json', 'one JSON object')
    .action(async (o: { model?: string; out?: string; json?: boolean }) => {
      const c = config();
      const p = await packageLambda({
        config: c,
        model: o.model ?? c.defaultModel,
        outDir: path.resolve(o.out ?? DEFAULT_PACKAGE_OUT_DIR),
      });
      console.log(o.json ? JSON.stringify(p) : formatLambdaPackage(p));
    });
}
