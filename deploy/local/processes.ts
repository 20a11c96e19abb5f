/** Child processes of the embedded stack: spawned with their output in a log file, stopped gracefully. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DEFAULT_LOG_FILES_KEPT, DEFAULT_LOG_MAX_BYTES } from '../../common/config';
import { PROJECT_ROOT } from '../../common/paths';

/** The compiled entry module of every child process the embedded stack spawns (`child-main.ts`), by role. */
export const CHILD_MAIN_SCRIPT = path.join(PROJECT_ROOT, 'lib', 'deploy', 'local', 'child-main.js');

/** The servers' watchdog of an attached stack (`reaper-main.ts`): its own small entry, see there. */
export const REAPER_MAIN_SCRIPT = path.join(PROJECT_ROOT, 'lib', 'deploy', 'local', 'reaper-main.js');

/**
 * The supervisor of one worker process of a detached stack (`supervisor-main.ts`): restarts the worker when it
 * crashes, as an attached stack does in-process. Its own small entry, like the reaper.
 */
export const SUPERVISOR_MAIN_SCRIPT = path.join(PROJECT_ROOT, 'lib', 'deploy', 'local', 'supervisor-main.js');

/**
 * Restart backoff of a crashed worker process (attached stacks in-process, detached ones in their supervisor):
 * 1 s, doubling to at most 30 s, so a child that dies at start (bad data it reads, a missing file) is retried
 * without spinning; a child that ran for a minute starts the backoff over.
 */
export const RESTART_BASE_DELAY_MS = 1_000;
export const RESTART_MAX_DELAY_MS = 30_000;
export const RESTART_RESET_AFTER_MS = 60_000;

/**
 * The one home of the restart rule: a function that, given how long the process that just exited had run, returns
 * how long to wait before starting it again (1 s, 2 s, 4 s … 30 s; back to 1 s after a run of a minute or more).
 */
export function restartBackoff(): (livedMs: number) => number {
  let attempt = 0;
  return (livedMs) => {
    if (livedMs >= RESTART_RESET_AFTER_MS) attempt = 0;
    return Math.min(RESTART_MAX_DELAY_MS, RESTART_BASE_DELAY_MS * 2 ** Math.min(attempt++, 30));
  };
}

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

/** Size rotation of log files (config `logs`): rotate past `maxBytes`, keep `filesKept` rotated files. */
export interface LogRotation {
  maxBytes: number;
  filesKept: number;
  /** How often sizes are checked. @default LOG_ROTATION_CHECK_MS */
  checkMs?: number;
}

/**
 * How often the sizes of the watched log files are checked. A file may pass `maxBytes` by what its process writes
 * in this long (kilobytes for our processes) before it is rotated.
 */
export const LOG_ROTATION_CHECK_MS = 5_000;

/** Environment of a detached child that rotates its own log (no parent is left to): the file, and the rotation. */
export const OWN_LOG_FILE_ENV = 'SERFLOW_OWN_LOG_FILE';
export const OWN_LOG_ROTATION_ENV = 'SERFLOW_OWN_LOG_ROTATION';

let logRotation: LogRotation = { maxBytes: DEFAULT_LOG_MAX_BYTES, filesKept: DEFAULT_LOG_FILES_KEPT };
/** Log files this process rotates, with how many of its live children write each (a restarted worker reuses it). */
const watchedLogs = new Map<string, number>();
let rotationTimer: NodeJS.Timeout | undefined;

/** The rotation this process applies to the logs of the children it spawns from now on (config `logs`). */
export function configureLogRotation(rotation: LogRotation): void {
  logRotation = { ...rotation };
}

/**
 * Rotate `file` when it is larger than `maxBytes`: `file.(n-1)` becomes `file.n` (the oldest beyond `filesKept` is
 * overwritten), then the current content is copied to `file.1` and `file` is truncated in place. In place, because
 * the writing processes hold the file open (a child's stdout and stderr are the file itself, so a detached child
 * can outlive this process) in append mode: after the truncation they go on at its new end. A line written between
 * the copy and the truncation is lost (logrotate's copytruncate has the same window). Returns whether it rotated.
 */
export function rotateLogIfLarge(file: string, rotation: LogRotation): boolean {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return false; // not there (yet, or any more)
  }
  if (size <= rotation.maxBytes) return false;
  for (let k = rotation.filesKept - 1; k >= 1; k--) {
    try {
      fs.renameSync(`${file}.${k}`, `${file}.${k + 1}`);
    } catch {
      // fewer rotated files than kept so far
    }
  }
  fs.copyFileSync(file, `${file}.1`);
  fs.truncateSync(file, 0);
  return true;
}

/**
 * Rotate `file` by size while this process runs (or until the returned function is called as often as this one).
 * One timer for every watched file, unref'd: it never keeps the process alive.
 */
export function watchLog(file: string): () => void {
  watchedLogs.set(file, (watchedLogs.get(file) ?? 0) + 1);
  if (!rotationTimer) {
    rotationTimer = setInterval(() => {
      for (const f of watchedLogs.keys()) {
        try {
          rotateLogIfLarge(f, logRotation);
        } catch (err) {
          console.error(`log rotation of ${f}: ${(err as Error).message}`);
        }
      }
    }, logRotation.checkMs ?? LOG_ROTATION_CHECK_MS);
    rotationTimer.unref();
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (watchedLogs.get(file) ?? 1) - 1;
    if (n > 0) watchedLogs.set(file, n);
    else watchedLogs.delete(file);
    if (watchedLogs.size === 0 && rotationTimer) {
      clearInterval(rotationTimer);
      rotationTimer = undefined;
    }
  };
}

/**
 * In a child of the embedded stack: rotate this process's own log when its parent said so (a detached child, which
 * outlives the process that would otherwise rotate it).
 */
export function rotateOwnLogFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  const file = env[OWN_LOG_FILE_ENV];
  if (!file) return;
  try {
    const r = JSON.parse(env[OWN_LOG_ROTATION_ENV] ?? '{}') as Partial<LogRotation>;
    if (Number.isInteger(r.maxBytes) && Number.isInteger(r.filesKept)) configureLogRotation(r as LogRotation);
  } catch {
    // the defaults then
  }
  watchLog(file);
}

/**
 * Start a child with its stdout and stderr appended to `<logDir>/<name>.log`, rotated by size (`configureLogRotation`):
 * by this process while the child runs, or, for a detached child (which outlives this process), by the child itself
 * when it is one of ours (`rotateOwnLogFromEnv`; the servers' logs of a detached stack are not rotated, they write
 * little).
 */
export function spawnManaged(o: SpawnOptions): ManagedProcess {
  fs.mkdirSync(o.logDir, { recursive: true });
  const logFile = path.join(o.logDir, `${o.name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(o.command, o.args, {
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      ...o.env,
      ...(o.detached
        ? { [OWN_LOG_FILE_ENV]: logFile, [OWN_LOG_ROTATION_ENV]: JSON.stringify(logRotation) }
        : { [OWN_LOG_FILE_ENV]: '' }),
    },
    detached: o.detached ?? false,
  });
  fs.closeSync(fd);
  if (o.detached) child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${o.name} (${o.command}): see ${logFile}`);
  const unwatch = o.detached ? () => undefined : watchLog(logFile);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      unwatch();
      resolve(code ?? signal ?? 'unknown');
    });
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
