/**
 * Ratios between policies and the evaluation targets, checked on one run's figures (the same for `sim` and `bench`).
 * A target that is not met is reported with its figures, never hidden.
 */
import type { BoundFigures, PolicyFigures, TargetCheck } from './types';

/** SERFLOW must be at least this much cheaper than LIBRA (the paper claims over 23 %). */
export const TARGET_SAVING_VS_LIBRA = 0.3;
/** SERFLOW's cost must be within this multiple of the clairvoyant bound. */
export const TARGET_BOUND_MULTIPLE = 1.3;
/** The VM-only baselines. */
const VM_ONLY = ['vm-auto', 'vm-max'];

/** Set `costRatioToSerflow` and `costRatioToBound` on every policy (new objects; order kept). */
export function withRatios(
  figures: Record<string, PolicyFigures>,
  boundUsd: number | null,
): Record<string, PolicyFigures> {
  const serflow = figures.serflow?.totalUsd;
  const ratio = (a: number, b: number | null | undefined) => (b !== undefined && b !== null && b > 0 ? a / b : null);
  return Object.fromEntries(
    Object.entries(figures).map(([name, f]) => [
      name,
      { ...f, costRatioToSerflow: ratio(f.totalUsd, serflow), costRatioToBound: ratio(f.totalUsd, boundUsd) },
    ]),
  );
}

const usd = (x: number) => `$${x.toPrecision(4)}`;
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** VM + serverless: the bill without orchestration. */
const computeUsd = (f: Pick<PolicyFigures, 'vmUsd' | 'serverlessUsd'>) => f.vmUsd + f.serverlessUsd;

/**
 * The targets compare whole bills; where orchestration is part of them, the detail also states the comparison
 * without it, so the policies' compute decisions stay visible beside the actions every query pays for.
 */
function computeOnly(
  a: Pick<PolicyFigures, 'vmUsd' | 'serverlessUsd' | 'orchestrationUsd'>,
  b: Pick<PolicyFigures, 'vmUsd' | 'serverlessUsd' | 'orchestrationUsd'>,
  say: (a: number, b: number) => string,
): string {
  return a.orchestrationUsd > 0 || b.orchestrationUsd > 0
    ? ` (compute only: ${say(computeUsd(a), computeUsd(b))})`
    : '';
}

/** The targets that this run can check (those whose policies ran). */
export function checkTargets(policies: Record<string, PolicyFigures>, bound: BoundFigures | null): TargetCheck[] {
  const s = policies.serflow;
  if (!s) return [];
  const out: TargetCheck[] = [];
  const libra = policies.libra;
  if (libra) {
    const saving = libra.totalUsd > 0 ? 1 - s.totalUsd / libra.totalUsd : 0;
    out.push({
      name: `SERFLOW at least ${TARGET_SAVING_VS_LIBRA * 100} % cheaper than LIBRA`,
      met: saving >= TARGET_SAVING_VS_LIBRA,
      detail:
        `SERFLOW ${usd(s.totalUsd)} vs LIBRA ${usd(libra.totalUsd)}: ${pct(saving)} cheaper` +
        computeOnly(s, libra, (a, b) => `${usd(a)} vs ${usd(b)}, ${pct(b > 0 ? 1 - a / b : 0)} cheaper`),
    });
    out.push({
      name: 'SERFLOW SLO attainment at least LIBRA’s',
      met: s.sloAttainment >= libra.sloAttainment,
      detail: `SERFLOW ${pct(s.sloAttainment)} vs LIBRA ${pct(libra.sloAttainment)}`,
    });
  }
  const faas = policies['faas-only'];
  if (faas) {
    out.push({
      name: 'SERFLOW cheaper than FaaS-only',
      met: s.totalUsd < faas.totalUsd,
      detail:
        `SERFLOW ${usd(s.totalUsd)} vs FaaS-only ${usd(faas.totalUsd)}` +
        computeOnly(s, faas, (a, b) => `${usd(a)} vs ${usd(b)}`),
    });
  }
  for (const name of VM_ONLY) {
    const vm = policies[name];
    if (!vm) continue;
    out.push({
      name: `SERFLOW cheaper than ${name}`,
      met: s.totalUsd < vm.totalUsd,
      detail:
        `SERFLOW ${usd(s.totalUsd)} vs ${name} ${usd(vm.totalUsd)}` +
        computeOnly(s, vm, (a, b) => `${usd(a)} vs ${usd(b)}`),
    });
  }
  if (bound && bound.totalUsd > 0) {
    const multiple = s.totalUsd / bound.totalUsd;
    out.push({
      name: `SERFLOW within ${TARGET_BOUND_MULTIPLE}× the clairvoyant bound`,
      met: multiple <= TARGET_BOUND_MULTIPLE,
      detail:
        `SERFLOW ${usd(s.totalUsd)} = ${multiple.toFixed(3)}× the bound ${usd(bound.totalUsd)}` +
        // the bound's split may be untraced (NaN); its compute is its total without orchestration
        computeOnly(
          s,
          {
            vmUsd: bound.totalUsd - bound.orchestrationUsd,
            serverlessUsd: 0,
            orchestrationUsd: bound.orchestrationUsd,
          },
          (a, b) => `${b > 0 ? (a / b).toFixed(3) : 'n/a'}× the bound's ${usd(b)}`,
        ),
    });
  }
  return out;
}
