/** The fault suite's result file and its readable summary (faults.md). Pure. */
import type { Block } from '../../eval/report/document';
import { toMarkdown } from '../../eval/report/markdown';
import { provenanceLines, type MachineInfo } from '../run-info';
import { badInputBlocks } from './bad-input-table';
import type { BadInputRow } from './bad-inputs';
import type { FaultLoad, ScenarioReport } from './run';
import type { SerflowConfigInput } from '../../common/config';

export interface FaultReport {
  command: string;
  git: { commit: string; dirty: boolean } | null;
  machine: MachineInfo;
  startedAt: string;
  wallS: number;
  load: FaultLoad;
  stackConfig: SerflowConfigInput;
  ledgerTolerance: number;
  scenarios: ScenarioReport[];
  /** The bad-input table (empty when not run). */
  badInputs: BadInputRow[];
  pass: boolean;
}

const pct = (x: number) => `${(x * 100).toFixed(3)} %`;

export function faultReportBlocks(r: FaultReport): Block[] {
  const rows = r.scenarios.map((s) => {
    const t = s.tally;
    const failed = Object.entries(t.failedNamed).map(([k, n]) => `${n} ${k}`);
    if (t.failedUnnamed) failed.push(`${t.failedUnnamed} unnamed`);
    return [
      s.name,
      String(t.started),
      String(t.completed),
      failed.join(', ') || '0',
      String(t.lost),
      String(t.answeredTwice),
      String(t.hung),
      String(t.wrongAnswers),
      `${t.duplicateEvents} / ${t.missingEvents}`,
      `${pct(s.ledger.vm.diffShare)} / ${pct(s.ledger.faas.diffShare)}`,
      t.recoveryMs === null ? 'never' : `${(t.recoveryMs / 1000).toFixed(1)} s`,
      s.pass ? 'pass' : 'FAIL',
    ];
  });
  return [
    { type: 'heading', level: 1, text: 'Fault suite' },
    {
      type: 'paragraph',
      text:
        `${r.load.rate} queries/s open loop for ${r.load.durationS} s per scenario, one fault at ${r.load.faultAtS} s, ` +
        `on a stack of its own (stages 1-2 on VMs, 3-4 serverless, the autoscaler on). Lost, twice and hung must be 0; ` +
        `the ledger must be within ${pct(r.ledgerTolerance)} of ground truth (VM lives from /proc, invocations from the ` +
        `function instances' own logs). ${r.pass ? 'Every scenario passed.' : 'At least one scenario FAILED.'}`,
    },
    {
      type: 'table',
      header: [
        'scenario',
        'started',
        'completed',
        'failed (named)',
        'lost',
        'twice',
        'hung',
        'wrong',
        'dup / missing events',
        'ledger vm / faas',
        'recovery',
        'verdict',
      ],
      numeric: [false, true, true, false, true, true, true, true, false, false, true, false],
      rows,
    },
    { type: 'heading', level: 2, text: 'What was done' },
    {
      type: 'list',
      items: r.scenarios.map((s) => ({
        label: s.name,
        text:
          `${s.injected}. Latency p50/p99 before ${s.tally.before.p50}/${s.tally.before.p99} ms, after ` +
          `${s.tally.after.p50}/${s.tally.after.p99} ms; ${s.tally.hit} queries failed or took over ` +
          `${s.tally.hitBoundMs} ms. VM seconds billed ${s.ledger.vm.ledgerSeconds.toFixed(2)} vs ` +
          `${s.ledger.vm.truthSeconds.toFixed(2)} lived (${s.ledger.vm.vms} VMs); serverless ` +
          `${s.ledger.faas.ledgerInvocations} invocations billed vs ${s.ledger.faas.truthInvocations} the instances ran.` +
          (s.ledger.vm.flagged ? ` ${s.ledger.vm.flagged} VMs flagged as having no end.` : '') +
          (Object.keys(s.restarts).length
            ? ` Restarted: ${Object.entries(s.restarts)
                .map(([k, n]) => `${k} ×${n}`)
                .join(', ')}.`
            : '') +
          (s.ledger.vm.unmatched.length ? ` Unmatched VMs: ${s.ledger.vm.unmatched.join('; ')}.` : ''),
      })),
    },
    ...(r.badInputs.length ? badInputBlocks(r.badInputs, 'Bad inputs') : []),
    { type: 'heading', level: 2, text: 'Provenance' },
    {
      type: 'code',
      text: provenanceLines(r),
    },
  ];
}

export function renderFaultReport(r: FaultReport): string {
  return toMarkdown(faultReportBlocks(r));
}
