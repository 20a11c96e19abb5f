/**
 * Open-loop replay of one arrival sequence against a running stack: query n is started at its arrival time,
 * however long earlier queries take (a closed loop would slow down with the system and hide overload).
 *
 * Time. Trace times are cloud seconds. The stack runs `timeScale` cloud seconds per wall second (VM boots, cold
 * starts, keep-alives and bills follow it, common/config.ts), so the replay compresses the trace by the same
 * factor: arrival t (trace ms) is sent at replay start + t / timeScale (wall). A VM boot of 100 s then spans the
 * same share of the trace as in the cloud, and every query of the window is billed once. The price is load: the
 * machine receives timeScale × the trace's rate per wall second, which is also the rate the autoscaler measures
 * (its rates are per wall second, autoscaler/config.ts) and what its T-CIP (`tCipWall`) is scaled for.
 *
 * Every query is accounted for: a failed query keeps its error, and one without a result `drainLimitMs` after
 * the last arrival (or the window end) is recorded as unfinished; both count as SLO violations downstream.
 */
import { InferenceFailedError, type SerflowClient } from '../../client';
import type { InferenceResult } from '../../common/contracts';
import { mixAt, NO_SHIFT_MIX, type MixSchedule } from '../../eval/workload/schedules';
import type { SamplePicker } from '../../eval/workload/samples';

/** Error type of a query that had no result when the replay stopped waiting. */
export const UNFINISHED_ERROR = 'Unfinished';

/** Longest sleep between two checks of the schedule, ms: keeps the send lag small after a slow tick. */
const MAX_SLEEP_MS = 50;

export interface ReplayQuery {
  /** 0-based position in the arrival sequence. */
  n: number;
  /** Arrival time, trace ms from the window start. */
  arrivalMs: number;
  /** Input mix in force at the arrival (`all` = unshifted). */
  mix: string;
  index: number;
  expected: number;
  /** Wall epoch ms the query was sent. */
  sentAt: number;
  /** How late the send was against its schedule, wall ms (a busy event loop or an overloaded client). */
  lagMs: number;
  /** Client-side end-to-end latency, wall ms: start request to result (or to the failure). */
  latencyMs?: number;
  result?: InferenceResult;
  error?: { type: string; message: string };
}

export interface ReplayOptions {
  client: SerflowClient;
  model: string;
  /** Sorted arrival times, trace ms from the window start. */
  arrivalsMs: Float64Array;
  /** Window length, trace seconds: the replay lasts at least this long (scaled), even if the tail is idle. */
  durationS: number;
  timeScale: number;
  picker: SamplePicker;
  mixSchedule?: MixSchedule;
  /** Wall ms to wait for results after the last arrival or the window end, whichever is later. */
  drainLimitMs: number;
  /** Query ids are `<prefix><n>`. */
  queryIdPrefix: string;
  /** Called on every finished query (completed or failed). */
  onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  queries: ReplayQuery[];
  /** Wall epoch ms of trace time 0. */
  startedAt: number;
  /** Wall epoch ms the replay ended: every query finished (or was given up on) and the window was over. */
  endedAt: number;
  /** Queries without a result at the drain limit. */
  unfinished: number;
  /** Largest send lag, wall ms. */
  maxLagMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function replayArrivals(o: ReplayOptions): Promise<ReplayResult> {
  const total = o.arrivalsMs.length;
  const perfStart = performance.now();
  const startedAt = Date.now();
  const epochOf = (perf: number) => startedAt + (perf - perfStart);
  const dueOf = (n: number) => perfStart + (o.arrivalsMs[n] as number) / o.timeScale;
  const queries: ReplayQuery[] = [];
  const pending = new Set<Promise<void>>();
  let done = 0;
  let maxLagMs = 0;
  /** Set once the replay stops waiting: late settlements of given-up queries report no progress. */
  let closed = false;

  const send = (n: number) => {
    const arrivalMs = o.arrivalsMs[n] as number;
    const mix = o.mixSchedule ? mixAt(o.mixSchedule, arrivalMs / 1000) : NO_SHIFT_MIX;
    const sample = o.picker.pick(n, mix);
    const t0 = performance.now();
    const lagMs = Math.max(0, t0 - dueOf(n));
    maxLagMs = Math.max(maxLagMs, lagMs);
    const q: ReplayQuery = {
      n,
      arrivalMs,
      mix,
      index: sample.index,
      expected: sample.expected,
      sentAt: epochOf(t0),
      lagMs,
    };
    queries.push(q);
    const p = o.client.infer(sample.image, { model: o.model, queryId: `${o.queryIdPrefix}${n}` }).then(
      (result) => {
        if (q.error) return; // given up on at the drain limit: stays unfinished
        q.result = result;
        q.latencyMs = performance.now() - t0;
      },
      (err: unknown) => {
        if (q.error) return;
        const e = err as Error;
        q.error = { type: err instanceof InferenceFailedError ? err.type : (e?.name ?? 'Error'), message: e?.message };
        q.latencyMs = performance.now() - t0;
      },
    );
    const tracked = p.finally(() => {
      pending.delete(tracked);
      if (!closed) o.onProgress?.(++done, total);
    });
    pending.add(tracked);
  };

  for (let n = 0; n < total;) {
    const now = performance.now();
    while (n < total && dueOf(n) <= now) send(n++);
    if (n < total) await sleep(Math.min(MAX_SLEEP_MS, Math.max(0, dueOf(n) - performance.now())));
  }

  // Wait for the window to end and every query to finish, up to the drain limit.
  const windowEnd = perfStart + (o.durationS * 1000) / o.timeScale;
  const deadline = Math.max(windowEnd, performance.now()) + o.drainLimitMs;
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    Promise.all([...pending]).then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - performance.now())))),
  ]);
  clearTimeout(timer);
  closed = true;
  let unfinished = 0;
  if (!finished) {
    for (const q of queries) {
      if (q.result || q.error) continue;
      q.error = { type: UNFINISHED_ERROR, message: `no result ${o.drainLimitMs} ms (wall) after the replay ended` };
      unfinished++;
    }
  }
  const idle = windowEnd - performance.now();
  if (idle > 0) await sleep(idle);
  return { queries, startedAt, endedAt: epochOf(performance.now()), unfinished, maxLagMs };
}
