/**
 * The orchestration hand-off the simulator adds before each stage execution, read from the result file of the
 * benchmark that measures it (bench/overhead.ts writes `overheadPerStageMs` to bench/results/overhead.json, with
 * the command, commit and machine it ran on). Nothing here is typed in by hand: a re-run of the benchmark changes
 * what every `serflow sim` report uses, and the report's notes say which file, commit and machine it came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../common/paths';

/** The result file of `node lib/bench/overhead.js` (bench/overhead/run.ts). */
export const OVERHEAD_RESULT_FILE = path.join(PROJECT_ROOT, 'bench', 'results', 'overhead.json');

/** Standard normal quantiles at 0.95 and 0.99 (Φ⁻¹), for the log-normal p99 below. */
const Z95 = 1.6448536269514722;
const Z99 = 2.3263478740408408;

/** Per-stage hand-off quantiles, ms, and where they come from. */
export interface MeasuredHandoff {
  p50: number;
  p95: number;
  p99: number;
  /** 'measured' when the file has a p99; 'log-normal' when it was derived from p50 and p95 (see handoffP99). */
  p99Source: 'measured' | 'log-normal';
  /** The result file, relative to the project root when inside it. */
  file: string;
  command: string;
  timestamp: string;
  commit: string;
  dirty: boolean;
  machine: string;
}

const resultSchema = z.object({
  command: z.string().min(1),
  timestamp: z.string().min(1),
  git: z.object({ commit: z.string().min(1), dirty: z.boolean() }),
  machine: z.object({ cpus: z.number().int().positive(), cpuModel: z.string().min(1) }).passthrough(),
  overheadPerStageMs: z.object({
    p50: z.number().positive(),
    p95: z.number().positive(),
    p99: z.number().positive().nullish(),
  }),
});

/** A hand-off result file that cannot be read, or lacks the figures or their provenance. */
export class InvalidHandoffResultError extends Error {
  override name = 'InvalidHandoffResultError';
}

/**
 * p99 of a log-normal through `p50` and `p95`: ln q is linear in the normal quantile z, so
 * `ln p99 = ln p50 + (ln p95 − ln p50) × z99 / z95` (z95 = 1.6449, z99 = 2.3263, ratio 1.4143).
 * Example: p50 20, p95 40 → 20 × 2^1.4143 = 53.3 ms.
 */
export function handoffP99(p50: number, p95: number): number {
  return Math.exp(Math.log(p50) + (Math.log(p95) - Math.log(p50)) * (Z99 / Z95));
}

/** The hand-off of one parsed result file (`raw`), read from `file` (for messages and the provenance). */
export function parseHandoffResult(raw: unknown, file: string): MeasuredHandoff {
  const r = resultSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidHandoffResultError(`hand-off result ${file}: ${issues}`);
  }
  const { overheadPerStageMs: o, git, machine } = r.data;
  if (o.p95 < o.p50 || (o.p99 != null && o.p99 < o.p95))
    throw new InvalidHandoffResultError(`hand-off result ${file}: quantiles out of order (${JSON.stringify(o)})`);
  const rel = path.relative(PROJECT_ROOT, file);
  return {
    p50: o.p50,
    p95: o.p95,
    p99: o.p99 ?? Math.round(handoffP99(o.p50, o.p95) * 100) / 100,
    p99Source: o.p99 != null ? 'measured' : 'log-normal',
    file: rel.startsWith('..') ? file : rel,
    command: r.data.command,
    timestamp: r.data.timestamp,
    commit: git.commit,
    dirty: git.dirty,
    machine: `${machine.cpus} × ${machine.cpuModel}`,
  };
}

const cache = new Map<string, MeasuredHandoff>();

/** The hand-off in `file` (default: the committed overhead result), read once per process. */
export function loadMeasuredHandoff(file: string = OVERHEAD_RESULT_FILE): MeasuredHandoff {
  const hit = cache.get(file);
  if (hit) return hit;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidHandoffResultError(
      `hand-off result ${file}: ${(err as Error).message} (run \`node lib/bench/overhead.js\`)`,
      { cause: err },
    );
  }
  const h = parseHandoffResult(raw, file);
  cache.set(file, h);
  return h;
}

/** One line for a report's notes: the figures and where they were measured. */
export function handoffProvenance(h: MeasuredHandoff): string {
  return (
    `hand-off p50/p95 from ${h.file} (\`${h.command}\`, ${h.timestamp}, commit ${h.commit.slice(0, 10)}` +
    `${h.dirty ? ' with uncommitted changes' : ''}, ${h.machine}); p99 ` +
    (h.p99Source === 'measured' ? 'measured there' : 'not in that file: the log-normal through p50 and p95')
  );
}

/**
 * A live query counts as "delayed" (LIBRA's term: it waited for a VM) when its VM queue waits add up to more than
 * this, ms: the measured p95 hand-off rounded up to the next 10 ms. Live, every VM execution waits for Temporal to
 * dispatch its task, which the simulator models as the hand-off, not as waiting; so a query counts as delayed
 * when it queued beyond dispatch. Example: p95 40.33 ms → 50 ms.
 */
export function delayedAfterMs(h: Pick<MeasuredHandoff, 'p95'> = loadMeasuredHandoff()): number {
  return Math.ceil(h.p95 / 10) * 10;
}
