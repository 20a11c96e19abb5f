/** What every benchmark report records about the run: the machine and the code it measured. */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  totalMemGb: number;
  platform: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** Commit measured and whether the tree had changes; null outside a git checkout. */
export function gitInfo(): { commit: string; dirty: boolean } | null {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit: git('rev-parse', 'HEAD').trim(), dirty: git('status', '--porcelain').trim() !== '' };
  } catch {
    return null;
  }
}

/** The provenance lines every benchmark summary ends with: the command, the commit, the machine, when and how long. */
export function provenanceLines(r: {
  command: string;
  git: { commit: string; dirty: boolean } | null;
  machine: MachineInfo;
  startedAt: string;
  wallS: number;
}): string {
  return [
    r.command,
    `commit ${r.git?.commit ?? 'unknown'}${r.git?.dirty ? ' (with uncommitted changes)' : ''}`,
    `${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.totalMemGb} GiB, ${r.machine.platform}, node ${r.machine.node}`,
    `started ${r.startedAt}, ${r.wallS} s`,
  ].join('\n');
}

/** A positive number given to `--flag` (`fallback` when absent); anything else is refused naming the flag. */
export function positiveFlag(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0)
    throw new Error(`--${flag}: expected a positive number, got ${JSON.stringify(raw)}`);
  return v;
}
