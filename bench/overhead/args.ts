/** The command line of the overhead benchmark (`node lib/bench/overhead.js --help`). */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PLANS, type PlanName } from './plans';

export interface Args {
  samples: number;
  concurrency: number[];
  threshold?: number;
  out: string;
  svg: string;
  durationS: number;
  warmup: number;
  seed: number;
  model?: string;
  historySamples: number;
  dynamicConfig: Record<string, string | number | boolean>;
  stageConcurrency?: number;
  processesPerStage?: number;
  /** Step 5: the plans measured against the engine's floor (none: skip the step). */
  plans: PlanName[];
  /** Step 5: queries one after the other per plan and for the floor. */
  planSamples: number;
}

/** `--plans`: a comma list of PLANS, `all`, or `none`. */
export function parsePlans(value: string): PlanName[] {
  if (value === 'none') return [];
  if (value === 'all') return [...PLANS];
  return value.split(',').map((p) => {
    const name = p.trim();
    if (!(PLANS as readonly string[]).includes(name)) {
      throw new Error(`--plans: unknown plan ${JSON.stringify(name)}; expected ${PLANS.join(', ')}, all or none`);
    }
    return name as PlanName;
  });
}

/** `KEY=VALUE` pairs; VALUE is parsed as JSON when it parses to a string, number or boolean, else kept as text. */
export function parseDynamicConfig(pairs: string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--dynamic-config: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
    const raw = kv.slice(eq + 1);
    let value: string | number | boolean = raw;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean') value = parsed;
    } catch {
      // not JSON: keep the text
    }
    out[kv.slice(0, eq)] = value;
  }
  return out;
}

export function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '1,4,8,16' },
      threshold: { type: 'string' },
      out: { type: 'string', default: 'bench/results/overhead.json' },
      svg: { type: 'string' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      model: { type: 'string' },
      'history-samples': { type: 'string', default: '30' },
      'dynamic-config': { type: 'string', multiple: true, default: [] },
      'stage-concurrency': { type: 'string' },
      'processes-per-stage': { type: 'string' },
      plans: { type: 'string', default: 'all' },
      'plan-samples': { type: 'string', default: '100' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node lib/bench/overhead.js [--samples 300] [--concurrency 1,4,8,16] [--threshold T] [--duration 10]\n' +
        '         [--warmup 30] [--seed 1] [--model NAME] [--history-samples 30] [--out bench/results/overhead.json] [--svg PATH]\n' +
        '         [--dynamic-config KEY=VALUE ...] [--stage-concurrency N] [--processes-per-stage N]\n' +
        `         [--plans all|none|${PLANS.join(',')}] [--plan-samples 100]\n`,
    );
    process.exit(0);
  }
  const posInt = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const out = path.resolve(values.out);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !(threshold > 0 && threshold <= 1))
    throw new Error(`--threshold: expected a number in (0, 1]`);
  const durationS = Number(values.duration);
  if (!(durationS > 0)) throw new Error('--duration: expected a positive number of seconds');
  return {
    samples: posInt('samples', values.samples),
    concurrency: values.concurrency.split(',').map((s) => posInt('concurrency', s.trim())),
    threshold,
    out,
    svg: values.svg ? path.resolve(values.svg) : out.replace(/\.json$/i, '') + '.svg',
    durationS,
    warmup: Number(values.warmup) >= 0 ? Math.floor(Number(values.warmup)) : 30,
    seed: posInt('seed', values.seed),
    model: values.model,
    historySamples: Math.max(0, Math.floor(Number(values['history-samples']) || 0)),
    dynamicConfig: parseDynamicConfig(values['dynamic-config']),
    stageConcurrency: values['stage-concurrency']
      ? posInt('stage-concurrency', values['stage-concurrency'])
      : undefined,
    processesPerStage: values['processes-per-stage']
      ? posInt('processes-per-stage', values['processes-per-stage'])
      : undefined,
    plans: parsePlans(values.plans),
    planSamples: posInt('plan-samples', values['plan-samples']),
  };
}
