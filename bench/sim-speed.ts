/**
 * Simulator speed: simulated queries per wall minute on one core, per policy, on the WITS trace (6.4 M queries,
 * 12.5 h) with the default model's profile. Target: at least 1 million queries per minute.
 * Writes bench/results/sim-speed.json. Usage: `npm run bench:sim [-- --trace wits --out PATH]`.
 */
import { commandLine } from '../common/command-line';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { POLICY_NAMES } from '../autoscaler/types';
import { loadConfig } from '../common/config';
import { arrivalTimesMs, loadTrace, PLACEMENTS, type Placement } from '../eval/workload/traces';
import { runSimComparison } from '../sim/compare';
import { setupFromConfig } from '../sim/setup';
import { gitInfo, machineInfo } from './run-info';

/** The target simulator speed: a million simulated queries per minute on one core. */
const TARGET_QUERIES_PER_MINUTE = 1_000_000;

/**
 * Most wall ms to place one trace's arrivals (`arrivalTimesMs`, 6.4 M on WITS) under any placement: a speed target,
 * so measured here and written to the result file, not asserted by a unit test on a shared machine.
 */
const TARGET_PLACEMENT_MS = 2_000;

/** Wall ms of `arrivalTimesMs` per placement on `trace` (one run each, after one untimed warm-up run). */
function placementTimes(trace: ReturnType<typeof loadTrace>): { placement: Placement; ms: number; met: boolean }[] {
  arrivalTimesMs(trace, 'uniform', 1);
  return PLACEMENTS.map((placement) => {
    const start = performance.now();
    arrivalTimesMs(trace, placement, 1);
    const ms = Math.round(performance.now() - start);
    return { placement, ms, met: ms <= TARGET_PLACEMENT_MS };
  });
}

function main(): void {
  const { values } = parseArgs({
    options: { trace: { type: 'string', default: 'wits' }, out: { type: 'string' } },
  });
  const out = path.resolve(values.out ?? 'bench/results/sim-speed.json');
  const config = loadConfig();
  const setup = setupFromConfig(config, config.defaultModel);
  const trace = loadTrace(values.trace ?? 'wits');
  console.error(`[bench] simulating ${POLICY_NAMES.length} policies on ${trace.name} ...`);
  const { speed } = runSimComparison({
    setup,
    trace,
    rateFactor: 1,
    startS: 0,
    policies: [...POLICY_NAMES],
    seed: 1,
    bound: false,
    command: 'bench/sim-speed',
    onProgress: (policy, done, total) => {
      if (done === total) console.error(`[bench] ${policy}: ${total} queries`);
    },
  });
  const perMinute = speed.map((s) => s.queriesPerMinute).sort((a, b) => a - b);
  const median = perMinute[Math.floor(perMinute.length / 2)] as number;
  const result = {
    command: commandLine('node lib/bench/sim-speed.js', process.argv.slice(2)),
    timestamp: new Date().toISOString(),
    git: gitInfo(),
    machine: machineInfo(),
    trace: trace.name,
    model: setup.model,
    queries: trace.counts.reduce((s, x) => s + x, 0),
    perPolicy: speed.map((s) => ({ ...s, queriesPerMinute: Math.round(s.queriesPerMinute) })),
    medianQueriesPerMinute: Math.round(median),
    slowestQueriesPerMinute: Math.round(perMinute[0] as number),
    target: { queriesPerMinute: TARGET_QUERIES_PER_MINUTE, met: (perMinute[0] as number) >= TARGET_QUERIES_PER_MINUTE },
    placement: { targetMs: TARGET_PLACEMENT_MS, perPlacement: placementTimes(trace) },
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  for (const s of result.perPolicy)
    console.log(`${s.policy.padEnd(10)} ${s.queriesPerMinute.toLocaleString('en-US')} queries/min`);
  console.log(`median ${result.medianQueriesPerMinute.toLocaleString('en-US')} queries/min → ${out}`);
}

main();
