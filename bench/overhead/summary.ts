/** The overhead benchmark's summary on stdout: latencies, per-stage times, throughput per concurrency, targets. */
import type { LatencySummary } from '../../common/stats';
import { formatTextTable } from '../../eval/report/text-table';
import type { PlanMeasure } from './plans';
import type { BenchReport } from './report';

/** The tables align every column right, their row labels too, so the numbers and the labels end at one edge. */
const ALL_RIGHT = { leftColumns: 0 };

export function printSummary(r: BenchReport): void {
  const L = (s: LatencySummary) => [s.p50, s.p95, s.p99];
  const lines = [
    '',
    `SERFLOW orchestration overhead: ${r.config.model} (${r.config.stages} stages), ${r.config.samples} samples, threshold ${r.config.threshold}`,
    `machine: ${r.machine.cpus} x ${r.machine.cpuModel}, node ${r.machine.node}; ` +
      `commit ${r.git ? `${r.git.commit.slice(0, 7)}${r.git.dirty ? ' (dirty)' : ''}` : 'unknown'}`,
    `dev server dynamic config: ${JSON.stringify(r.config.devServerDynamicConfig)}`,
    '',
    formatTextTable(
      [
        ['latency (ms)', 'p50', 'p95', 'p99'],
        ['direct (1 process)', ...L(r.direct.latencyMs)],
        ['pipeline c=1 (client)', ...L(r.pipeline.latencyMs)],
        ['pipeline c=1 (workflow)', ...L(r.pipeline.workflowLatencyMs)],
      ],
      ALL_RIGHT,
    ),
    '',
    `overhead per executed stage: p50 ${r.overheadPerStageMs.p50} ms, p95 ${r.overheadPerStageMs.p95} ms, p99 ${r.overheadPerStageMs.p99 ?? 'n/a'} ms`,
    `mismatches vs direct: label ${r.pipeline.mismatches.label}, exit stage ${r.pipeline.mismatches.exitStage}; failed ${r.pipeline.failed}`,
    `exit histogram (direct): ${JSON.stringify(r.direct.exitHistogram)}`,
    '',
    formatTextTable(
      [
        ['stage (c=1)', 'runs', 'queue p50', 'service p50', 'handler p50'],
        ...r.pipeline.stageTimes.map((s) => [s.stage, s.executions, s.queueMsP50, s.serviceMsP50, s.handlerMsP50]),
      ],
      ALL_RIGHT,
    ),
    '',
    'per query from workflow histories, c=1 (p50 of sums, ms):',
    `  ${JSON.stringify(r.pipeline.history.p50)}`,
    `  per workflow task: ${JSON.stringify(r.pipeline.history.perWorkflowTask)}; per activity: ${JSON.stringify(r.pipeline.history.perActivity)}`,
    '',
    formatTextTable(
      [
        ['concurrency', 'q/s', 'p50', 'p95', 'p99', 'failed', 'queue p50 s1', 'loop p99 max'],
        ...r.throughput.map((l) => [
          l.concurrency,
          l.qps,
          ...L(l.latencyMs),
          l.failed,
          l.stageTimes[0]?.queueMsP50 ?? null,
          l.eventLoopDelay.stageMaxP99Ms,
        ]),
      ],
      ALL_RIGHT,
    ),
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
    ...planLines(r),
  ];
  process.stdout.write(lines.join('\n'));
}

/** Step 5: the floor and each plan, side by side, with the ratios to the floor. */
function planLines(r: BenchReport): string[] {
  if (!r.floor || !r.plans) return [];
  const row = (m: PlanMeasure) => [
    m.name,
    m.actionsPerQuery,
    m.sequential.latencyMs.p50,
    m.sequential.latencyMs.p95,
    m.sequential.latencyMs.p99,
    m.loaded.qps,
    m.loaded.cpu?.totalPerQueryMs ?? null,
    m.ratioToFloor?.p50 ?? null,
    m.ratioToFloor?.qps ?? null,
    m.ratioToFloor?.cpuPerQuery ?? null,
  ];
  const c = r.floor.loaded.concurrency;
  return [
    formatTextTable(
      [
        ['plan', 'actions/q', 'p50 c=1', 'p95', 'p99', `q/s c=${c}`, 'CPU ms/q', 'p50/floor', 'q/s/floor', 'CPU/floor'],
        row(r.floor),
        ...r.plans.map(row),
      ],
      { leftColumns: 1 },
    ),
    `self-hosted orchestration: ${r.orchestration?.cpuMsPerAction ?? 'not measured'} CPU ms per action (Temporal server + workflow worker)`,
    ...targetLines(r),
    '',
  ];
}

/** Step 5's targets for the plan SERFLOW picks, one line each: measured, target, met. */
function targetLines(r: BenchReport): string[] {
  const t = r.planTargets;
  if (!t) return [];
  const line = (what: string, m: { value: number | null; met: boolean | null }, target: string) =>
    `  ${what}: ${m.value ?? 'not measured'} (target ${target}) ${m.met === null ? '' : m.met ? 'met' : 'NOT met'}`;
  return [
    `targets for the plan SERFLOW picks (${t.plan ?? 'not measured'}):`,
    line('actions per query', t.actionsPerQuery, `<= ${t.actionsPerQueryMax}`),
    line('p50 at c=1 / floor', t.p50Ratio, `<= ${t.p50RatioMax}`),
    line('q/s loaded / floor', t.qpsRatio, `>= ${t.qpsRatioMin}`),
    line('CPU per query / floor', t.cpuRatio, `<= ${t.cpuRatioMax}`),
  ];
}
