/**
 * Orchestration-overhead benchmark: what running each stage as a Temporal activity costs, compared with
 * running the same ONNX stages directly in one process.
 *
 *   npm run build && npm run bench:overhead
 *   node lib/bench/overhead.js --samples 300 --concurrency 1,4,8,16 --duration 10 --out bench/results/overhead.json
 *
 * Steps (all on the real embedded stack: Temporal dev server, nats-server, worker processes):
 *   1. direct path: the test samples through createDirectPipeline (all stages in this process, the workflow's
 *      exit rule), sequentially;
 *   2. pipeline latency: the same samples via SerflowClient.infer, one at a time, after a warm-up; labels and
 *      exit stages must equal the direct path's;
 *   3. throughput: N closed-loop client loops for a fixed duration per concurrency level N, while the stage
 *      workers' event-loop delay records (NATS KV) are sampled;
 *   4. a per-query time breakdown from workflow histories (where the orchestration time goes).
 * Writes JSON to --out and an SVG chart next to it; progress goes to stderr as `[bench] ...` lines.
 *
 * Experiment flags: `--dynamic-config KEY=VALUE` (repeatable) sets `temporal.devServerDynamicConfig` entries
 * (merged over the defaults; VALUE parsed as JSON when it parses, else a string), so the embedded stack starts its
 * dev server with them; `--stage-concurrency`, `--processes-per-stage` override the worker config.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { gitInfo, machineInfo } from './run-info';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { NatsConnection } from 'nats';
import { createDirectPipeline, type DirectResult } from '../models/runtime/direct-pipeline';
import { SerflowClient } from '../client';
import { loadConfig, type SerflowConfig, type SerflowConfigInput } from '../common/config';
import type { InferenceResult } from '../common/contracts';
import { inferenceWorkflowId } from '../common/naming';
import { quantile, sampleIndices, summarizeLatency, type LatencySummary } from '../common/stats';
import { startStack, type RunningStack } from '../deploy/local/stack';
import { connectNats } from '../infra/nats';
import { loadSplit } from '../models/dataset';
import { loadManifest } from '../models/manifest';
import { listWorkers } from '../infra/worker-status';

export const TARGETS = { overheadPerStageP50Ms: 10, throughputQps: 50 } as const;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

interface Args {
  samples: number;
  concurrency: number[];
  threshold?: number;
  out: string;
  svg: string;
  durationS: number;
  warmup: number;
  seed: number;
  model?: string;
  historySamples: number;
  dynamicConfig: Record<string, string | number | boolean>;
  stageConcurrency?: number;
  processesPerStage?: number;
}

/** `KEY=VALUE` pairs; VALUE is parsed as JSON when it parses to a string, number or boolean, else kept as text. */
export function parseDynamicConfig(pairs: string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--dynamic-config: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
    const raw = kv.slice(eq + 1);
    let value: string | number | boolean = raw;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean') value = parsed;
    } catch {
      // not JSON: keep the text
    }
    out[kv.slice(0, eq)] = value;
  }
  return out;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '1,4,8,16' },
      threshold: { type: 'string' },
      out: { type: 'string', default: 'bench/results/overhead.json' },
      svg: { type: 'string' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      model: { type: 'string' },
      'history-samples': { type: 'string', default: '30' },
      'dynamic-config': { type: 'string', multiple: true, default: [] },
      'stage-concurrency': { type: 'string' },
      'processes-per-stage': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node lib/bench/overhead.js [--samples 300] [--concurrency 1,4,8,16] [--threshold T] [--duration 10]\n' +
        '         [--warmup 30] [--seed 1] [--model NAME] [--history-samples 30] [--out bench/results/overhead.json] [--svg PATH]\n' +
        '         [--dynamic-config KEY=VALUE ...] [--stage-concurrency N] [--processes-per-stage N]\n',
    );
    process.exit(0);
  }
  const posInt = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const out = path.resolve(values.out);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !(threshold > 0 && threshold <= 1))
    throw new Error(`--threshold: expected a number in (0, 1]`);
  const durationS = Number(values.duration);
  if (!(durationS > 0)) throw new Error('--duration: expected a positive number of seconds');
  return {
    samples: posInt('samples', values.samples),
    concurrency: values.concurrency.split(',').map((s) => posInt('concurrency', s.trim())),
    threshold,
    out,
    svg: values.svg ? path.resolve(values.svg) : out.replace(/\.json$/i, '') + '.svg',
    durationS,
    warmup: Number(values.warmup) >= 0 ? Math.floor(Number(values.warmup)) : 30,
    seed: posInt('seed', values.seed),
    model: values.model,
    historySamples: Math.max(0, Math.floor(Number(values['history-samples']) || 0)),
    dynamicConfig: parseDynamicConfig(values['dynamic-config']),
    stageConcurrency: values['stage-concurrency']
      ? posInt('stage-concurrency', values['stage-concurrency'])
      : undefined,
    processesPerStage: values['processes-per-stage']
      ? posInt('processes-per-stage', values['processes-per-stage'])
      : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Direct path: the stages in this process (createDirectPipeline: the workflow's exit rule, one implementation).

async function directPhase(
  config: SerflowConfig,
  model: string,
  images: Float32Array[],
  threshold: number,
  warmup: number,
): Promise<DirectResult[]> {
  const direct = await createDirectPipeline(model, config.modelsDir);
  try {
    // Later stages load on their first run: push a few queries through every stage (no threshold reached) first.
    for (let i = 0; i < Math.min(3, images.length); i++) await direct.run(images[i]!, Infinity);
    for (let i = 0; i < warmup; i++) await direct.run(images[i % images.length]!, threshold);
    const outcomes: DirectResult[] = [];
    for (const img of images) outcomes.push(await direct.run(img, threshold));
    return outcomes;
  } finally {
    await direct.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Pipeline helpers.

interface PipelineOutcome {
  latencyMs: number;
  result?: InferenceResult;
  error?: string;
  /** Wall clock (Date.now) at start / end, for lining up with history event times. */
  startedAt: number;
  endedAt: number;
}

async function timedInfer(
  client: SerflowClient,
  image: Float32Array,
  model: string,
  threshold: number,
): Promise<PipelineOutcome> {
  const startedAt = Date.now();
  const t0 = performance.now();
  try {
    const result = await client.infer(image, { model, threshold });
    return { latencyMs: performance.now() - t0, result, startedAt, endedAt: Date.now() };
  } catch (err) {
    return {
      latencyMs: performance.now() - t0,
      error: `${(err as Error).name}: ${(err as Error).message}`,
      startedAt,
      endedAt: Date.now(),
    };
  }
}

interface LoopDelay {
  samples: number;
  stageMaxP99Ms: number | null;
  stageMaxMaxMs: number | null;
  workflowMaxP99Ms: number | null;
  workflowMaxMaxMs: number | null;
}

/** Polls the worker records (refreshed every heartbeat) until stopped; keeps the worst event-loop delay seen. */
function sampleEventLoop(nc: NatsConnection, everyMs: number): { stop(): Promise<LoopDelay> } {
  const acc = { samples: 0, stageP99: -Infinity, stageMax: -Infinity, wfP99: -Infinity, wfMax: -Infinity };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        for (const w of await listWorkers(nc)) {
          if (w.role === 'stage') {
            acc.stageP99 = Math.max(acc.stageP99, w.eventLoopDelayMs.p99);
            acc.stageMax = Math.max(acc.stageMax, w.eventLoopDelayMs.max);
          } else {
            acc.wfP99 = Math.max(acc.wfP99, w.eventLoopDelayMs.p99);
            acc.wfMax = Math.max(acc.wfMax, w.eventLoopDelayMs.max);
          }
        }
        acc.samples++;
      } catch {
        // a missed sample is fine
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return {
        samples: acc.samples,
        stageMaxP99Ms: round(acc.stageP99),
        stageMaxMaxMs: round(acc.stageMax),
        workflowMaxP99Ms: round(acc.wfP99),
        workflowMaxMaxMs: round(acc.wfMax),
      };
    },
  };
}

/** Per-stage p50 of queue wait, service (ONNX run) and handler (whole activity attempt) times. */
function stageTimes(results: InferenceResult[], stages: number) {
  return Array.from({ length: stages }, (_, i) => {
    const recs = results.flatMap((r) => r.stages.filter((s) => s.stage === i + 1));
    return {
      stage: i + 1,
      executions: recs.length,
      queueMsP50: round(
        quantile(
          recs.map((s) => s.queueMs),
          0.5,
        ),
      ),
      serviceMsP50: round(
        quantile(
          recs.map((s) => s.serviceMs),
          0.5,
        ),
        3,
      ),
      handlerMsP50: round(
        quantile(
          recs.map((s) => s.handlerMs),
          0.5,
        ),
      ),
      queueMsP95: round(
        quantile(
          recs.map((s) => s.queueMs),
          0.95,
        ),
      ),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Where the time goes: per-query breakdown from the workflow history (all event times are this host's clock).

interface Breakdown {
  /** client call -> WorkflowExecutionStarted */
  startRpcMs: number;
  /** sum over workflow tasks of scheduled -> started (matching + poller wake-up) */
  workflowTaskQueueMs: number;
  /** sum over workflow tasks of started -> completed (workflow code, local activity, worker round trip) */
  workflowTaskRunMs: number;
  /** sum over stage activities of scheduled -> started */
  activityQueueMs: number;
  /** sum over stage activities of started -> completed (handler + completion RPC) */
  activityRunMs: number;
  /** WorkflowExecutionCompleted -> client has the result */
  resultDeliveryMs: number;
  workflowTasks: number;
  activities: number;
  totalMs: number;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function breakdownOf(events: HistoryEvent[], o: PipelineOutcome): Breakdown {
  const t = (e: HistoryEvent) => tsToMs(e.eventTime);
  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId), e);
  const b: Breakdown = {
    startRpcMs: 0,
    workflowTaskQueueMs: 0,
    workflowTaskRunMs: 0,
    activityQueueMs: 0,
    activityRunMs: 0,
    resultDeliveryMs: 0,
    workflowTasks: 0,
    activities: 0,
    totalMs: o.endedAt - o.startedAt,
  };
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) b.startRpcMs = t(e) - o.startedAt;
    if (e.workflowExecutionCompletedEventAttributes) b.resultDeliveryMs = o.endedAt - t(e);
    const ws = e.workflowTaskStartedEventAttributes;
    if (ws) {
      const sched = byId.get(Number(ws.scheduledEventId));
      if (sched) b.workflowTaskQueueMs += t(e) - t(sched);
    }
    const wc = e.workflowTaskCompletedEventAttributes;
    if (wc) {
      const started = byId.get(Number(wc.startedEventId));
      if (started) b.workflowTaskRunMs += t(e) - t(started);
      b.workflowTasks++;
    }
    const as = e.activityTaskStartedEventAttributes;
    if (as) {
      const sched = byId.get(Number(as.scheduledEventId));
      if (sched) b.activityQueueMs += t(e) - t(sched);
    }
    const ac = e.activityTaskCompletedEventAttributes;
    if (ac) {
      const started = byId.get(Number(ac.startedEventId));
      if (started) b.activityRunMs += t(e) - t(started);
      b.activities++;
    }
  }
  return b;
}

async function historyBreakdown(client: SerflowClient, model: string, outcomes: PipelineOutcome[]) {
  const rows: Breakdown[] = [];
  for (const o of outcomes) {
    if (!o.result) continue;
    const handle = client.temporal.workflow.getHandle(inferenceWorkflowId(model, o.result.queryId));
    const history = await handle.fetchHistory();
    rows.push(breakdownOf(history.events ?? [], o));
  }
  const keys = [
    'totalMs',
    'startRpcMs',
    'workflowTaskQueueMs',
    'workflowTaskRunMs',
    'activityQueueMs',
    'activityRunMs',
    'resultDeliveryMs',
    'workflowTasks',
    'activities',
  ] as const;
  const p50 = Object.fromEntries(
    keys.map((k) => [
      k,
      round(
        quantile(
          rows.map((r) => r[k]),
          0.5,
        ),
      ),
    ]),
  );
  const mean = Object.fromEntries(keys.map((k) => [k, round(rows.reduce((s, r) => s + r[k], 0) / (rows.length || 1))]));
  // Per workflow task / activity means (sum / count), the figures that compare across queries of different depth.
  const perWorkflowTask = {
    queueMs: round(
      rows.reduce((s, r) => s + r.workflowTaskQueueMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.workflowTasks, 0),
        ),
    ),
    runMs: round(
      rows.reduce((s, r) => s + r.workflowTaskRunMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.workflowTasks, 0),
        ),
    ),
  };
  const perActivity = {
    queueMs: round(
      rows.reduce((s, r) => s + r.activityQueueMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.activities, 0),
        ),
    ),
    runMs: round(
      rows.reduce((s, r) => s + r.activityRunMs, 0) /
        Math.max(
          1,
          rows.reduce((s, r) => s + r.activities, 0),
        ),
    ),
  };
  return { queries: rows.length, p50, mean, perWorkflowTask, perActivity };
}

// ---------------------------------------------------------------------------------------------------------
// CPU accounting per stack process (Linux /proc), to see which component the cores go to under load.

const CLK_TCK = 100;

/** utime + stime of a process in ms, or null when /proc is not there (not Linux) or the process is gone. */
function cpuMsOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
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
 * Component of a process from its command line: `workflow-worker`, `stage-<k>-worker`, other worker roles by
 * name (`cloud-agent`, ...), else the executable's name (`temporal`, `nats-server`).
 */
function componentOf(pid: number): string | null {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
  const script = argv.findIndex((a) => /workers[/\\]main\.js$/.test(a));
  if (script >= 0) {
    const role = argv[script + 1] ?? 'worker';
    if (role === 'workflow') return 'workflow-worker';
    if (role === 'stage') return `stage-${argv[argv.indexOf('--stage') + 1] ?? '?'}-worker`;
    return role;
  }
  return path.basename(argv[0] ?? `pid-${pid}`);
}

/**
 * CPU ms so far of the stack's processes and everything they started (worker processes spawned by an agent
 * included), by component; plus this process as `bench-client`. A process that exits between two snapshots
 * drops out of the difference.
 */
function cpuSnapshot(procs: { pid: number }[]): Map<string, number> {
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
function cpuPerQuery(before: Map<string, number>, after: Map<string, number>, queries: number, wallMs: number) {
  const perQueryMs: Record<string, number | null> = {};
  let total = 0;
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? v);
    total += d;
    perQueryMs[k] = round(d / Math.max(1, queries));
  }
  return { perQueryMs, totalPerQueryMs: round(total / Math.max(1, queries)), coresUsed: round(total / wallMs) };
}

