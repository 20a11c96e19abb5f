/**
 * Ground truth from the operating system: which processes run with which arguments, since when (Linux /proc). The
 * fault suite bills VMs from this, apart from the billing facts the ledger reads, and finds the pids it kills here.
 */
import * as fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux this runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** How often the watched processes are checked for their end: the error of a measured lifetime's end. */
const ENDED_POLL_MS = 10;

/** A process younger than this may not have exec'd yet: its arguments are read again at the next poll. */
const YOUNG_PROCESS_MS = 2_000;

export interface ProcessSeen {
  pid: number;
  args: string[];
  /** Epoch ms the process started (10 ms resolution). */
  startedAt: number;
}

function readArgs(pid: number): string[] | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw ? raw.split('\0').filter(Boolean) : null;
  } catch {
    return null; // gone, or a kernel thread
  }
}

/** Epoch ms `pid` started, from its start time in ticks after boot and the uptime read at the same moment. */
function startedAtOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count from its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const uptimeS = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Date.now() - (uptimeS - ticks / CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return null;
  }
}

/**
 * Whether `pid` has ended: gone, or exited but not reaped yet (an orphan, its parent killed, stays in /proc as a zombie
 * until init reaps it, which may take a while).
 */
function hasEnded(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Running processes whose arguments `match` accepts. */
export function findProcesses(match: (args: string[]) => boolean): ProcessSeen[] {
  const out: ProcessSeen[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const args = readArgs(pid);
    if (!args || !match(args)) continue;
    const startedAt = startedAtOf(pid);
    if (startedAt !== null) out.push({ pid, args, startedAt });
  }
  return out;
}

/** Resident set size of `pid`, KiB (VmRSS); null when it is gone. */
export function residentKb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The value after `flag` in `args`. */
export function argValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

export interface ObservedLife {
  /** The `--vm-id` (or other key) the process ran under. */
  key: string;
  pid: number;
  startedAt: number;
  /** Epoch ms it was first seen gone; null while it runs. */
  endedAt: number | null;
}

/**
 * Poll /proc every `intervalMs` for processes that `keyOf` names (a VM's `--vm-id`) and record when each started
 * and when it was first seen gone (or a zombie): lifetimes to within 10 ms at either end.
 */
export function watchLives(keyOf: (args: string[]) => string | undefined, intervalMs = 100) {
  const lives = new Map<number, ObservedLife>();
  /** Pids already looked at that are not watched (their arguments are read once, not at every poll). */
  const ignored = new Set<number>();
  const tick = () => {
    const now = Date.now();
    const running = new Set<number>();
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      running.add(pid);
      if (lives.has(pid) || ignored.has(pid)) continue;
      const args = readArgs(pid);
      const key = args ? keyOf(args) : undefined;
      const startedAt = startedAtOf(pid);
      if (key !== undefined && startedAt !== null) lives.set(pid, { key, pid, startedAt, endedAt: null });
      // A process seen between fork and exec still shows its parent's arguments: look again while it is young.
      else if (startedAt === null || now - startedAt > YOUNG_PROCESS_MS) ignored.add(pid);
    }
    for (const life of lives.values()) {
      if (life.endedAt === null && (!running.has(life.pid) || hasEnded(life.pid))) life.endedAt = now;
    }
  };
  // The processes already watched are looked at more often than /proc is listed: an end is seen within ENDED_POLL_MS.
  const checkEnds = () => {
    const now = Date.now();
    for (const life of lives.values()) if (life.endedAt === null && hasEnded(life.pid)) life.endedAt = now;
  };
  tick();
  const timers = [setInterval(tick, intervalMs), setInterval(checkEnds, ENDED_POLL_MS)];
  return {
    /** Stop polling; the lives seen so far (those still running have `endedAt` null). */
    stop(): ObservedLife[] {
      for (const t of timers) clearInterval(t);
      tick();
      return [...lives.values()];
    },
  };
}
