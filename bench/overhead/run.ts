/** The run of the overhead benchmark: the four steps of bench/overhead.ts on one embedded stack, then the outputs. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SerflowClient } from '../../client';
import { loadConfig, type SerflowConfigInput } from '../../common/config';
import { quantile, sampleIndices, summarizeLatency } from '../../common/stats';
import { startStack, type RunningStack } from '../../deploy/local/stack';
import { connectNats } from '../../infra/nats';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import type { NatsConnection } from 'nats';
import { gitInfo, machineInfo } from '../run-info';
import type { Args } from './args';
import { renderOverheadSvg } from './chart';
import { cpuPerQuery, cpuSnapshot } from './cpu';
import { directPhase } from './direct';
import { sampleEventLoop } from './event-loop';
import { historyBreakdown } from './history';
import { stageTimes, timedInfer, type PipelineOutcome } from './pipeline';
import { commandLine } from '../../common/command-line';
import { planTargets, TARGETS, type BenchReport, type ThroughputLevel } from './report';
import { round } from './round';
import { cpuMsPerAction, planPhase } from './plans';
import { printSummary } from './summary';

/** Progress on stderr, so stdout holds the summary alone. */
export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Runs the benchmark as `args` say, then writes the JSON and the chart and prints the summary. */
export async function runOverheadBench(args: Args): Promise<void> {
  const homeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-bench-'));
  const dataDir = path.join(homeDir, 'data');
  const overrides: SerflowConfigInput = { homeDir };
  if (Object.keys(args.dynamicConfig).length) overrides.temporal = { devServerDynamicConfig: args.dynamicConfig };
  if (args.stageConcurrency) overrides.workers = { stageConcurrency: args.stageConcurrency };
  // VMs per stage pool the cloud agent starts with (each VM is a stage-worker process); a VM launched later (the
  // whole-model VM of step 5) serves at once: this benchmark measures orchestration, not boot delays.
  overrides.vm = { bootDelayMs: 0, ...(args.processesPerStage ? { initialPerStage: args.processesPerStage } : {}) };
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

    // (e) Against the engine's floor, per plan, on the same stack.
    const step5 =
      args.plans.length > 0
        ? await planPhase({
            config,
            loadQps: Math.max(0, ...levels.map((l) => l.qps)),
            stack,
            client,
            nc,
            model,
            stages: manifest.stages.length,
            images,
            threshold,
            plans: args.plans,
            sequentialQueries: args.planSamples,
            concurrency: Math.max(...args.concurrency),
            durationS: args.durationS,
            historySamples: Math.max(1, args.historySamples),
            warmup: args.warmup,
            logDir: path.join(dataDir, 'logs'),
            log,
          })
        : undefined;

    const bestQps = Math.max(0, ...levels.map((l) => l.qps));
    const overheadP50 = quantile(overheads, 0.5);
    const exitHistogram: Record<string, number> = {};
    for (const d of direct) exitHistogram[String(d.exitStage)] = (exitHistogram[String(d.exitStage)] ?? 0) + 1;
    const report: BenchReport = {
      command: commandLine('node lib/bench/overhead.js', process.argv.slice(2)),
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
        // The simulator's hand-off sampler reads p50, p95 and p99 from here (sim/measured-handoff.ts).
        p99: round(quantile(overheads, 0.99)),
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
      ...(step5
        ? {
            floor: step5.floor,
            plans: step5.plans,
            orchestration: { cpuMsPerAction: cpuMsPerAction(step5.plans) },
            planTargets: planTargets(step5.plans.find((p) => p.name === 'serflow')),
          }
        : {}),
    };

    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
    fs.mkdirSync(path.dirname(args.svg), { recursive: true });
    fs.writeFileSync(args.svg, await renderOverheadSvg(report));
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
