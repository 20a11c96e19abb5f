/**
 * `npm run bench:load`: the stack under more load than it can take, and for a long time.
 *   node lib/bench/load/main.js [--levels 0.8,1.2,2] [--duration S] [--clients N] [--soak-minutes M] [--out DIR]
 *   node lib/bench/load/main.js --render bench/results/soak.json   (derive the figures again from a recorded run)
 * Measures the capacity of the fault suite's stack closed loop, then offers open-loop load at each multiple of it
 * (a fresh stack per level): latency may degrade, but no query may be lost, answered twice or hung and no process
 * may crash. With `--soak-minutes`, a last run at the first level that long, sampling the stack's resident memory
 * and latency every 10 s, and reporting their slopes. Writes `<out>/load.json`, `load.md` and `load.svg` (`soak.*` with a soak).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commandLine } from '../../common/command-line';
import { PROJECT_ROOT } from '../../common/paths';
import { DEFAULT_FAULT_LOAD, runUnderLoad } from '../faults/run';
import { gitInfo, machineInfo, positiveFlag } from '../run-info';
import {
  renderLoadReport,
  renderLoadSvg,
  runHeld,
  soakSlopes,
  type LoadLevel,
  type LoadReport,
  type SoakResult,
} from './report';

/** Sampling period of the soak's memory and latency. */
const SOAK_SAMPLE_MS = 10_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      levels: { type: 'string', default: '0.8,1.2,2' },
      duration: { type: 'string' },
      clients: { type: 'string' },
      'soak-minutes': { type: 'string' },
      out: { type: 'string', default: path.join(PROJECT_ROOT, 'bench', 'results') },
      render: { type: 'string' },
    },
  });
  if (values.render) {
    // Derive the figures again (slopes, summary, chart) from a recorded run, without measuring anything.
    const file = values.render;
    const recorded = JSON.parse(fs.readFileSync(file, 'utf8')) as LoadReport;
    const report: LoadReport = {
      ...recorded,
      soak: recorded.soak ? { ...recorded.soak, ...soakSlopes(recorded.soak.run) } : null,
      rendered: commandLine('node lib/bench/load/main.js', process.argv.slice(2)),
    };
    await writeLoadReport(report, path.dirname(file), path.basename(file, '.json'));
    return;
  }
  const factors = values.levels.split(',').map((x) => positiveFlag('levels', x.trim(), 1));
  const durationS = positiveFlag('duration', values.duration, 45);
  const clients = Math.round(positiveFlag('clients', values.clients, 16));
  const soakMinutes =
    values['soak-minutes'] === undefined ? 0 : positiveFlag('soak-minutes', values['soak-minutes'], 30);
  const started = new Date();
  const log = (line: string) => console.log(`[load] ${line}`);

  const capacityRun = await runUnderLoad({
    name: 'capacity',
    load: { ...DEFAULT_FAULT_LOAD, durationS: 30 },
    closedClients: clients,
    log,
  });
  const qps = capacityRun.completedPerS;
  if (!(qps > 0)) throw new Error('capacity run completed no query: see its kept directory');
  log(`capacity: ${qps} queries/s with ${clients} closed-loop clients`);

  const levels: LoadLevel[] = [];
  for (const factor of factors) {
    const rate = Math.round(factor * qps * 10) / 10;
    const run = await runUnderLoad({ name: `load-${factor}x`, load: { ...DEFAULT_FAULT_LOAD, rate, durationS }, log });
    log(
      `${factor}× (${rate} q/s): ${runHeld(run) ? 'held' : 'FAILED'}, ${run.completedPerS} completed/s, p50/p99 ${run.tally.before.p50}/${run.tally.before.p99} ms`,
    );
    levels.push({ factor, rate, run });
  }

  let soak: SoakResult | null = null;
  if (soakMinutes > 0) {
    const factor = factors[0]!;
    const rate = Math.round(factor * qps * 10) / 10;
    log(`soak: ${factor}× (${rate} q/s) for ${soakMinutes} min`);
    const run = await runUnderLoad({
      name: 'soak',
      load: { ...DEFAULT_FAULT_LOAD, rate, durationS: soakMinutes * 60 },
      memoryEveryMs: SOAK_SAMPLE_MS,
      log,
    });
    soak = { factor, rate, minutes: soakMinutes, run, ...soakSlopes(run) };
    log(
      `soak: memory slope ${soak.memoryMbPerMin?.toFixed(2)} MB/min, p50 slope ${soak.p50MsPerMin?.toFixed(2)} ms/min ` +
        `(second half: ${soak.secondHalf.memoryMbPerMin?.toFixed(2)} MB/min, ${soak.secondHalf.p50MsPerMin?.toFixed(2)} ms/min)`,
    );
  }

  const report: LoadReport = {
    command: commandLine('node lib/bench/load/main.js', process.argv.slice(2)),
    git: gitInfo(),
    machine: machineInfo(),
    startedAt: started.toISOString(),
    wallS: Math.round((Date.now() - started.getTime()) / 1000),
    capacity: { qps, clients, durationS: 30, run: capacityRun },
    levels,
    soak,
    pass: [capacityRun, ...levels.map((l) => l.run), ...(soak ? [soak.run] : [])].every(runHeld),
  };
  await writeLoadReport(report, values.out, soak ? 'soak' : 'load');
  log(`wrote ${path.join(values.out, soak ? 'soak' : 'load')}.json, .md and .svg: ${report.pass ? 'held' : 'FAILED'}`);
  if (!report.pass) process.exitCode = 1;
}

async function writeLoadReport(report: LoadReport, dir: string, base: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, `${base}.md`), renderLoadReport(report, `${base}.svg`));
  fs.writeFileSync(path.join(dir, `${base}.svg`), await renderLoadSvg(report));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
