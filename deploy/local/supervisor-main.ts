/**
 * The supervisor of one worker process of a detached stack (`serflow up --detach`), which has no parent left to
 * restart a crashed child as an attached stack does:
 *   node lib/deploy/local/supervisor-main.js --data-dir DIR --name NAME -- SCRIPT ARG...
 * It runs `node SCRIPT ARG... --parent-pid <its pid>` (the worker follows its death like any child of the stack),
 * with the same stdout/stderr (the worker's log file), and when the worker exits unexpectedly starts it again
 * after the stack's backoff (`restartBackoff`: 1 s doubling to 30 s, reset after a minute of life). Its pid is the
 * one in the state file: SIGTERM/SIGINT are forwarded to the worker, which drains, and it exits once the worker has
 * (with the worker's code), so `serflow down` stops it like any process. What it knows (the worker's pid, restarts,
 * the last exit) is in `<DIR>/supervision/<NAME>.json` for `serflow status` (infra/stack-state.ts).
 * Its own module, not a role of child-main.ts: it must not load ONNX Runtime and the workers to watch one child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { supervisionFilePath, writeSupervision, type SupervisionRecord } from '../../infra/stack-state';
import { restartBackoff, STOP_GRACE_MS } from './processes';

/** The worker is killed this long before its stopper's grace (`STOP_GRACE_MS`) runs out, so it never outlives us. */
const KILL_MARGIN_MS = 1_000;

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, name: { type: 'string' } },
  });
  const dataDir = values['data-dir'];
  const name = values.name;
  if (!dataDir || !name || positionals.length === 0) {
    console.error(
      `usage: supervisor-main.js --data-dir DIR --name NAME -- SCRIPT ARG... (got ${JSON.stringify(process.argv.slice(2))})`,
    );
    process.exit(2);
  }
  const log = (line: string) => console.error(`[supervisor ${process.pid}] ${line}`);
  const record: SupervisionRecord = { v: 1, name, supervisorPid: process.pid, workerPid: null, restarts: 0 };
  const save = () => {
    try {
      writeSupervision(dataDir, record);
    } catch (err) {
      log(`could not write the supervision record: ${(err as Error).message}`);
    }
  };
  const nextDelay = restartBackoff();
  let stopping = false;
  let worker: ChildProcess | undefined;
  let restartTimer: NodeJS.Timeout | undefined;

  const finish = (code: number): never => {
    fs.rmSync(supervisionFilePath(dataDir, name), { force: true });
    process.exit(code);
  };

  const start = () => {
    restartTimer = undefined;
    const startedAt = Date.now();
    const child = spawn(process.execPath, [...positionals, '--parent-pid', String(process.pid)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    worker = child;
    record.workerPid = child.pid ?? null;
    save();
    let exited = false;
    const onExit = (code: number | string) => {
      if (exited) return;
      exited = true;
      worker = undefined;
      record.workerPid = null;
      if (stopping) {
        finish(typeof code === 'number' ? code : 0);
        return;
      }
      const delay = nextDelay(Date.now() - startedAt);
      record.lastExit = { code, at: new Date().toISOString() };
      save();
      log(`worker (pid ${child.pid ?? '-'}) exited with ${code}: restarting it in ${delay} ms`);
      restartTimer = setTimeout(() => {
        record.restarts++;
        start();
      }, delay);
    };
    child.once('exit', (code, signal) => onExit(code ?? signal ?? 'unknown'));
    child.once('error', (err) => {
      log(`could not start the worker: ${err.message}`);
      onExit('spawn-error');
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      worker?.kill(signal);
      return;
    }
    stopping = true;
    if (restartTimer) clearTimeout(restartTimer);
    if (!worker) return finish(0);
    log(`${signal}: stopping the worker (pid ${worker.pid ?? '-'})`);
    worker.kill(signal);
    setTimeout(() => {
      log('the worker did not exit in time: killing it');
      worker?.kill('SIGKILL');
    }, STOP_GRACE_MS - KILL_MARGIN_MS).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  start();
}

main();
