/**
 * What one Temporal action costs in a run: the `orchestration` section of the configuration, with the pricing
 * optionally overridden (`--orchestration`), and for self-hosted orchestration the CPU per action taken from the
 * configuration or else from the overhead benchmark's result (bench/results/overhead.json,
 * `orchestration.cpuMsPerAction`). The one place that reads that file: the simulator, the bench and the CLI ask
 * here, so a missing measurement fails the same way everywhere, naming the file and the command that writes it.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SerflowConfig } from '../common/config';
import { PROJECT_ROOT } from '../common/paths';
import { MissingOrchestrationCostError, usdPerAction, type OrchestrationPrices, type Prices } from './prices';

/** The overhead benchmark's result (`npm run bench:overhead` writes it). */
export const OVERHEAD_RESULTS_FILE = path.join(PROJECT_ROOT, 'bench', 'results', 'overhead.json');

export type OrchestrationPricing = OrchestrationPrices['pricing'];

/** The orchestration prices of a run, resolved and priced. */
export interface ResolvedOrchestration extends OrchestrationPrices {
  /** USD per action (billing/prices.ts `usdPerAction`). */
  usdPerAction: number;
  /** Self-hosted only: where `cpuMsPerAction` came from ('config' or the results file's path). */
  cpuMsSource?: string;
}

const howToMeasure = (file: string) =>
  `run \`npm run bench:overhead\` to measure it into ${file}, or set orchestration.cpuMsPerAction`;

/**
 * `orchestration.cpuMsPerAction` of the overhead benchmark's result `file`. Throws MissingOrchestrationCostError
 * naming the file and `npm run bench:overhead` when the file is missing or unreadable, or holds no positive value.
 */
export function cpuMsPerActionFromOverhead(file = OVERHEAD_RESULTS_FILE): number {
  const missing = (why: string) =>
    new MissingOrchestrationCostError(
      `orchestration.pricing is self-hosted but no CPU cost per action is known: orchestration.cpuMsPerAction is ` +
        `not configured and ${why}; ${howToMeasure(file)}`,
    );
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw missing(code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw missing(`${file} is not JSON (${(err as Error).message})`);
  }
  const section = (parsed as { orchestration?: unknown } | null)?.orchestration;
  const value = (section as { cpuMsPerAction?: unknown } | null | undefined)?.cpuMsPerAction;
  if (value === undefined) throw missing(`${file} has no orchestration.cpuMsPerAction`);
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw missing(`${file} has orchestration.cpuMsPerAction ${JSON.stringify(value)}, not a positive number`);
  }
  return value;
}

/**
 * The orchestration prices of a run: `section` with `pricing` overriding its pricing; self-hosted takes the CPU per
 * action from the section, else from `overheadFile` (throws MissingOrchestrationCostError when neither has it).
 * Temporal Cloud pricing reads no file.
 */
export function resolveOrchestration(
  section: SerflowConfig['orchestration'],
  prices: Pick<Prices, 'vmPerHourUsd'>,
  o: { pricing?: OrchestrationPricing; overheadFile?: string } = {},
): ResolvedOrchestration {
  const pricing = o.pricing ?? section.pricing;
  const base: OrchestrationPrices = { ...section, pricing };
  if (pricing === 'temporal-cloud') return { ...base, usdPerAction: usdPerAction(base, prices) };
  const fromConfig = section.cpuMsPerAction !== undefined;
  const file = o.overheadFile ?? OVERHEAD_RESULTS_FILE;
  const cpuMsPerAction = section.cpuMsPerAction ?? cpuMsPerActionFromOverhead(file);
  const resolved: OrchestrationPrices = { ...base, cpuMsPerAction };
  return {
    ...resolved,
    usdPerAction: usdPerAction(resolved, prices),
    cpuMsSource: fromConfig ? 'config' : file,
  };
}
