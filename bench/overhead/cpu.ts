/** CPU accounting per stack process (Linux /proc), to see which component the cores go to under load. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { round } from './round';

const CLK_TCK = 100;

/**
 * utime + stime of a process (all its threads) in ms, or of its thread `tid` alone; null when /proc is not there
 * (not Linux) or the process is gone.
 */
function cpuMsOf(pid: number, tid?: number): number | null {
  try {
    const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * CPU ms so far of process `pid`, all its threads (`total`), and of its main thread alone (`mainThread`, the task
 * whose id is the pid: a Node process's event loop); null when /proc is not there (not Linux) or the process is
 * gone. Clock-tick resolution (10 ms): difference snapshots seconds apart.
 */
export function processCpuMs(pid: number): { total: number; mainThread: number } | null {
  const total = cpuMsOf(pid);
  const mainThread = cpuMsOf(pid, pid);
  return total === null || mainThread === null ? null : { total, mainThread };
}

/** ppid of every process in /proc (Linux), for finding the processes a stack process started. */
function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/**
 * Component of a process from its command line: a child of the embedded stack (deploy/local/child-main.js) by its
 * role: `workflow-worker`, `stage-<k>-worker`, `function-<k>`, other roles by name (`cloud-agent`, ...); a script
 * by its file name (`floor-worker`); else the executable's name (`temporal`, `nats-server`).
 */
function componentOf(pid: number): string | null {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
  const script = argv.findIndex((a) => /child-main\.js$/.test(a));
  if (script >= 0) {
    const role = argv[script + 1] ?? 'worker';
    if (role === 'workflow') return 'workflow-worker';
    if (role === 'stage') return `stage-${argv[argv.indexOf('--stage') + 1] ?? '?'}-worker`;
    if (role === 'function') return `function-${argv[argv.indexOf('--stage') + 1] ?? '?'}`;
    return role;
  }
  const jsScript = argv.slice(1).find((a) => a.endsWith('.js'));
  if (jsScript) return path.basename(jsScript, '.js');
  return path.basename(argv[0] ?? `pid-${pid}`);
}

/**
 * CPU ms so far of the stack's processes and everything they started (worker processes spawned by an agent
 * included), by component; plus this process as `bench-client`. A process that exits between two snapshots
 * drops out of the difference.
 */
export function cpuSnapshot(procs: { pid: number }[]): Map<string, number> {
  const snap = new Map<string, number>();
  if (process.platform === 'linux') {
    const children = parentMap();
    const seen = new Set<number>();
    const todo = procs.map((p) => p.pid);
    while (todo.length) {
      const pid = todo.pop()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      todo.push(...(children.get(pid) ?? []));
      const ms = cpuMsOf(pid);
      const component = componentOf(pid);
      if (ms !== null && component) snap.set(component, (snap.get(component) ?? 0) + ms);
    }
  }
  const self = process.cpuUsage();
  snap.set('bench-client', (self.user + self.system) / 1000);
  return snap;
}

/** CPU ms per query of each component between two snapshots, and total cores used. */
export function cpuPerQuery(before: Map<string, number>, after: Map<string, number>, queries: number, wallMs: number) {
  const perQueryMs: Record<string, number | null> = {};
  let total = 0;
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? v);
    total += d;
    perQueryMs[k] = round(d / Math.max(1, queries));
  }
  return { perQueryMs, totalPerQueryMs: round(total / Math.max(1, queries)), coresUsed: round(total / wallMs) };
}
