/**
 * Serverless-path benchmark: the latency a stage adds when it runs as a serverless function (warm and cold)
 * instead of on its VM pool, per stage, on the real embedded stack.
 *
 *   npm run build && npm run bench:serverless
 *   node lib/bench/serverless.js --samples 150 --cold 10 --out bench/results/serverless.json
 *
 * Steps (progress on stderr as `[bench] ...` lines, table on stdout, JSON to --out and an SVG next to it):
 *   1. stack A (`faas.coldStartExtraMs` 0, `faas.keepAliveMs` 1 h, `faas.accountConcurrency` 4): plan `all-vm`,
 *      a warm-up, then N held-out samples one at a time (threshold 0.999999, so most queries reach deep stages);
 *   2. same stack, plan `all-faas`: a warm-up that leaves one warm instance per stage function, then the same N
 *      samples one at a time; only `coldStart === false` records count as warm;
 *   3. stack B (`faas.keepAliveMs` 1, `timeScale` 1): plan `all-faas`, queries spaced by --cold-gap-ms so every
 *      function call starts a new instance, until each stage has --cold records with `coldStart === true`.
 * Per stage the figure is the activity time from the stage record, `queueMs + handlerMs` (activity scheduled →
 * handler done on the VM worker / function instance; for a serverless call it includes the gateway hop and, cold,
 * the instance start). "Cold" is the real local cold start (process start, NATS connect, model load and warm-up
 * run); the configured platform extra (`faas.coldStartExtraMs`, default 1000 cloud ms) is excluded and would add
 * `coldStartExtraMs / timeScale` wall ms to every cold call.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { gitInfo, machineInfo } from './run-info';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { NatsConnection } from 'nats';
import { SerflowClient } from '../client';
import { DEFAULT_FAAS_COLD_START_EXTRA_MS, loadConfig, type SerflowConfigInput } from '../common/config';
import type { InferenceResult, StageRecord } from '../common/contracts';
import { planFromSpec, validateRoutingPlan } from '../common/routing';
import { quantile, sampleIndices, summarizeLatency, type LatencySummary } from '../common/stats';
import { formatTextTable } from '../eval/report/text-table';
import { callPoolsApi } from '../infra/pools-api';
import { startStack, type RunningStack } from '../deploy/local/stack';
import { connectNats } from '../infra/nats';
import { createRoutingStore } from '../infra/routing-store';
import { loadSplit } from '../models/dataset';
import { loadManifest } from '../models/manifest';
import { renderServerlessSvg } from './serverless-chart';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const KEEP_ALIVE_LONG_MS = 3_600_000;

const { values: argv } = parseArgs({
  options: {
    samples: { type: 'string', default: '150' },
    threshold: { type: 'string', default: '0.999999' },
    warmup: { type: 'string', default: '20' },
    cold: { type: 'string', default: '10' },
    'cold-gap-ms': { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    model: { type: 'string' },
    out: { type: 'string', default: 'bench/results/serverless.json' },
    svg: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

interface Run {
  latencyMs: number[];
  results: InferenceResult[];
  failed: number;
}

/** Activity time of a stage execution as the workflow sees it: scheduled → handler done. */
const activityMs = (s: StageRecord) => s.queueMs + s.handlerMs;

function stats(values: number[]) {
  return { n: values.length, p50: round(quantile(values, 0.5)), p95: round(quantile(values, 0.95)) };
}

async function timed(client: SerflowClient, image: Float32Array, model: string, threshold: number, run: Run) {
  const t0 = performance.now();
  try {
    run.results.push(await client.infer(image, { model, threshold }));
    run.latencyMs.push(performance.now() - t0);
  } catch (err) {
    run.failed++;
    log(`query failed: ${(err as Error).message}`);
  }
}

interface Session {
  stack: RunningStack;
  client: SerflowClient;
  nc: NatsConnection;
  setPlan(spec: string): Promise<void>;
  close(): Promise<void>;
}

