/**
 * The `REPORT` line Lambda writes at the end of every invocation's log, as `Invoke` returns it with `LogType: Tail`
 * (the last 4 KB of the log, base64, in `LogResult`):
 *
 *   REPORT RequestId: 3f1c…	Duration: 12.34 ms	Billed Duration: 263 ms	Memory Size: 512 MB	Max Memory Used: 88 MB	Init Duration: 250.21 ms
 *
 * `Init Duration` is there only on a cold start. These are what Lambda bills (since 2025-08-01 the init phase is
 * billed too: Billed Duration = ceil(Duration + Init Duration)), so the adapter bills from them, not from its own
 * clock.
 */

/** The billing facts of one invocation, as its REPORT line states them. */
export interface LambdaReport {
  requestId: string;
  /** Handler duration, ms. */
  durationMs: number;
  billedDurationMs: number;
  memorySizeMb: number;
  maxMemoryUsedMb: number;
  /** Present on a cold start only: the execution environment's init, ms. */
  initDurationMs?: number;
}

/** The tail log has no REPORT line, or one missing a field the bill needs. */
export class LambdaReportError extends Error {
  override readonly name = 'LambdaReportError';
}

const field = (line: string, label: string, unit: 'ms' | 'MB'): number | undefined => {
  const m = new RegExp(`${label}: ([0-9]+(?:\\.[0-9]+)?) ${unit}`).exec(line);
  return m ? Number(m[1]) : undefined;
};

/** Parse the REPORT line of a tail log (plain text). Throws LambdaReportError naming what is missing. */
export function parseReportLine(log: string): LambdaReport {
  // The last REPORT line: a tail may begin with the end of an earlier invocation's log only in theory, but never
  // ends with one.
  const lines = log.split('\n').filter((l) => l.startsWith('REPORT '));
  const line = lines[lines.length - 1];
  if (!line) {
    const tail = log.length > 200 ? `…${log.slice(-200)}` : log;
    throw new LambdaReportError(`no REPORT line in the invocation's tail log: ${JSON.stringify(tail)}`);
  }
  const requestId = /RequestId: ([^\s]+)/.exec(line)?.[1];
  const durationMs = field(line, '(?<!Billed |Init )Duration', 'ms');
  const billedDurationMs = field(line, 'Billed Duration', 'ms');
  const memorySizeMb = field(line, 'Memory Size', 'MB');
  const maxMemoryUsedMb = field(line, 'Max Memory Used', 'MB');
  const initDurationMs = field(line, 'Init Duration', 'ms');
  const missing = Object.entries({ requestId, durationMs, billedDurationMs, memorySizeMb, maxMemoryUsedMb })
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length > 0) {
    throw new LambdaReportError(`REPORT line lacks ${missing.join(', ')}: ${JSON.stringify(line)}`);
  }
  return {
    requestId: requestId!,
    durationMs: durationMs!,
    billedDurationMs: billedDurationMs!,
    memorySizeMb: memorySizeMb!,
    maxMemoryUsedMb: maxMemoryUsedMb!,
    ...(initDurationMs !== undefined ? { initDurationMs } : {}),
  };
}

/** Decode `LogResult` (base64) and parse its REPORT line. */
export function parseLogResult(logResultBase64: string | undefined): LambdaReport {
  if (!logResultBase64) throw new LambdaReportError('the Invoke response has no LogResult (was LogType Tail sent?)');
  return parseReportLine(Buffer.from(logResultBase64, 'base64').toString('utf8'));
}

/** A REPORT line as Lambda writes it (tab-separated), for emulators: the inverse of `parseReportLine`. */
export function formatReportLine(r: LambdaReport): string {
  const parts = [
    `REPORT RequestId: ${r.requestId}`,
    `Duration: ${r.durationMs.toFixed(2)} ms`,
    `Billed Duration: ${r.billedDurationMs} ms`,
    `Memory Size: ${r.memorySizeMb} MB`,
    `Max Memory Used: ${r.maxMemoryUsedMb} MB`,
    ...(r.initDurationMs !== undefined ? [`Init Duration: ${r.initDurationMs.toFixed(2)} ms`] : []),
  ];
  return parts.join('\t');
}
