/** Child processes of the embedded stack: spawned with their output in a log file, stopped gracefully. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../common/paths';

/** The compiled entry module of every child process the embedded stack spawns (`child-main.ts`), by role. */
export const CHILD_MAIN_SCRIPT = path.join(PROJECT_ROOT, 'lib', 'deploy', 'local', 'child-main.js');

/** The servers' watchdog of an attached stack (`reaper-main.ts`): its own small entry, see there. */
export const REAPER_MAIN_SCRIPT = path.join(PROJECT_ROOT, 'lib', 'deploy', 'local', 'reaper-main.js');

/** How often a child checks that the process that started it is still there. */
export const PARENT_CHECK_INTERVAL_MS = 1_000;

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
}

/** Time a process gets to exit after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 15_000;

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
  /** Survive the parent's exit (for `serflow up --detach`). */
  detached?: boolean;
}

export function spawnManaged(o: SpawnOptions): ManagedProcess {
  fs.mkdirSync(o.logDir, { recursive: true });
  const logFile = path.join(o.logDir, `${o.name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(o.command, o.args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...o.env },
    detached: o.detached ?? false,
  });
  fs.closeSync(fd);
  if (o.detached) child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${o.name} (${o.command}): see ${logFile}`);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return { name: o.name, pid: child.pid, logFile, child, exited };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Shut this process down gracefully (as on SIGTERM) once `parentPid` is gone, so a crashed `serflow up`, cloud agent
 * or serverless platform does not leave orphaned children polling queues and holding models.
 */
export function exitWithParent(parentPid: number): void {
  if (!Number.isInteger(parentPid) || parentPid <= 1)
    throw new Error(`--parent-pid must be a process id, got ${parentPid}`);
  const timer = setInterval(() => {
    if (isAlive(parentPid)) return;
    clearInterval(timer);
    console.error(`parent process ${parentPid} is gone: shutting down`);
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
}

/** SIGTERM `pid`, wait up to `graceMs` for it to exit, then SIGKILL. Works for processes of an earlier CLI run too. */
export async function stopPid(pid: number, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Last `lines` lines of a log file, for error messages. */
export function tailLog(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