// ---------------------------------------------------------------------------------------------------------
// Output: table and SVG.

function table(rows: (string | number | null)[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '-').length)));
  return rows.map((r) => r.map((v, c) => String(v ?? '-').padStart(widths[c]!)).join('  ')).join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `, KEY=VALUE ...` for the --dynamic-config values of a run, or nothing. */
const dynamicConfigNote = (r: BenchReport) => {
  const kv = Object.entries(r.config.dynamicConfig).map(([k, v]) => `${k}=${String(v)}`);
  return kv.length ? `, ${kv.join(' ')}` : '';
};

/** Two panels: latency p50/p95/p99 (direct vs pipeline, log scale) and throughput + p50 per concurrency. */
export function renderSvg(r: BenchReport): string {
  const W = 960;
  const H = 440;
  const parts: string[] = [];
  const text = (
    x: number,
    y: number,
    s: string,
    o: { size?: number; anchor?: string; weight?: string; fill?: string } = {},
  ) =>
    parts.push(
      `<text x="${x}" y="${y}" font-size="${o.size ?? 12}" text-anchor="${o.anchor ?? 'start'}" font-weight="${o.weight ?? 'normal'}" fill="${o.fill ?? '#222'}">${esc(s)}</text>`,
    );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  text(
    W / 2,
    24,
    `SERFLOW orchestration overhead: ${r.config.model}, ${r.machine.cpus} cores, ${r.timestamp.slice(0, 10)}` +
      dynamicConfigNote(r),
    {
      size: 15,
      anchor: 'middle',
      weight: 'bold',
    },
  );

  // Panel 1: latency bars, log scale.
  const p1 = { x: 70, y: 60, w: 380, h: 300 };
  text(p1.x + p1.w / 2, p1.y - 12, 'Latency per query, concurrency 1 (ms, log scale)', {
    anchor: 'middle',
    weight: 'bold',
  });
  const groups: [string, LatencySummary][] = [
    ['direct (in-process ONNX)', r.direct.latencyMs],
    ['pipeline (Temporal)', r.pipeline.latencyMs],
  ];
  const all = groups.flatMap(([, s]) => [s.p50, s.p95, s.p99]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const yOf = (v: number) =>
    p1.y + p1.h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * p1.h;
  for (let d = lo; d <= hi; d *= 10) {
    parts.push(`<line x1="${p1.x}" x2="${p1.x + p1.w}" y1="${yOf(d)}" y2="${yOf(d)}" stroke="#ddd"/>`);
    text(p1.x - 6, yOf(d) + 4, String(d), { anchor: 'end', size: 11 });
  }
  const colors = ['#4e79a7', '#f28e2b', '#e15759'];
  const labels = ['p50', 'p95', 'p99'];
  const gw = p1.w / groups.length;
  groups.forEach(([name, s], g) => {
    const vals = [s.p50, s.p95, s.p99];
    const bw = 34;
    vals.forEach((v, i) => {
      const x = p1.x + g * gw + gw / 2 - (bw * 3) / 2 + i * bw;
      const y = yOf(v);
      parts.push(`<rect x="${x + 2}" y="${y}" width="${bw - 4}" height="${p1.y + p1.h - y}" fill="${colors[i]}"/>`);
      text(x + bw / 2, y - 4, v >= 10 ? v.toFixed(0) : v.toFixed(2), { anchor: 'middle', size: 10 });
    });
    text(p1.x + g * gw + gw / 2, p1.y + p1.h + 18, name, { anchor: 'middle' });
  });
  labels.forEach((l, i) => {
    parts.push(`<rect x="${p1.x + 10 + i * 60}" y="${p1.y + p1.h + 32}" width="12" height="12" fill="${colors[i]}"/>`);
    text(p1.x + 26 + i * 60, p1.y + p1.h + 42, l, { size: 11 });
  });
  text(
    p1.x,
    p1.y + p1.h + 66,
    `overhead per executed stage: p50 ${r.overheadPerStageMs.p50} ms, p95 ${r.overheadPerStageMs.p95} ms (target ${TARGETS.overheadPerStageP50Ms})`,
    { size: 11 },
  );

  // Panel 2: throughput bars + p50 latency labels.
  const p2 = { x: 540, y: 60, w: 380, h: 300 };
  text(p2.x + p2.w / 2, p2.y - 12, 'Sustained throughput by concurrency (queries/s)', {
    anchor: 'middle',
    weight: 'bold',
  });
  const levels = r.throughput;
  const maxQ = Math.max(TARGETS.throughputQps, ...levels.map((l) => l.qps)) * 1.15;
  const yQ = (v: number) => p2.y + p2.h - (v / maxQ) * p2.h;
  const step = maxQ > 100 ? 25 : 10;
  for (let v = 0; v <= maxQ; v += step) {
    parts.push(`<line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${yQ(v)}" y2="${yQ(v)}" stroke="#ddd"/>`);
    text(p2.x - 6, yQ(v) + 4, String(v), { anchor: 'end', size: 11 });
  }
  const tw = p2.w / Math.max(1, levels.length);
  levels.forEach((l, i) => {
    const x = p2.x + i * tw + tw * 0.2;
    const y = yQ(l.qps);
    parts.push(`<rect x="${x}" y="${y}" width="${tw * 0.6}" height="${p2.y + p2.h - y}" fill="#59a14f"/>`);
    text(x + tw * 0.3, y - 18, `${l.qps} q/s`, { anchor: 'middle', size: 11, weight: 'bold' });
    text(x + tw * 0.3, y - 5, `p50 ${Math.round(l.latencyMs.p50)} / p99 ${Math.round(l.latencyMs.p99)} ms`, {
      anchor: 'middle',
      size: 9,
    });
    text(x + tw * 0.3, p2.y + p2.h + 18, `c=${l.concurrency}`, { anchor: 'middle' });
  });
  const ty = yQ(TARGETS.throughputQps);
  parts.push(`<line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${ty}" y2="${ty}" stroke="#e15759" stroke-dasharray="6 4"/>`);
  text(p2.x + p2.w, ty - 4, `target ${TARGETS.throughputQps} q/s`, { anchor: 'end', size: 11, fill: '#e15759' });
  text(
    p2.x,
    p2.y + p2.h + 42,
    `stage-worker event-loop delay, max p99 seen: ${r.eventLoopDelay.stageMaxP99Ms ?? '-'} ms`,
    { size: 11 },
  );
  text(
    p2.x,
    p2.y + p2.h + 66,
    `targets: overhead/stage p50 <= ${TARGETS.overheadPerStageP50Ms} ms ${r.targets.overheadMet ? 'MET' : 'NOT met'}; ` +
      `throughput >= ${TARGETS.throughputQps} q/s ${r.targets.throughputMet ? 'MET' : 'NOT met'}`,
    { size: 11 },
  );

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

// ---------------------------------------------------------------------------------------------------------

interface ThroughputLevel {
  concurrency: number;
  queries: number;
  failed: number;
  durationMs: number;
  qps: number;
  latencyMs: LatencySummary;
  stageTimes: ReturnType<typeof stageTimes>;
  eventLoopDelay: LoopDelay;
  cpu: ReturnType<typeof cpuPerQuery> | null;
  history?: Awaited<ReturnType<typeof historyBreakdown>>;
}

export interface BenchReport {
  timestamp: string;
  /** The commit the run was made from, and whether the working tree had uncommitted changes (null: no git). */
  git: { commit: string; dirty: boolean } | null;
  machine: { cpus: number; cpuModel: string; totalMemGb: number; platform: string; node: string; onnxruntime: unknown };
  config: {
    model: string;
    stages: number;
    samples: number;
    threshold: number;
    warmup: number;
    concurrency: number[];
    throughputDurationS: number;
    seed: number;
    /** The --dynamic-config values, and the dev server's effective dynamic config (defaults merged). */
    dynamicConfig: Record<string, string | number | boolean>;
    devServerDynamicConfig: SerflowConfig['temporal']['devServerDynamicConfig'];
    workers: SerflowConfig['workers'];
  };
  targets: {
    overheadPerStageP50Ms: number;
    throughputQps: number;
    overheadMet: boolean;
    throughputMet: boolean;
    bestQps: number;
  };
  direct: { latencyMs: LatencySummary; exitHistogram: Record<string, number>; accuracy: number };
  pipeline: {
    latencyMs: LatencySummary;
    workflowLatencyMs: LatencySummary;
    failed: number;
    mismatches: { label: number; exitStage: number; examples: unknown[] };
    stageTimes: ReturnType<typeof stageTimes>;
    history: Awaited<ReturnType<typeof historyBreakdown>>;
  };
  overheadPerStageMs: { p50: number | null; p95: number | null; mean: number | null };
  throughput: ThroughputLevel[];
  eventLoopDelay: LoopDelay;
}

async function main(): Promise<void> {
  const args = parseCli();
  const homeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-bench-'));
  const dataDir = path.join(homeDir, 'data');
  const overrides: SerflowConfigInput = { homeDir };
  if (Object.keys(args.dynamicConfig).length) overrides.temporal = { devServerDynamicConfig: args.dynamicConfig };
  if (args.stageConcurrency) overrides.workers = { stageConcurrency: args.stageConcurrency };
  // VMs per stage pool the cloud agent starts with (each VM is a stage-worker process).
  if (args.processesPerStage) overrides.vm = { initialPerStage: args.processesPerStage };
  const config = loadConfig(overrides);
  const model = args.model ?? config.defaultModel;
  const manifest = loadManifest(model, config.modelsDir);
  const threshold = args.threshold ?? manifest.defaultThreshold;
  const split = loadSplit(manifest, 'test');
  const picks = sampleIndices(split.images.length, args.samples, args.seed);
  const images = picks.map((i) => split.images[i]!);
  const expected = picks.map((i) => split.labels[i]!);
  log(
    `model ${model} (${manifest.stages.length} stages), ${images.length} test samples, threshold ${threshold}, home ${homeDir}`,
  );

  let stack: RunningStack | undefined;
  let client: SerflowClient | undefined;
  let nc: NatsConnection | undefined;
  try {
    // (a) Direct path, before the stack exists (nothing else competes for the 2 cores).
    log(`direct: warm-up ${args.warmup}, then ${images.length} queries sequentially`);
    const direct = await directPhase(config, model, images, threshold, args.warmup);
    const directLat = summarizeLatency(direct.map((d) => d.latencyMs));
    log(`direct: p50 ${directLat.p50} ms  p95 ${directLat.p95} ms  p99 ${directLat.p99} ms`);

    // The stack.
    if (config.temporal.address) log(`using the external Temporal server at ${config.temporal.address}`);
    else log(`embedded dev server dynamic config: ${JSON.stringify(config.temporal.devServerDynamicConfig)}`);
    const tStack = performance.now();
    stack = await startStack({ config, dataDir, onProgress: (l) => log(`stack: ${l}`) });
    log(`stack up in ${((performance.now() - tStack) / 1000).toFixed(1)} s`);
    client = await SerflowClient.connectToStack(stack.info, config);
    nc = await connectNats(stack.info.natsUrl, 'serflow-bench');

    // (b) Pipeline latency at concurrency 1, after a warm-up.
    for (let i = 0; i < args.warmup; i++) {
      const o = await timedInfer(client, images[i % images.length]!, model, threshold);
      if (o.error) throw new Error(`warm-up query failed: ${o.error}`);
    }
    log(`pipeline c=1: warm-up of ${args.warmup} done`);
    const seq: PipelineOutcome[] = [];
    for (let i = 0; i < images.length; i++) {
      seq.push(await timedInfer(client, images[i]!, model, threshold));
      if ((i + 1) % 25 === 0 || i + 1 === images.length) log(`pipeline c=1: ${i + 1}/${images.length}`);
    }
    const ok = seq.filter((o) => o.result);
    const mismatchLabel: number[] = [];
    const mismatchExit: number[] = [];
    const overheads: number[] = [];
    seq.forEach((o, i) => {
      const d = direct[i]!;
      if (!o.result) return;
      if (o.result.label !== d.label) mismatchLabel.push(i);
      if (o.result.exitStage !== d.exitStage) mismatchExit.push(i);
      overheads.push((o.latencyMs - d.latencyMs) / o.result.stages.length);
    });
    const examples = [...new Set([...mismatchLabel, ...mismatchExit])].slice(0, 5).map((i) => ({
      sample: picks[i],
      direct: { label: direct[i]!.label, exitStage: direct[i]!.exitStage },
      pipeline: { label: seq[i]!.result?.label, exitStage: seq[i]!.result?.exitStage },
    }));
    log(`pipeline c=1: fetching ${Math.min(args.historySamples, ok.length)} workflow histories`);
    const seqHistory = await historyBreakdown(client, model, ok.slice(-args.historySamples));

    // (c) Throughput per concurrency level: closed loops for a fixed duration.
    const levels: ThroughputLevel[] = [];
    const overallLoop = { samples: 0, stageP99: -Infinity, stageMax: -Infinity, wfP99: -Infinity, wfMax: -Infinity };
    for (const c of args.concurrency) {
      const cl = client;
      const outcomes: PipelineOutcome[] = [];
      let next = 0;
      const sampler = sampleEventLoop(nc, 1_000);
      const procs = stack.info.processes;
      const cpuBefore = cpuSnapshot(procs);
      const t0 = performance.now();
      const deadline = t0 + args.durationS * 1000;
      let lastLog = t0;
      const loop = async () => {
        while (performance.now() < deadline) {
          const img = images[next++ % images.length]!;
          outcomes.push(await timedInfer(cl, img, model, threshold));
          const now = performance.now();
          if (now - lastLog > 2_000) {
            lastLog = now;
            log(`pipeline c=${c}: ${outcomes.length} queries, ${((now - t0) / 1000).toFixed(0)}/${args.durationS} s`);
          }
        }
      };
      await Promise.all(Array.from({ length: c }, loop));
      const durationMs = performance.now() - t0;
      const cpuAfter = cpuSnapshot(procs);
      const loopDelay = await sampler.stop();
      overallLoop.samples += loopDelay.samples;
      overallLoop.stageP99 = Math.max(overallLoop.stageP99, loopDelay.stageMaxP99Ms ?? -Infinity);
      overallLoop.stageMax = Math.max(overallLoop.stageMax, loopDelay.stageMaxMaxMs ?? -Infinity);
      overallLoop.wfP99 = Math.max(overallLoop.wfP99, loopDelay.workflowMaxP99Ms ?? -Infinity);
      overallLoop.wfMax = Math.max(overallLoop.wfMax, loopDelay.workflowMaxMaxMs ?? -Infinity);
      const good = outcomes.filter((o) => o.result);
      const level: ThroughputLevel = {
        concurrency: c,
        queries: outcomes.length,
        failed: outcomes.length - good.length,
        durationMs: Math.round(durationMs),
        qps: Math.round((good.length / (durationMs / 1000)) * 10) / 10,
        latencyMs: summarizeLatency(good.map((o) => o.latencyMs)),
        stageTimes: stageTimes(
          good.map((o) => o.result!),
          manifest.stages.length,
        ),
        eventLoopDelay: loopDelay,
        cpu: process.platform === 'linux' ? cpuPerQuery(cpuBefore, cpuAfter, outcomes.length, durationMs) : null,
      };
      if (c > 1 && args.historySamples > 0)
        level.history = await historyBreakdown(client, model, good.slice(-args.historySamples));
      levels.push(level);
      log(
        `pipeline c=${c}: ${level.qps} q/s, p50 ${level.latencyMs.p50} ms, p99 ${level.latencyMs.p99} ms, failed ${level.failed}, stage loop-delay p99 max ${loopDelay.stageMaxP99Ms} ms`,
      );
      if (level.cpu)
        log(
          `pipeline c=${c}: cores used ${level.cpu.coresUsed}, CPU ms per query ${JSON.stringify(level.cpu.perQueryMs)}`,
        );
    }

    const bestQps = Math.max(0, ...levels.map((l) => l.qps));
    const overheadP50 = quantile(overheads, 0.5);
    const exitHistogram: Record<string, number> = {};
    for (const d of direct) exitHistogram[String(d.exitStage)] = (exitHistogram[String(d.exitStage)] ?? 0) + 1;
    const report: BenchReport = {
      timestamp: new Date().toISOString(),
      git: gitInfo(),
      machine: {
        ...machineInfo(),
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        onnxruntime: (require('onnxruntime-node') as { env: { versions: unknown } }).env.versions,
      },
      config: {
        model,
        stages: manifest.stages.length,
        samples: images.length,
        threshold,
        warmup: args.warmup,
        concurrency: args.concurrency,
        throughputDurationS: args.durationS,
        seed: args.seed,
        dynamicConfig: args.dynamicConfig,
        devServerDynamicConfig: config.temporal.devServerDynamicConfig,
        workers: config.workers,
      },
      targets: {
        ...TARGETS,
        overheadMet: overheadP50 <= TARGETS.overheadPerStageP50Ms,
        throughputMet: bestQps >= TARGETS.throughputQps,
        bestQps,
      },
      direct: {
        latencyMs: directLat,
        exitHistogram,
        accuracy: round(direct.filter((d, i) => d.label === expected[i]).length / direct.length, 4) ?? 0,
      },
      pipeline: {
        latencyMs: summarizeLatency(ok.map((o) => o.latencyMs)),
        workflowLatencyMs: summarizeLatency(ok.map((o) => o.result!.latencyMs)),
        failed: seq.length - ok.length,
        mismatches: { label: mismatchLabel.length, exitStage: mismatchExit.length, examples },
        stageTimes: stageTimes(
          ok.map((o) => o.result!),
          manifest.stages.length,
        ),
        history: seqHistory,
      },
      overheadPerStageMs: {
        p50: round(overheadP50),
        p95: round(quantile(overheads, 0.95)),
        mean: round(overheads.reduce((s, v) => s + v, 0) / (overheads.length || 1)),
      },
      throughput: levels,
      eventLoopDelay: {
        samples: overallLoop.samples,
        stageMaxP99Ms: round(overallLoop.stageP99),
        stageMaxMaxMs: round(overallLoop.stageMax),
        workflowMaxP99Ms: round(overallLoop.wfP99),
        workflowMaxMaxMs: round(overallLoop.wfMax),
      },
    };

    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
    fs.mkdirSync(path.dirname(args.svg), { recursive: true });
    fs.writeFileSync(args.svg, renderSvg(report));
    printSummary(report);
    log(`wrote ${path.relative(process.cwd(), args.out)} and ${path.relative(process.cwd(), args.svg)}`);
  } finally {
    await nc?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    if (stack) {
      log('stopping the stack');
      await stack.stop().catch((err: Error) => log(`stack stop: ${err.message}`));
    }
    fs.rmSync(homeDir, { recursive: true, force: true });
  }
}

function printSummary(r: BenchReport): void {
  const L = (s: LatencySummary) => [s.p50, s.p95, s.p99];
  const lines = [
    '',
    `SERFLOW orchestration overhead: ${r.config.model} (${r.config.stages} stages), ${r.config.samples} samples, threshold ${r.config.threshold}`,
    `machine: ${r.machine.cpus} x ${r.machine.cpuModel}, node ${r.machine.node}; ` +
      `commit ${r.git ? `${r.git.commit.slice(0, 7)}${r.git.dirty ? ' (dirty)' : ''}` : 'unknown'}`,
    `dev server dynamic config: ${JSON.stringify(r.config.devServerDynamicConfig)}`,
    '',
    table([
      ['latency (ms)', 'p50', 'p95', 'p99'],
      ['direct (1 process)', ...L(r.direct.latencyMs)],
      ['pipeline c=1 (client)', ...L(r.pipeline.latencyMs)],
      ['pipeline c=1 (workflow)', ...L(r.pipeline.workflowLatencyMs)],
    ]),
    '',
    `overhead per executed stage: p50 ${r.overheadPerStageMs.p50} ms, p95 ${r.overheadPerStageMs.p95} ms`,
    `mismatches vs direct: label ${r.pipeline.mismatches.label}, exit stage ${r.pipeline.mismatches.exitStage}; failed ${r.pipeline.failed}`,
    `exit histogram (direct): ${JSON.stringify(r.direct.exitHistogram)}`,
    '',
    table([
      ['stage (c=1)', 'runs', 'queue p50', 'service p50', 'handler p50'],
      ...r.pipeline.stageTimes.map((s) => [s.stage, s.executions, s.queueMsP50, s.serviceMsP50, s.handlerMsP50]),
    ]),
    '',
    'per query from workflow histories, c=1 (p50 of sums, ms):',
    `  ${JSON.stringify(r.pipeline.history.p50)}`,
    `  per workflow task: ${JSON.stringify(r.pipeline.history.perWorkflowTask)}; per activity: ${JSON.stringify(r.pipeline.history.perActivity)}`,
    '',
    table([
      ['concurrency', 'q/s', 'p50', 'p95', 'p99', 'failed', 'queue p50 s1', 'loop p99 max'],
      ...r.throughput.map((l) => [
        l.concurrency,
        l.qps,
        ...L(l.latencyMs),
        l.failed,
        l.stageTimes[0]?.queueMsP50 ?? null,
        l.eventLoopDelay.stageMaxP99Ms,
      ]),
    ]),
    '',
    ...r.throughput
      .filter((l) => l.cpu)
      .map(
        (l) =>
          `CPU ms/query at c=${l.concurrency} (${l.cpu!.coresUsed} cores busy): ${JSON.stringify(l.cpu!.perQueryMs)}`,
      ),
    '',
    `stage-worker event-loop delay: max p99 ${r.eventLoopDelay.stageMaxP99Ms} ms, max ${r.eventLoopDelay.stageMaxMaxMs} ms; workflow worker: max p99 ${r.eventLoopDelay.workflowMaxP99Ms} ms`,
    `targets: overhead/stage p50 <= ${r.targets.overheadPerStageP50Ms} ms: ${r.targets.overheadMet ? 'MET' : 'NOT MET'} (${r.overheadPerStageMs.p50}); ` +
      `throughput >= ${r.targets.throughputQps} q/s: ${r.targets.throughputMet ? 'MET' : 'NOT MET'} (best ${r.targets.bestQps})`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      log(`failed: ${(err as Error)?.stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
