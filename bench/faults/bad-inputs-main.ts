/**
 * `node lib/bench/faults/bad-inputs-main.js [out.json] [class,...]`: start an embedded stack (temp dir, free ports,
 * the test settings: quick stage retries and VM boots), run the bad-input table against it, write the rows as JSON
 * (default bench/results/bad-inputs.json) and print the table. Exits 1 when a row is not named or something was lost.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SerflowClient } from '../../client';
import { compileConfig } from '../../common/config';
import { PROJECT_ROOT } from '../../common/paths';
import { startStack } from '../../deploy/local/stack';
import { connectNats } from '../../infra/nats';
import { badInputText } from './bad-input-table';
import { BAD_INPUT_CLASSES, runBadInputs, type BadInputClass, type BadInputRow } from './bad-inputs';

/** Start an embedded stack of its own (temp dir, free ports), run the bad-input table against it, stop it. */
export async function runBadInputsOnOwnStack(
  classes: readonly BadInputClass[] | undefined,
  log: (line: string) => void,
): Promise<BadInputRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-bad-inputs-stack-'));
  const config = compileConfig({ homeDir: dir, stages: { timeoutMs: 3_000 }, vm: { bootDelayMs: 1_000 } });
  const stack = await startStack({ config, dataDir: path.join(dir, 'data'), onProgress: log });
  try {
    const client = await SerflowClient.connectToStack(stack.info, config);
    const nc = await connectNats(stack.info.natsUrl, 'serflow-bad-inputs');
    try {
      return await runBadInputs({ client, nc, config, stackInfo: stack.info, classes }, log);
    } finally {
      await client.close().catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
  } finally {
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const out = process.argv[2] ?? path.join(PROJECT_ROOT, 'bench', 'results', 'bad-inputs.json');
  const only = process.argv[3]?.split(',').filter(Boolean) as BadInputClass[] | undefined;
  for (const k of only ?? []) {
    if (!Object.hasOwn(BAD_INPUT_CLASSES, k)) {
      throw new Error(`unknown input class ${k}; known: ${Object.keys(BAD_INPUT_CLASSES).join(', ')}`);
    }
  }
  const log = (l: string) => console.error(`[bad-inputs] ${l}`);
  const started = Date.now();
  const rows = await runBadInputsOnOwnStack(only, log);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(badInputText(rows));
  log(`${rows.length} rows in ${((Date.now() - started) / 1000).toFixed(1)} s, written to ${out}`);
  if (rows.some((r) => !r.named || r.lostOrStopped)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`bad-inputs: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  });
}
