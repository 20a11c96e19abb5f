/**
 * An open-loop traffic source for integration tests: queries start at a set rate whatever their latency, and the
 * rate and the input mix can change while it runs (a load step, a drift), unlike `runWorkload`, which sends a
 * fixed number of queries at one rate. Images are the held-out split in a seeded order, with the mix applied as
 * `runWorkload` applies it (`models/input-mix.ts`).
 */
import type { SerflowClient } from '../../client';
import type { InferenceResult } from '../../common/contracts';
import { sampleIndices } from '../../common/stats';
import { loadSplit } from '../../models/dataset';
import { allowedIndices, applyNoise, type InputMix } from '../../models/input-mix';
import { loadManifest } from '../../models/manifest';
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
  const split = loadSplit(loadManifest(o.model, client.config.modelsDir), 'test');
  const seed = o.seed ?? 1;
  const orderFor = (mix: InputMix) => {
    const allowed = allowedIndices(split.labels, mix);
    if (!allowed.length) throw new Error('the input mix allows no held-out sample');
    return sampleIndices(allowed.length, allowed.length, seed).map((i) => allowed[i] as number);
  };
  let mix: InputMix = o.mix ?? {};
  let order = orderFor(mix);
  let rate = o.rateQps;
  // The schedule restarts at every rate change: query `sent` of the current rate is due at base + sent / rate.
  let base = Date.now();
  let sent = 0;
  let n = 0;
  let running = true;
  const queries: OpenLoopQuery[] = [];
  const inFlight = new Set<Promise<void>>();

  const send = () => {
    const index = order[n % order.length] as number;
    const original = split.images[index] as Float32Array;
    const image = mix.noise ? applyNoise(original, mix.noise, seed * 100_003 + n) : original;
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
      mix = next;
      order = orderFor(next);
    },
    async stop() {
      running = false;
      await loop;
      await Promise.all([...inFlight]);
      return queries;
    },
  };
}
