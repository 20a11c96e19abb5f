/**
 * The ledger against ground truth, after a fault. The ledger folds billing facts; the truth comes from elsewhere:
 * - VMs: how long each VM process lived, as /proc saw it (proc-watch.ts), against the VM seconds billed;
 * - functions: the invocations the function instances say they ran (one line each in their own logs, as a
 *   platform's records would have them), against the invocations billed.
 * Pure, apart from its inputs.
 */
import { computeLedger, type LedgerInput } from '../../billing/ledger';
import type { SerflowConfig } from '../../common/config';
import { INVOCATION_LOG_PREFIX } from '../../workers/function-instance';
import type { ObservedLife } from './proc-watch';

/** Ledger within this share of ground truth (0.1 %). */
export const LEDGER_TOLERANCE = 0.001;

export interface LedgerCheck {
  vm: {
    /** Unrounded VM seconds the ledger bills (launch to end, or to the moment of the check). */
    ledgerSeconds: number;
    /** Seconds the VM processes lived. */
    truthSeconds: number;
    diffShare: number;
    vms: number;
    /** VMs that ran without a bill, or were billed without running. */
    unmatched: string[];
    /** VMs the ledger flagged as having no end and no recent liveness. */
    flagged: number;
    /** Per VM: seconds lived and billed, and how its bill ended. */
    perVm: { vmId: string; livedS: number; billedS: number; end: string }[];
  };
  faas: {
    ledgerInvocations: number;
    /** Invocations the instances logged. */
    truthInvocations: number;
    ledgerGbSeconds: number;
    diffShare: number;
  };
  within: boolean;
}

const share = (a: number, b: number) => (b === 0 ? (a === 0 ? 0 : 1) : (a - b) / b);

/** Invocations an instance's log records (function-instance.ts writes one line per invocation it receives). */
export function invocationsInLog(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(INVOCATION_LOG_PREFIX)) n++;
  return n;
}

export interface LedgerCheckInput {
  config: SerflowConfig;
  billing: LedgerInput['billing'];
  stages: LedgerInput['stages'];
  lives: readonly ObservedLife[];
  /** Invocations the function instances logged. */
  faasInvocations: number;
  /** Epoch ms of the check: VMs still running are billed, and counted as living, up to here. */
  now: number;
}

export function checkLedger(i: LedgerCheckInput): LedgerCheck {
  const ledger = computeLedger({
    billing: i.billing,
    stages: i.stages,
    queries: [],
    prices: i.config.prices,
    now: i.now,
  });
  const truthByVm = new Map<string, number>();
  for (const l of i.lives) {
    const end = Math.min(l.endedAt ?? i.now, i.now);
    truthByVm.set(l.key, (truthByVm.get(l.key) ?? 0) + Math.max(0, end - l.startedAt) / 1000);
  }
  // The ledger's seconds are cloud seconds; the processes live in wall time.
  const ledgerSeconds = ledger.vms.reduce((s, v) => s + v.lifetimeSeconds, 0) / i.config.timeScale;
  const truthSeconds = [...truthByVm.values()].reduce((a, b) => a + b, 0);
  const billedIds = new Set(ledger.vms.map((v) => v.vmId));
  const unmatched = [
    ...[...truthByVm.keys()].filter((id) => !billedIds.has(id)).map((id) => `${id}: ran, not billed`),
    ...[...billedIds].filter((id) => !truthByVm.has(id)).map((id) => `${id}: billed, never ran`),
  ];
  const flagged = ledger.vms.filter((v) => v.unended).length;
  const vmDiff = share(ledgerSeconds, truthSeconds);
  const faasDiff = share(ledger.faas.invocations, i.faasInvocations);
  return {
    vm: {
      ledgerSeconds,
      truthSeconds,
      diffShare: vmDiff,
      vms: truthByVm.size,
      unmatched,
      flagged,
      perVm: ledger.vms.map((v) => ({
        vmId: v.vmId,
        livedS: Math.round((truthByVm.get(v.vmId) ?? 0) * 1000) / 1000,
        billedS: Math.round((v.lifetimeSeconds / i.config.timeScale) * 1000) / 1000,
        end: v.endReportedBy ?? v.state,
      })),
    },
    faas: {
      ledgerInvocations: ledger.faas.invocations,
      truthInvocations: i.faasInvocations,
      ledgerGbSeconds: ledger.faas.billedGbSeconds,
      diffShare: faasDiff,
    },
    within: Math.abs(vmDiff) <= LEDGER_TOLERANCE && Math.abs(faasDiff) <= LEDGER_TOLERANCE && unmatched.length === 0,
  };
}
