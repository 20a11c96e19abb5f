/**
 * Build step: bundle the workflow code once into `lib/workflow-bundle.js`, so workers start without running
 * webpack (and the bundle matches the installed SDK exactly).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../common/paths';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(PROJECT_ROOT, 'lib', 'workflows', 'index.js'),
    // Tracing and query metrics (workflows/interceptors.ts): with a pre-built bundle, Worker options cannot add them.
    workflowInterceptorModules: [path.join(PROJECT_ROOT, 'lib', 'workflows', 'interceptors.js')],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  const out = path.join(PROJECT_ROOT, 'lib', 'workflow-bundle.js');
  fs.writeFileSync(out, code);
  console.log(`workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
