/**
 * The external reference of the `libra-ic2e` preset: the LIBRA authors' simulator (IC2E 2021; repository
 * Zongshun96/LIBRA, `simulator/`, HEAD 063a7c5) run unmodified on the shared traces, as recorded in
 * `../shared/data/reference/libra-wits.md`. Our simulator must reproduce these within FIDELITY_TOLERANCE.
 */
import type { PolicyFigures, TargetCheck } from '../eval/report/types';

/** Agreement required with the reference, relative. */
export const FIDELITY_TOLERANCE = 0.02;

export interface ReferenceRow {
  vmUsd: number;
  serverlessUsd: number;
  totalUsd: number;
  byVm: number;
  byServerless: number;
  vmSeconds: number;
  peakVms: number;
  delayed: number;
}

/** Reference rows by trace name and our policy name (their "hybrid" = libra, "vm_cloud" auto = vm-auto, max = vm-max). */
export const LIBRA_REFERENCE: Record<string, Record<string, ReferenceRow>> = {
  wits: {
    libra: {
      vmUsd: 15.7,
      serverlessUsd: 6.8904,
      totalUsd: 22.5904,
      byVm: 5_624_794,
      byServerless: 807_313,
      vmSeconds: 565_200,
      peakVms: 34,
      delayed: 0,
    },
    'faas-only': {
      vmUsd: 0,
      serverlessUsd: 54.898,
      totalUsd: 54.898,
      byVm: 0,
      byServerless: 6_432_107,
      vmSeconds: 0,
      peakVms: 0,
      delayed: 0,
    },
    'vm-auto': {
      vmUsd: 35.0936,
      serverlessUsd: 0,
      totalUsd: 35.0936,
      byVm: 6_432_107,
      byServerless: 0,
      vmSeconds: 1_263_370,
      peakVms: 70,
      delayed: 153_338,
    },
    'vm-max': {
      vmUsd: 365,
      serverlessUsd: 0,
      totalUsd: 365,
      byVm: 6_432_107,
      byServerless: 0,
      vmSeconds: 13_140_000,
      peakVms: 292,
      delayed: 22_192,
    },
  },
  sin: {
    libra: {
      vmUsd: 2.875,
      serverlessUsd: 4.3835,
      totalUsd: 7.2585,
      byVm: 1_051_873,
      byServerless: 513_594,
      vmSeconds: 103_500,
      peakVms: 19,
      delayed: 0,
    },
  },
  square: {
    libra: {
      vmUsd: 0.1227,
      serverlessUsd: 0.0611,
      totalUsd: 0.1838,
      byVm: 10_845,
      byServerless: 7_155,
      vmSeconds: 4_418,
      peakVms: 4,
      delayed: 0,
    },
  },
};

/** Relative difference, with 0 vs 0 agreeing and 0 vs x > 0 counting as 100 %. */
export function relativeDifference(ours: number, reference: number): number {
  if (reference === 0) return ours === 0 ? 0 : 1;
  return (ours - reference) / reference;
}

/** LIBRA's simulator bills no orchestration: its total is compared with ours without it (the preset bills none). */
const FIELDS: Array<[keyof ReferenceRow, string, (f: PolicyFigures) => number]> = [
  ['totalUsd', 'total $', (f) => f.totalUsd - f.orchestrationUsd],
  ['vmUsd', 'VM $', (f) => f.vmUsd],
  ['serverlessUsd', 'serverless $', (f) => f.serverlessUsd],
  ['byVm', 'requests by VM', (f) => f.queriesByVm],
  ['byServerless', 'requests by serverless', (f) => f.queriesByServerless],
  ['delayed', 'delayed requests', (f) => f.delay.delayed],
  ['vmSeconds', 'VM-seconds', (f) => f.vmSeconds],
  ['peakVms', 'peak VMs', (f) => f.peakVms],
];

/**
 * One check per policy and reference field, for a run of the whole trace at rate factor 1 (other runs have no
 * reference: returns []). The compared fields (costs, requests by each, delayed) must agree within 2 %;
 * VM-seconds and peak VMs are reported alongside.
 */
export function fidelityChecks(
  traceName: string,
  wholeTrace: boolean,
  policies: Record<string, PolicyFigures>,
): TargetCheck[] {
  const ref = LIBRA_REFERENCE[traceName];
  if (!ref || !wholeTrace) return [];
  const out: TargetCheck[] = [];
  for (const [policy, row] of Object.entries(ref)) {
    const f = policies[policy];
    if (!f) continue;
    for (const [key, label, get] of FIELDS) {
      const ours = get(f);
      const diff = relativeDifference(ours, row[key]);
      out.push({
        name: `fidelity ${policy} ${label} within ${FIDELITY_TOLERANCE * 100} % of LIBRA's simulator`,
        met: Math.abs(diff) <= FIDELITY_TOLERANCE,
        detail: `ours ${fmt(ours)} vs reference ${fmt(row[key])} (${(diff * 100).toFixed(2)} %)`,
      });
    }
  }
  return out;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(4);
}
