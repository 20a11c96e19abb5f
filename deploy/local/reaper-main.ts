/**
 * The servers' watchdog of an attached embedded stack: `node lib/deploy/local/reaper-main.js PARENT_PID PIDS_FILE
 * SERVER_PID...`. nats-server and the Temporal dev server cannot watch their parent as SERFLOW's own children do
 * (`--parent-pid`), so a `serflow up` (or a test) killed outright would leave them running, holding ports and data.
 * Once the parent is gone this process lets the worker processes listed in PIDS_FILE (JSON array, kept current by
 * the stack) drain against live servers for their stop grace, kills any left, then stops the servers, and exits.
 * It exits by itself once the servers are gone. Its own module, not a role of child-main.ts: it must not load ONNX
 * Runtime and the workers to watch a few pids.
 */
import * as fs from 'node:fs';
import { isAlive, PARENT_CHECK_INTERVAL_MS, STOP_GRACE_MS, stopPid } from './processes';

function workerPids(file: string): number[] {
  try {
    const pids: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return Array.isArray(pids) ? pids.filter((p): p is number => Number.isInteger(p) && (p as number) > 1) : [];
  } catch {
    return [];
  }
}

async function reap(parent: number, pidsFile: string, servers: number[]): Promise<void> {
  const workers = workerPids(pidsFile);
  console.error(
    `parent process ${parent} is gone: workers ${workers.join(', ') || '(none)'}, then servers ${servers.join(', ')}`,
  );
  // The workers saw the parent go too and shut down gracefully; that needs the servers up.
  const until = Date.now() + STOP_GRACE_MS + 5_000;
  while (workers.some(isAlive) && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
  await Promise.all(workers.map((p) => stopPid(p, 1_000)));
  await Promise.all(servers.map((p) => stopPid(p)));
}

function main(): void {
  const [parentArg, pidsFile, ...serverArgs] = process.argv.slice(2);
  const parent = Number(parentArg);
  const servers = serverArgs.map(Number);
  if (
    !Number.isInteger(parent) ||
    parent <= 1 ||
    !pidsFile ||
    servers.length === 0 ||
    !servers.every((p) => Number.isInteger(p) && p > 1)
  ) {
    console.error(
      `usage: reaper-main.js PARENT_PID PIDS_FILE SERVER_PID... (got ${JSON.stringify(process.argv.slice(2))})`,
    );
    process.exit(2);
  }
  const timer = setInterval(() => {
    if (!servers.some(isAlive)) process.exit(0);
    if (isAlive(parent)) return;
    clearInterval(timer);
    void reap(parent, pidsFile, servers).then(() => process.exit(0));
  }, PARENT_CHECK_INTERVAL_MS);
}

main();
