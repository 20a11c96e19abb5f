/**
 * Which files the Lambda handler loads, found by running it: a child process of the package command
 * (lambda-package.ts) loads the handler module, then every stage of the model as the handler would (ONNX Runtime
 * is loaded lazily, on the first invocation), and prints the modules Node loaded as one JSON array on stdout.
 *
 *   node lib/deploy/aws/lambda-trace.js <model> <modelsDir>
 *
 * A separate process, so the trace holds what the handler needs and nothing the command itself loaded.
 */
import { compileConfig } from '../../common/config';
import { loadManifest } from '../../models/manifest';
import { loadFunctionStages } from '../../workers/function-instance';
import { LAMBDA_HANDLER_MODULE } from './lambda-handler-path';

async function main(): Promise<void> {
  const [model, modelsDir] = process.argv.slice(2);
  if (!model || !modelsDir) throw new Error('usage: lambda-trace.js <model> <modelsDir>');
  await import(LAMBDA_HANDLER_MODULE);
  const config = compileConfig({ modelsDir });
  const stages = loadManifest(model, modelsDir).stages.length;
  const loaded = await loadFunctionStages({ config, model, stage: 1, lastStage: stages });
  await loaded.close();
  // Not itself: the trace is a packaging tool, not part of the handler.
  process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f !== __filename)));
}

main().catch((err: Error) => {
  console.error(`lambda-trace: ${err.message}`);
  process.exitCode = 1;
});