async function openSession(name: string, overrides: SerflowConfigInput, model: string, stages: number) {
  const homeDir = fs.mkdtempSync(path.join(os.tmpdir(), `serflow-bench-${name}-`));
  const config = loadConfig({ ...overrides, homeDir });
  const t0 = performance.now();
  const stack = await startStack({
    config,
    dataDir: path.join(homeDir, 'data'),
    onProgress: (l) => log(`${name} stack: ${l}`),
  });
  const cleanup: (() => Promise<unknown>)[] = [
    async () => {
      log(`${name}: stopping the stack`);
      await stack.stop();
    },
  ];
  try {
    log(`${name}: stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const client = await SerflowClient.connectToStack(stack.info, config);
    cleanup.unshift(() => client.close());
    const nc = await connectNats(stack.info.natsUrl, 'serflow-bench');
    cleanup.unshift(() => nc.close());
    const store = await createRoutingStore(nc);
    const session: Session = {
      stack,
      client,
      nc,
      async setPlan(spec) {
        await store.put(validateRoutingPlan(planFromSpec(spec, model, stages, Date.now()), stages));
        await sleep(300); // the workflow worker's watched copy catches up
        log(`${name}: plan ${spec}`);
      },
      async close() {
        store.close();
        for (const f of cleanup) await f().catch((err: Error) => log(`${name} cleanup: ${err.message}`));
        fs.rmSync(homeDir, { recursive: true, force: true });
      },
    };
    return { session, config };
  } catch (err) {
    for (const f of cleanup) await f().catch(() => undefined);
    fs.rmSync(homeDir, { recursive: true, force: true });
    throw err;
  }
}

/** Queries until every stage has run `perStage` times (or `cap` queries), cycling through `images`. */
async function warmUp(s: Session, images: Float32Array[], model: string, threshold: number, stages: number) {
  const seen = Array<number>(stages).fill(0);
  const run: Run = { latencyMs: [], results: [], failed: 0 };
  for (let i = 0; i < 200 && (i < Number(argv.warmup) || seen.some((n) => n < 3)); i++) {
    await timed(s.client, images[i % images.length]!, model, threshold, run);
    for (const r of run.results.splice(0)) for (const st of r.stages) seen[st.stage - 1]!++;
  }
  return seen;
}

async function measure(s: Session, images: Float32Array[], model: string, threshold: number, label: string) {
  const run: Run = { latencyMs: [], results: [], failed: 0 };
  for (let i = 0; i < images.length; i++) {
    await timed(s.client, images[i]!, model, threshold, run);
    if ((i + 1) % 25 === 0 || i + 1 === images.length) log(`${label}: ${i + 1}/${images.length}`);
  }
  return run;
}

function planSummary(run: Run) {
  const depth = run.results.map((r) => r.stages.length);
  const exits: Record<string, number> = {};
  for (const r of run.results) exits[r.exitStage] = (exits[r.exitStage] ?? 0) + 1;
  return {
    queries: run.results.length,
    failed: run.failed,
    latencyMs: summarizeLatency(run.latencyMs),
    workflowLatencyMs: summarizeLatency(run.results.map((r) => r.latencyMs)),
    stagesPerQuery: round(depth.reduce((a, b) => a + b, 0) / (depth.length || 1)),
    exitHistogram: exits,
  };
}

async function main(): Promise<void> {
  if (argv.help) {
    process.stdout.write(
      'usage: node lib/bench/serverless.js [--samples 150] [--threshold 0.999999] [--warmup 20] [--cold 10]\n' +
        '         [--cold-gap-ms 500] [--seed 1] [--model NAME] [--out bench/results/serverless.json] [--svg PATH]\n',
    );
    return;
  }
  const out = path.resolve(argv.out);
  const svgPath = argv.svg ? path.resolve(argv.svg) : out.replace(/\.json$/i, '') + '.svg';
  const threshold = Number(argv.threshold);
  const coldPerStage = Number(argv.cold);
  const coldGapMs = Number(argv['cold-gap-ms']);
  const loadAvgAtStart = os.loadavg().map((x) => round(x));
  const base = loadConfig();
  const model = argv.model ?? base.defaultModel;
  const manifest = loadManifest(model, base.modelsDir);
  const K = manifest.stages.length;
  const split = loadSplit(manifest, 'test');
  const picks = sampleIndices(split.images.length, Number(argv.samples), Number(argv.seed));
  const images = picks.map((i) => split.images[i]!);
  log(`model ${model} (${K} stages), ${images.length} test samples, threshold ${threshold}`);

  const faasA = { coldStartExtraMs: 0, keepAliveMs: KEEP_ALIVE_LONG_MS, accountConcurrency: 4 };
  const faasB = { coldStartExtraMs: 0, keepAliveMs: 1, accountConcurrency: 4 };

  // 1-2. VM path and warm serverless path on one stack.
  const a = await openSession('A', { faas: faasA }, model, K);
  let vmRun: Run, warmRun: Run, warmInstances: unknown;
  try {
    await a.session.setPlan('all-vm');
    log(`vm: warm-up (runs per stage ${JSON.stringify(await warmUp(a.session, images, model, threshold, K))})`);
    vmRun = await measure(a.session, images, model, threshold, 'vm');
    await a.session.setPlan('all-faas');
    log(`faas warm: warm-up (runs per stage ${JSON.stringify(await warmUp(a.session, images, model, threshold, K))})`);
    const fns = (await callPoolsApi(a.session.nc, { op: 'list' })).functions;
    warmInstances = fns.map((f) => ({ stage: f.stage, state: f.state, invocations: f.invocations }));
    log(`faas warm: function instances ${JSON.stringify(warmInstances)}`);
    warmRun = await measure(a.session, images, model, threshold, 'faas warm');
  } finally {
    await a.session.close();
  }

  // 3. Cold serverless path: every call starts an instance. Samples that ran every stage on the VM path first
  // (the stages are deterministic), so each query yields a cold call per stage.
  const deep = vmRun.results.map((r, i) => ({ r, i })).filter((x) => x.r.exitStage === K);
  const order = [...deep.map((x) => images[x.i]!), ...images];
  const b = await openSession('B', { faas: faasB, timeScale: 1 }, model, K);
  const coldRun: Run = { latencyMs: [], results: [], failed: 0 };
  const coldRecs: StageRecord[][] = Array.from({ length: K }, () => []);
  let warmInColdRun = 0;
  try {
    await b.session.setPlan('all-faas');
    const cap = coldPerStage * K * 4;
    for (let i = 0; i < cap && coldRecs.some((c) => c.length < coldPerStage); i++) {
      await sleep(coldGapMs);
      const before = coldRun.results.length;
      await timed(b.session.client, order[i % order.length]!, model, threshold, coldRun);
      for (const st of coldRun.results.slice(before).flatMap((r) => r.stages)) {
        if (st.coldStart === true) coldRecs[st.stage - 1]!.push(st);
        else warmInColdRun++;
      }
      log(`faas cold: query ${i + 1}, cold calls per stage ${JSON.stringify(coldRecs.map((c) => c.length))}`);
    }
  } finally {
    await b.session.close();
  }

  const records = (run: Run, pred: (s: StageRecord) => boolean) =>
    Array.from({ length: K }, (_, k) =>
      run.results.flatMap((r) => r.stages.filter((s) => s.stage === k + 1 && pred(s))),
    );
  const vmRecs = records(vmRun, (s) => s.backend === 'vm');
  const warmRecs = records(warmRun, (s) => s.backend === 'faas' && s.coldStart === false);
  const warmColdCount = records(warmRun, (s) => s.backend === 'faas' && s.coldStart === true).flat().length;
  const diff = (x: { p50: number | null; p95: number | null }, y: { p50: number | null; p95: number | null }) => ({
    p50: x.p50 !== null && y.p50 !== null ? round(x.p50 - y.p50) : null,
    p95: x.p95 !== null && y.p95 !== null ? round(x.p95 - y.p95) : null,
  });
  const perStage = Array.from({ length: K }, (_, k) => {
    const vm = stats(vmRecs[k]!.map(activityMs));
    const warm = stats(warmRecs[k]!.map(activityMs));
    const cold = stats(coldRecs[k]!.map(activityMs));
    return {
      stage: k + 1,
      vm,
      warm,
      cold,
      addedWarm: diff(warm, vm),
      addedCold: diff(cold, vm),
      handlerMsP50: {
        vm: round(
          quantile(
            vmRecs[k]!.map((s) => s.handlerMs),
            0.5,
          ),
        ),
        warm: round(
          quantile(
            warmRecs[k]!.map((s) => s.handlerMs),
            0.5,
          ),
        ),
        cold: round(
          quantile(
            coldRecs[k]!.map((s) => s.handlerMs),
            0.5,
          ),
        ),
      },
      billedMsP50: {
        warm: round(
          quantile(
            warmRecs[k]!.map((s) => s.billedMs ?? NaN),
            0.5,
          ),
        ),
        cold: round(
          quantile(
            coldRecs[k]!.map((s) => s.billedMs ?? NaN),
            0.5,
          ),
        ),
      },
    };
  });

  const report = {
    timestamp: new Date().toISOString(),
    git: gitInfo(),
    machine: {
      ...machineInfo(),
      /** 1/5/15-min load averages: other processes on the machine skew the figures. */
      loadAvg: { atStart: loadAvgAtStart, atEnd: os.loadavg().map((x) => round(x)) },
    },
    config: {
      model,
      stages: K,
      samples: images.length,
      threshold,
      seed: Number(argv.seed),
      figure: 'per stage execution: queueMs + handlerMs (activity scheduled -> handler done), ms',
      vmAndWarm: { faas: faasA, timeScale: 1, vmInitialPerStage: base.vm.initialPerStage },
      cold: { faas: faasB, timeScale: 1, coldPerStage, coldGapMs },
      coldStartExtra: {
        excluded: true,
        note: 'cold = real local start (process, NATS connect, model load + warm-up run); the configured platform extra would add coldStartExtraMs / timeScale wall ms per cold call',
        defaultColdStartExtraMs: DEFAULT_FAAS_COLD_START_EXTRA_MS,
      },
    },
    counts: {
      warmCallsThatWereCold: warmColdCount,
      warmCallsInColdRun: warmInColdRun,
      warmInstancesBeforeRun: warmInstances,
    },
    perStage,
    endToEnd: { vm: planSummary(vmRun), faasWarm: planSummary(warmRun), faasCold: planSummary(coldRun) },
  };

  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  fs.mkdirSync(path.dirname(svgPath), { recursive: true });
  fs.writeFileSync(svgPath, await renderServerlessSvg(report));
  printTable(report);
  log(`wrote ${path.relative(process.cwd(), out)} and ${path.relative(process.cwd(), svgPath)}`);
}

type Report = {
  timestamp: string;
  machine: { cpus: number; cpuModel: string; node: string };
  config: { model: string; samples: number; threshold: number };
  perStage: {
    stage: number;
    vm: ReturnType<typeof stats>;
    warm: ReturnType<typeof stats>;
    cold: ReturnType<typeof stats>;
    addedWarm: { p50: number | null; p95: number | null };
    addedCold: { p50: number | null; p95: number | null };
  }[];
  endToEnd: Record<string, { queries: number; latencyMs: LatencySummary; stagesPerQuery: number | null }>;
};

function printTable(r: Report): void {
  const lines = [
    '',
    `SERFLOW serverless path: ${r.config.model}, ${r.config.samples} samples, threshold ${r.config.threshold}; ` +
      `${r.machine.cpus} x ${r.machine.cpuModel}, node ${r.machine.node}`,
    'per stage execution, queueMs + handlerMs (ms); cold excludes the configured coldStartExtraMs',
    '',
    formatTextTable([
      [
        'stage',
        'vm n',
        'vm p50/p95',
        'warm n',
        'warm p50/p95',
        '+warm p50/p95',
        'cold n',
        'cold p50/p95',
        '+cold p50/p95',
      ],
      ...r.perStage.map((s) => [
        s.stage,
        s.vm.n,
        `${s.vm.p50} / ${s.vm.p95}`,
        s.warm.n,
        `${s.warm.p50} / ${s.warm.p95}`,
        `${s.addedWarm.p50} / ${s.addedWarm.p95}`,
        s.cold.n,
        `${s.cold.p50} / ${s.cold.p95}`,
        `${s.addedCold.p50} / ${s.addedCold.p95}`,
      ]),
    ]),
    '',
    formatTextTable([
      ['end to end (client, ms)', 'queries', 'stages/query', 'p50', 'p95', 'p99'],
      ...Object.entries(r.endToEnd).map(([k, e]) => [
        k,
        e.queries,
        e.stagesPerQuery,
        e.latencyMs.p50,
        e.latencyMs.p95,
        e.latencyMs.p99,
      ]),
    ]),
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
