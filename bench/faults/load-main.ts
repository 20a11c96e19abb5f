/**
 * The fault suite's client, a process of its own so that the suite can kill it outright:
 *   node lib/bench/faults/load-main.js --log FILE --prefix ID [--rate Q | --closed N] --duration S | --resume
 * Open loop: query n is due at n/rate s and is started under the id `<prefix>-<n>`, whatever happened to earlier
 * ones. Each step is appended to `--log` at once (one JSON line; the file survives a kill -9 of this process):
 * `intent` before a start, `started` after, `ended` with the outcome. A query that fails because a server is
 * away (not because the query failed) is started or awaited again under the same id: a start of an id that exists
 * joins that query, so a retry never runs a query twice. `--resume` re-submits, under their ids, every query
 * whose intent the log holds but whose end it does not (a client started again after a crash).
 * The servers come from SERFLOW_CONFIG_JSON (the suite's config), as for any client.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { SerflowClient, InferenceFailedError } from '../../client';
import { loadConfig } from '../../common/config';
import { createSamplePicker } from '../../eval/workload/samples';
import { parseLoadLog, type LoadLogLine } from './load-log';

/** How long a start or a result is retried while a server is away, past the query's own deadline. */
const SERVER_AWAY_RETRY_MS = 5_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      log: { type: 'string' },
      prefix: { type: 'string' },
      rate: { type: 'string' },
      closed: { type: 'string' },
      duration: { type: 'string' },
      threshold: { type: 'string' },
      seed: { type: 'string', default: '7' },
      resume: { type: 'boolean', default: false },
    },
  });
  const logFile = values.log;
  const prefix = values.prefix;
  if (!logFile || !prefix) throw new Error('load-main needs --log FILE and --prefix ID');
  const rate = Number(values.rate ?? 0);
  const closed = Number(values.closed ?? 0);
  const durationS = Number(values.duration ?? 0);
  if (!values.resume && !((rate > 0 || (Number.isInteger(closed) && closed > 0)) && durationS > 0)) {
    throw new Error('--rate (or --closed N clients) and --duration must be positive');
  }
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  const config = loadConfig();
  const model = config.defaultModel;
  const picker = createSamplePicker(model, config.modelsDir, Number(values.seed));
  const write = (line: LoadLogLine) => fs.appendFileSync(logFile, `${JSON.stringify(line)}\n`);
  const client = await SerflowClient.connect({ config, connectTimeoutMs: 60_000 });
  const deadlineMs = config.queries.deadlineMs;

  const run = async (n: number, dueAt: number) => {
    const id = `${prefix}-${n}`;
    write({ kind: 'intent', id, n, dueAt });
    const giveUpAt = Date.now() + deadlineMs + SERVER_AWAY_RETRY_MS;
    for (let started = false; ;) {
      try {
        // Once started, only its result is awaited again: the query is not built (and checked) a second time.
        const r = started
          ? await client.getResult(id, model)
          : await client.start(picker.pick(n).image, { queryId: id, model, threshold }).then((handle) => {
              write({ kind: 'started', id, at: Date.now() });
              started = true;
              return handle.result();
            });
        write({
          kind: 'ended',
          id,
          at: Date.now(),
          ok: true,
          label: r.label,
          exitStage: r.exitStage,
          latencyMs: r.latencyMs,
        });
        return;
      } catch (err) {
        // The query itself failed (a named failure type): that is its outcome. Anything else is the wire.
        if (err instanceof InferenceFailedError && err.type !== 'Error') {
          write({ kind: 'ended', id, at: Date.now(), ok: false, errorType: err.type, error: err.message });
          return;
        }
        if (Date.now() > giveUpAt) {
          const e = err as Error;
          write({ kind: 'ended', id, at: Date.now(), ok: false, errorType: e.name || 'Error', error: e.message });
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  const pending: Promise<void>[] = [];
  if (values.resume) {
    const { open } = parseLoadLog(fs.readFileSync(logFile, 'utf8'));
    for (const q of open) pending.push(run(q.n, Date.now()));
  } else if (closed > 0) {
    // Closed loop: each client starts its next query when its last one ended, until the duration is over.
    const t0 = Date.now();
    let next = 0;
    const loop = async () => {
      while (Date.now() - t0 < durationS * 1000) await run(next++, Date.now());
    };
    for (let c = 0; c < closed; c++) pending.push(loop());
  } else {
    const t0 = Date.now();
    const total = Math.round(rate * durationS);
    for (let n = 0; n < total; n++) {
      const dueAt = t0 + (n / rate) * 1000;
      const wait = dueAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(run(n, dueAt));
    }
  }
  await Promise.all(pending);
  await client.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
