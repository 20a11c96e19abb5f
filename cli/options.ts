/** Small helpers every `serflow` command shares: option parsers with clear errors, and a progress bar. */
import { SingleBar, Presets } from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { parsePolicy, type PolicyName } from '../autoscaler/types';
import { ORCHESTRATION_PRICING } from '../common/config';

/** How orchestration is priced (`--orchestration`): one of the configuration's `orchestration.pricing` values. */
export type OrchestrationPricingOption = (typeof ORCHESTRATION_PRICING)[number];

export function orchestrationPricing(value: string): OrchestrationPricingOption {
  const known: readonly string[] = ORCHESTRATION_PRICING;
  if (!known.includes(value)) {
    throw new InvalidArgumentError(`expected ${ORCHESTRATION_PRICING.join(' or ')}, got ${JSON.stringify(value)}`);
  }
  return value as OrchestrationPricingOption;
}

/** The `--orchestration` option's help, shared by `sim` and `bench`. */
export const ORCHESTRATION_OPTION_HELP =
  `price Temporal actions as ${ORCHESTRATION_PRICING.join(' or ')} (default: orchestration.pricing of the ` +
  'configuration); self-hosted takes the CPU per action from orchestration.cpuMsPerAction or ' +
  'bench/results/overhead.json';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * A parser of a positive integer of at most `max` (`bound` names where the bound comes from): commander names the
 * flag, e.g. `option '--samples <n>' argument '200000' is invalid. expected a positive integer up to 100000 ...`.
 */
export function positiveIntUpTo(max: number, bound: string): (value: string) => number {
  return (value) => {
    const n = positiveInt(value);
    if (n > max) throw new InvalidArgumentError(`expected a positive integer up to ${max} (${bound}), got ${n}`);
    return n;
  };
}

/** A parser of a positive number of at most `max`, as `positiveIntUpTo`. */
export function positiveNumberUpTo(max: number, bound: string): (value: string) => number {
  return (value) => {
    const n = positiveNumber(value);
    if (n > max) throw new InvalidArgumentError(`expected a positive number up to ${max} (${bound}), got ${n}`);
    return n;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

/** A progress bar on stderr (so stdout stays clean for --json), drawn only on a terminal. */
export function progressBar(label: string, total: number): { update(done: number): void; stop(): void } {
  if (!process.stderr.isTTY) {
    let last = -1;
    return {
      update(done) {
        const pct = Math.floor((done / total) * 10);
        if (pct !== last) {
          last = pct;
          process.stderr.write(`[serflow] ${label}: ${done}/${total}\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new SingleBar(
    { format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta}s`, stream: process.stderr },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (d) => bar.update(d), stop: () => bar.stop() };
}

/** A duration as `300ms`, `1.5s`, `2m` or a bare number of ms; > 0. */
export function durationMs(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  const n = m ? Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1) : NaN;
  if (!(n > 0)) {
    throw new InvalidArgumentError(`expected a duration such as 300ms, 1.5s or 2m, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A number >= 0. */
export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!(n >= 0) || value.trim() === '') {
    throw new InvalidArgumentError(`expected a number >= 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A comma-separated list of policy names, each checked. */
export function policyList(value: string): PolicyName[] {
  const names = value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('expected at least one policy name');
  try {
    return [...new Set(names.map((n) => parsePolicy(n) as PolicyName))];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
