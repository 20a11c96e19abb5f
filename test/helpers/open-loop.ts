/**
 * An open-loop traffic source for integration tests: queries start at a set rate whatever their latency, and the
 * rate and the input mix can change while it runs (a load step, a drift), unlike `runWorkload`, which sends a
 * fixed number of queries at one rate. Images are picked as every workload picks them (`eval/workload/samples.ts`).
 */
import type { SerflowClient } from '../../client';
import type { InferenceResult } from '../../common/contracts';
import { createSamplePicker } from '../../eval/workload/samples';
import type { InputMix } from '../../models/input-mix';
import { sleep } from './wait-until';

/** Longest pause between two checks of the schedule, ms: a rate change takes effect within this. */
const SCHEDULE_CHECK_MS = 20;

export interface OpenLoopQuery {
  /** Wall epoch ms the query was sent. */
  sentAt: number;
  rateQps: number;
  mix: InputMix;
  result?: InferenceResult;
  error?: Error;
}

export interface OpenLoop {
  readonly queries: readonly OpenLoopQuery[];
  /** Start queries at `qps` from now on (0 pauses). */
  setRate(qps: number): void;
  /** Draw the next images from `mix` (noise and classes). */
  setMix(mix: InputMix): void;
  /** Send no more queries and wait for those in flight. */
  stop(): Promise<OpenLoopQuery[]>;
}

export function startOpenLoop(
  client: SerflowClient,
  o: { model: string; rateQps: number; mix?: InputMix; seed?: number },
): OpenLoop {
  const picker = createSamplePicker(o.model, client.config.modelsDir, o.seed ?? 1);
  let mix: InputMix = o.mix ?? {};
  picker.pick(0, mix); // fail at once when the mix allows no sample
  let rate = o.rateQps;
  // The schedule restarts at every rate change: query `sent` of the current rate is due at base + sent / rate.
  let base = Date.now();
  let sent = 0;
  let n = 0;
  let running = true;
  const queries: OpenLoopQuery[] = [];
  const inFlight = new Set<Promise<void>>();

  const send = () => {
    const { image } = picker.pick(n, mix);
    n++;
    const q: OpenLoopQuery = { sentAt: Date.now(), rateQps: rate, mix };
    queries.push(q);
    const p = client.infer(image, { model: o.model }).then(
      (r) => void (q.result = r),
      (err: Error) => void (q.error = err),
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const loop = (async () => {
    while (running) {
      const due = rate > 0 ? base + (sent * 1000) / rate : Infinity;
      const now = Date.now();
      if (due <= now) {
        send();
        sent++;
      } else {
        await sleep(Math.min(SCHEDULE_CHECK_MS, due - now));
      }
    }
  })();

  return {
    queries,
    setRate(qps) {
      rate = qps;
      base = Date.now();
      sent = 0;
    },
    setMix(next) {
      picker.pick(n, next); // fail at once when the mix allows no sample
      mix = next;
    },
    async stop() {
      running = false;
      await loop;
      await Promise.all([...inFlight]);
      return queries;
    },
  };
}
