/**
 * `npm run faults`: the fault suite. Each scenario (scenarios.ts) runs on a stack of its own under steady load,
 * one fault each; the report says per scenario what happened to every query, to the stage events and to the bill.
 *   node lib/bench/faults/main.js [--scenarios a,b] [--rate Q] [--duration S] [--fault-at S] [--skip-bad-inputs] [--out DIR]
 * Then the bad-input table (bad-inputs.ts): every input the code accepts, sent malformed, and the error it got.
 * Writes `<out>/faults.json` and `<out>/faults.md` (default bench/results). Exits 1 when a scenario failed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commandLine } from '../../common/command-line';
import { PROJECT_ROOT } from '../../common/paths';
import { gitInfo, machineInfo, positiveFlag } from '../run-info';
import { summarizeBadInputs } from './bad-input-table';
import type { BadInputRow } from './bad-inputs';
import { runBadInputsOnOwnStack } from './bad-inputs-main';
import { renderFaultReport, type FaultReport } from './report';
import { DEFAULT_FAULT_LOAD, FAULT_STACK_CONFIG, runScenario, type FaultLoad } from './run';
import { LEDGER_TOLERANCE } from './truth';
import { SCENARIOS, scenarioByName } from './scenarios';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      'fault-at': { type: 'string' },
      out: { type: 'string', default: path.join(PROJECT_ROOT, 'bench', 'results') },
      'skip-bad-inputs': { type: 'boolean', default: false },
    },
  });
  const scenarios = values.scenarios ? values.scenarios.split(',').map((s) => scenarioByName(s.trim())) : SCENARIOS;
  const load: FaultLoad = {
    ...DEFAULT_FAULT_LOAD,
    rate: positiveFlag('rate', values.rate, DEFAULT_FAULT_LOAD.rate),
    durationS: positiveFlag('duration', values.duration, DEFAULT_FAULT_LOAD.durationS),
    faultAtS: positiveFlag('fault-at', values['fault-at'], DEFAULT_FAULT_LOAD.faultAtS),
  };
  if (load.faultAtS >= load.durationS) throw new Error('--fault-at must be less than --duration');
  const started = new Date();
  const reports = [];
  for (const [i, s] of scenarios.entries()) {
    const line = (text: string) => console.log(`[${i + 1}/${scenarios.length}] ${text}`);
    const r = await runScenario(s, load, line);
    const t = r.tally;
    line(
      `${s.name}: ${r.pass ? 'pass' : 'FAIL'}: ${t.completed}/${t.intended} completed, ${t.lost} lost, ` +
        `${t.answeredTwice} twice, ${t.hung} hung, ledger vm ${(r.ledger.vm.diffShare * 100).toFixed(3)} % ` +
        `faas ${(r.ledger.faas.diffShare * 100).toFixed(3)} %, recovery ${t.recoveryMs ?? 'never'} ms` +
        (r.keptDir ? ` (logs kept in ${r.keptDir})` : ''),
    );
    reports.push(r);
  }
  // Every input the code accepts, sent malformed to a stack of its own (bad-inputs.ts).
  let badInputs: BadInputRow[] = [];
  if (!values['skip-bad-inputs']) {
    console.log('[bad inputs] sending malformed values to every entry point');
    badInputs = await runBadInputsOnOwnStack(undefined, (l) => console.log(`[bad inputs] ${l}`));
    console.log(`[bad inputs] ${summarizeBadInputs(badInputs)}`);
  }
  const badInputsHeld = badInputs.every((r) => r.named && !r.lostOrStopped);
  const report: FaultReport = {
    command: commandLine('node lib/bench/faults/main.js', process.argv.slice(2)),
    git: gitInfo(),
    machine: machineInfo(),
    startedAt: started.toISOString(),
    wallS: Math.round((Date.now() - started.getTime()) / 1000),
    load,
    stackConfig: FAULT_STACK_CONFIG,
    ledgerTolerance: LEDGER_TOLERANCE,
    scenarios: reports,
    badInputs,
    pass: reports.every((r) => r.pass) && badInputsHeld,
  };
  fs.mkdirSync(values.out, { recursive: true });
  fs.writeFileSync(path.join(values.out, 'faults.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(values.out, 'faults.md'), renderFaultReport(report));
  console.log(`wrote ${path.join(values.out, 'faults.json')} and faults.md: ${report.pass ? 'all passed' : 'FAILED'}`);
  if (!report.pass) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
