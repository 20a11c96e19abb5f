/**
 * Structured logs of the long-running processes (workers, function instances, cloud agent, autoscaler, serve):
 * pino, one JSON object per line on stderr with `time` (epoch ms), `level` (as a word), `role`, `pid`, `msg` and
 * the context a child logger binds (`model`, `stage`, `backend`, `workflowId`, ...). `telemetry.logs.format: text`
 * prints the same records as readable lines instead. CLI output meant for a person stays plain text (cli/).
 *
 * Synchronous writes: a process that ends with `process.exit` (a stage worker, a function instance) keeps its
 * last lines, which is where the reason of an exit usually is.
 */
import * as os from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { SerflowConfig } from '../common/config';

export type { Logger } from 'pino';

/** `12:00:01.234 INFO  stage: msg model=mnist-ee stage=2`: the text format, one record per line. */
export function formatTextLine(record: Record<string, unknown>): string {
  const { time, level, msg, role, pid: _pid, hostname: _host, err, ...rest } = record;
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const context = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const stack =
    err && typeof err === 'object' && 'stack' in err && typeof err.stack === 'string' ? `\n${err.stack}` : '';
  const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));
  return `${at} ${text(level).toUpperCase().padEnd(5)} ${text(role)}: ${text(msg)}${context ? ' ' + context : ''}${stack}\n`;
}

function textDestination(fd: number): DestinationStream {
  const out = pino.destination({ dest: fd, sync: true });
  return {
    write(line: string) {
      try {
        out.write(formatTextLine(JSON.parse(line) as Record<string, unknown>));
      } catch {
        out.write(line);
      }
    },
  };
}

/**
 * The logger of a process in `role`. `destination` defaults to stderr (fd 2); tests pass a stream to read records.
 */
export function createLogger(
  config: Pick<SerflowConfig, 'telemetry'>,
  role: string,
  destination?: DestinationStream,
): Logger {
  const { format, level } = config.telemetry.logs;
  const dest = destination ?? (format === 'text' ? textDestination(2) : pino.destination({ dest: 2, sync: true }));
  return pino(
    {
      level,
      base: { role, pid: process.pid, host: os.hostname() },
      // `level: "info"` rather than pino's number: readable in a log viewer without a lookup table.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    dest,
  );
}

let processLogger: Logger | undefined;

/** This process's logger, set once by the process's entry (child-main, serve); a JSON logger at `info` before that. */
export function log(): Logger {
  processLogger ??= createLogger(
    { telemetry: { logs: { format: 'json', level: 'info' } } } as Pick<SerflowConfig, 'telemetry'>,
    'serflow',
  );
  return processLogger;
}

/** Make `logger` the process's logger (`log()`). */
export function setProcessLogger(logger: Logger): void {
  processLogger = logger;
}
