/**
 * A closed-loop workload of held-out samples through the running stack: used by `serflow infer`,
 * `serflow demo` and the benchmark. Failed queries are counted and reported, never dropped silently.
 */
import type { SerflowClient } from '../client';
import { InferenceFailedError } from '../client';
import type { InferenceResult } from '../common/contracts';
import { summarizeLatency, type LatencySummary } from '../common/stats';
import { createSamplePicker } from '../eval/workload/samples';
import type { InputMix } from '../models/input-mix';

export interface WorkloadOptions {
  model: string;
  samples: number;
  threshold?: number;
  /** Queries in flight at once. */
  concurrency: number;
  seed?: number;
  /** A shifted input mix (noise, classes) to make the exit profile drift. */
  mix?: InputMix;
  /** Open loop: start queries at this rate (queries/s) whatever the latency; `concurrency` is then ignored. */
  rateQps?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface WorkloadOutcome {
  index: number;
  expected: number;
  clientLatencyMs: number;
  result?: InferenceResult;
  error?: { type: string; message: string };
}

export interface WorkloadSummary {
  model: string;
  queries: number;
  succeeded: number;
  failed: number;
  accuracy: number;
  threshold: number | null;
  /** Queries per exit stage (`"1"`: exited after stage 1, ...). */
  exitHistogram: Record<string, number>;
  /** End-to-end latency seen by the client: start request to result. */
  latencyMs: LatencySummary;
  /** Latency inside the workflow (workflow start to result, workflow clock). */
  workflowLatencyMs: LatencySummary;
  durationMs: number;
  throughputQps: number;
  errors: { type: string; count: number; example: string }[];
}

/** Default queries in flight for `serflow infer`: enough to overlap orchestration round-trips on 2 cores. */
export const DEFAULT_INFER_CONCURRENCY = 8;

export async function runWorkload(
  client: SerflowClient,
  o: WorkloadOptions,
): Promise<{ outcomes: WorkloadOutcome[]; summary: WorkloadSummary }> {
  const picker = createSamplePicker(o.model, client.config.modelsDir, o.seed ?? 1);
  // Fail before the first query when the mix allows no sample.
  picker.pick(0, o.mix);
  const total = o.samples;
  const outcomes: WorkloadOutcome[] = [];
  let next = 0;
  const started = performance.now();
  const runOne = async (n: number) => {
    const { index, expected, image } = picker.pick(n, o.mix);
    const t0 = performance.now();
    const outcome: WorkloadOutcome = { index, expected, clientLatencyMs: 0 };
    try {
      outcome.result = await client.infer(image, { model: o.model, threshold: o.threshold });
    } catch (err) {
      const e = err as Error;
      outcome.error = { type: err instanceof InferenceFailedError ? err.type : e.name, message: e.message };
    }
    outcome.clientLatencyMs = performance.now() - t0;
    outcomes.push(outcome);
    o.onProgress?.(outcomes.length, total);
  };
  if (o.rateQps) {
    // Open loop: query n starts at n / rate seconds, however long earlier ones take.
    const rate = o.rateQps;
    const runs: Promise<void>[] = [];
    for (let n = 0; n < total; n++) {
      const wait = started + (n * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      runs.push(runOne(n));
    }
    await Promise.all(runs);
  } else {
    const worker = async () => {
      while (next < total) await runOne(next++);
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  }
  const durationMs = performance.now() - started;
  return { outcomes, summary: summarize(o.model, outcomes, durationMs, o.threshold) };
}

export function summarize(
  model: string,
  outcomes: WorkloadOutcome[],
  durationMs: number,
  threshold?: number,
): WorkloadSummary {
  const ok = outcomes.filter((o) => o.result);
  const exitHistogram: Record<string, number> = {};
  for (const o of ok) {
    const k = String(o.result!.exitStage);
    exitHistogram[k] = (exitHistogram[k] ?? 0) + 1;
  }
  const errors = new Map<string, { type: string; count: number; example: string }>();
  for (const o of outcomes) {
    if (!o.error) continue;
    const e = errors.get(o.error.type) ?? { type: o.error.type, count: 0, example: o.error.message };
    e.count++;
    errors.set(o.error.type, e);
  }
  const correct = ok.filter((o) => o.result!.label === o.expected).length;
  return {
    model,
    queries: outcomes.length,
    succeeded: ok.length,
    failed: outcomes.length - ok.length,
    // Failed queries count as wrong: accuracy is over every query sent.
    accuracy: outcomes.length ? correct / outcomes.length : 0,
    threshold: threshold ?? ok[0]?.result?.threshold ?? null,
    exitHistogram,
    latencyMs: summarizeLatency(ok.map((o) => o.clientLatencyMs)),
    workflowLatencyMs: summarizeLatency(ok.map((o) => o.result!.latencyMs)),
    durationMs: Math.round(durationMs),
    throughputQps: Math.round((outcomes.length / (durationMs / 1000)) * 10) / 10,
    errors: [...errors.values()],
  };
}

/** Human-readable report of a summary. */
export function formatSummary(s: WorkloadSummary): string {
  const stages = Object.keys(s.exitHistogram)
    .map(Number)
    .sort((a, b) => a - b);
  const maxCount = Math.max(1, ...Object.values(s.exitHistogram));
  const lines = [
    `model ${s.model}: ${s.queries} queries (${s.succeeded} ok, ${s.failed} failed) in ${(s.durationMs / 1000).toFixed(1)} s, ${s.throughputQps} q/s`,
    `accuracy ${(s.accuracy * 100).toFixed(2)} %  (threshold ${s.threshold ?? 'model default'})`,
    'exit stage histogram:',
    ...stages.map((k) => {
      const n = s.exitHistogram[String(k)] ?? 0;
      return `  stage ${k}: ${String(n).padStart(5)}  ${'#'.repeat(Math.round((n / maxCount) * 40))}`;
    }),
    `latency (client, ms): p50 ${s.latencyMs.p50}  p95 ${s.latencyMs.p95}  p99 ${s.latencyMs.p99}  max ${s.latencyMs.max}`,
    `latency (workflow, ms): p50 ${s.workflowLatencyMs.p50}  p95 ${s.workflowLatencyMs.p95}  p99 ${s.workflowLatencyMs.p99}`,
    ...s.errors.map((e) => `errors ${e.type}: ${e.count} (e.g. ${e.example})`),
  ];
  return lines.join('\n');
}
