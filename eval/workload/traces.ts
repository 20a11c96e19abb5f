/**
 * Arrival traces for the evaluation (`serflow sim`, `serflow bench`): the public traces in
 * `../shared/data/traces/`, files in the same formats, and synthetic shapes, all as one `Trace` type, plus pure
 * transformations (window, rate scaling) and the expansion into arrival times.
 *
 * Two kinds of source exist and both are kept faithfully:
 * - per-second counts (LIBRA's format: line n = requests in second n). Sub-second placement is unknown, so
 *   `arrivalTimesMs` offers the placements the compared simulators assume.
 * - timestamps (the Azure LLM trace: one row per request with real sub-second times). Their inter-arrival
 *   structure (bursts inside a second) is part of the load, so it is kept as is; counts are derived from it.
 *
 * Everything is pure except `loadTrace`, which reads files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRandom } from '../../common/stats';
import { floorTolerant } from '../../common/rounding';
import { PROJECT_ROOT } from '../../common/paths';
import {
  diurnalExpected,
  flashExpected,
  mmppBursts,
  mmppExpected,
  poissonCounts,
  type DiurnalParams,
  type FlashParams,
  type MmppParams,
} from './stochastic';

export interface Trace {
  /** Short name for reports, e.g. `wits`, `azure`, `step:from=5,to=20,at=60,duration=120`, `wits[100+600s]`. */
  name: string;
  /** The file path or the synthetic spec the trace came from. */
  source: string;
  format: 'counts' | 'timestamps' | 'synthetic';
  /** Requests per second, index = second from the trace start (always present; derived for timestamp traces). */
  counts: number[];
  /** Arrival offsets in ms from the trace start, sorted ascending; only for timestamp traces. */
  timesMs?: number[];
  /** Length of the trace in seconds (= counts.length). */
  durationS: number;
}

/** A trace spec, file or transformation argument is invalid; the message names the file and line or the bad value. */
export class TraceError extends Error {
  override readonly name = 'TraceError';
}

/** Short names of the shared public traces → their file names in the trace directory. */
export const TRACE_NAMES: Record<string, string> = {
  wits: 'wits_logs.txt',
  sin: 'sin_logs.txt',
  square: 'square_load.txt',
  azure: 'azure_llm_conv_2023.csv',
};

/** Environment variable that overrides the trace directory. */
export const TRACE_DIR_ENV = 'SERFLOW_TRACE_DIR';

/** How arrivals of a count trace are placed inside their second. */
export type Placement = 'uniform' | 'random' | 'epoch-start';

export const PLACEMENTS: readonly Placement[] = ['uniform', 'random', 'epoch-start'];

const MS_PER_S = 1000;

/** Extra copies made by `scaleTrace` on a timestamp trace land this far (uniformly) after their original, in ms. */
export const SCALE_COPY_SPREAD_MS = 1000;

/**
 * Copies pushed past the trace end by `scaleTrace` are clamped to this far before the end (ms), so they stay in the
 * last second and the duration does not change.
 */
const END_CLAMP_MS = 1e-3;

/** The accepted spec forms, quoted in error messages. */
const ACCEPTED_FORMS = [
  `a short name (${Object.keys(TRACE_NAMES).join(', ')})`,
  'a file path (.csv = timestamps, anything else = one count per line)',
  'constant:rate=R,duration=S',
  'step:from=A,to=B,at=S,duration=S',
  'sine:mean=M,amplitude=A,period=S,duration=S',
  'bursts:base=B,peak=P,every=S,length=S,duration=S',
  'mmpp:base=B,ratio=R,burst=S[,gap=S],duration=S,seed=N',
  'flash:base=B,ratio=R,at=S,ramp=S,hold=S,decay=S,duration=S,seed=N',
  'diurnal:mean=M,amplitude=A,period=S,noise=σ[,corr=S],duration=S,seed=N',
].join('; ');

/** `<project root>/../shared/data/traces`, or `$SERFLOW_TRACE_DIR` when set. */
export function defaultTraceDir(): string {
  const fromEnv = process.env[TRACE_DIR_ENV];
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(PROJECT_ROOT, '..', 'shared', 'data', 'traces');
}

/**
 * Load a trace: a short name from `TRACE_NAMES` (read from `opts.traceDir`, default `defaultTraceDir()`), a
 * synthetic shape (`constant:…`, `step:…`, `sine:…`, `bursts:…`, and the seeded random `mmpp:…`, `flash:…`,
 * `diurnal:…`) or a file path (`.csv` → timestamps, else counts).
 * Throws `TraceError` for an unknown spec, a missing file or a bad line.
 */
export function loadTrace(spec: string, opts: { traceDir?: string } = {}): Trace {
  const trimmed = spec.trim();
  const short = Object.hasOwn(TRACE_NAMES, trimmed) ? TRACE_NAMES[trimmed] : undefined;
  if (short !== undefined) {
    const file = path.join(opts.traceDir ?? defaultTraceDir(), short);
    return { ...loadTraceFile(file), name: trimmed };
  }
  const shape = /^([a-z-]+):/.exec(trimmed)?.[1];
  if (shape !== undefined && Object.hasOwn(SHAPES, shape)) return syntheticTrace(trimmed);
  if (trimmed !== '' && fs.existsSync(trimmed)) return loadTraceFile(trimmed);
  if (shape !== undefined) {
    throw new TraceError(
      `trace ${JSON.stringify(spec)}: unknown synthetic shape ${shape}; accepted: ${ACCEPTED_FORMS}`,
    );
  }
  throw new TraceError(`trace ${JSON.stringify(spec)}: no such trace name or file; accepted: ${ACCEPTED_FORMS}`);
}

/** Read a trace file; the format follows the extension. */
function loadTraceFile(file: string): Trace {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TraceError(`trace file ${file}: cannot read it (${(err as Error).message})`, { cause: err });
  }
  const name = path.basename(file).replace(/\.[^.]*$/, '');
  // Reports name the file relative to the project (e.g. ../shared/data/traces/wits_logs.txt), not this machine.
  const relative = path.relative(PROJECT_ROOT, path.resolve(file));
  const source = relative.length < path.resolve(file).length ? relative : path.resolve(file);
  if (path.extname(file).toLowerCase() === '.csv') {
    const timesMs = parseTimestampCsv(text, file);
    return { name, source, format: 'timestamps', timesMs, ...countsOfTimes(timesMs) };
  }
  const counts = parseCountLines(text, file);
  return { name, source, format: 'counts', counts, durationS: counts.length };
}

/**
 * Lines of a file without the line terminators (LF or CRLF: the Azure CSV uses CRLF). Trailing blank lines are
 * dropped (a file may end with a newline or a few); blank lines inside are kept so they are reported.
 */
function fileLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === '') lines.pop();
  return lines;
}

/** One non-negative integer per line; surrounding spaces are allowed (`square_load.txt` has trailing spaces). */
function parseCountLines(text: string, file: string): number[] {
  const lines = fileLines(text);
  if (lines.length === 0) throw new TraceError(`trace file ${file}: no counts (the file is empty)`);
  const counts = new Array<number>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const field = (lines[i] as string).trim();
    if (!/^\d+$/.test(field)) {
      throw new TraceError(
        `trace file ${file}, line ${i + 1}: expected a non-negative integer (requests in that second), got ${JSON.stringify(lines[i])}`,
      );
    }
    counts[i] = Number(field);
  }
  return counts;
}

/**
 * A wall-clock timestamp as found in the Azure trace: `2023-11-16 18:15:46.6805900` (space or `T` between date
 * and time, up to 9 fractional digits, optional `Z` or ±hh:mm). The Azure file has no zone and 7 fractional
 * digits, which `Date.parse` does not handle portably (it would read a zone-less date-time as local time and is
 * not specified for 7 digits), so it is parsed field by field. Zone-less times are taken as UTC: only differences
 * matter here.
 */
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** A timestamp as [whole ms since the epoch, sub-ms fraction], so offsets keep sub-µs precision; null if invalid. */
function parseTimestamp(text: string): [number, number] | null {
  const m = TIMESTAMP_RE.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = fields;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2023-02-31 over into March; a date that does not round-trip is invalid.
  if (new Date(ms).getUTCDate() !== day) return null;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60 * MS_PER_S;
  }
  const fracMs = frac ? Number(`0.${frac}`) * MS_PER_S : 0;
  return [ms + Math.floor(fracMs), fracMs - Math.floor(fracMs)];
}

/**
 * Arrival offsets (ms from the first arrival) of a CSV with one request per row. The timestamp is the column named
 * `TIMESTAMP` (any case) when the first line is a header, else the first column. Rows are sorted if they are not.
 */
function parseTimestampCsv(text: string, file: string): number[] {
  const lines = fileLines(text);
  if (lines.length === 0) throw new TraceError(`trace file ${file}: no requests (the file is empty)`);
  let column = 0;
  let first = 0;
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  if (parseTimestamp(header[0] ?? '') === null) {
    column = header.findIndex((h) => h.toUpperCase() === 'TIMESTAMP');
    if (column < 0) {
      throw new TraceError(
        `trace file ${file}, line 1: expected a header with a TIMESTAMP column or a first row starting with a timestamp, got ${JSON.stringify(lines[0])}`,
      );
    }
    first = 1;
  }
  if (lines.length <= first) throw new TraceError(`trace file ${file}: no requests (no data rows)`);
  const wholeMs = new Float64Array(lines.length - first);
  const fracMs = new Float64Array(lines.length - first);
  for (let i = first; i < lines.length; i++) {
    const line = lines[i] as string;
    const field = (line.split(',')[column] ?? '').trim();
    const parsed = parseTimestamp(field);
    if (parsed === null) {
      throw new TraceError(
        `trace file ${file}, line ${i + 1}: expected a timestamp like 2023-11-16 18:15:46.6805900 in column ${column + 1}, got ${JSON.stringify(line)}`,
      );
    }
    wholeMs[i - first] = parsed[0];
    fracMs[i - first] = parsed[1];
  }
  let minWhole = Infinity;
  for (const w of wholeMs) minWhole = Math.min(minWhole, w);
  const abs = new Float64Array(wholeMs.length);
  for (let i = 0; i < abs.length; i++) abs[i] = (wholeMs[i] as number) - minWhole + (fracMs[i] as number);
  abs.sort();
  const start = abs[0] as number;
  return Array.from(abs, (t) => t - start);
}

/** Per-second counts of sorted arrival offsets: second t holds arrivals in [t s, t+1 s). */
function countsOfTimes(timesMs: readonly number[], durationS?: number): { counts: number[]; durationS: number } {
  const last = timesMs.length > 0 ? (timesMs[timesMs.length - 1] as number) : 0;
  const length = durationS ?? Math.floor(last / MS_PER_S) + 1;
  const counts = new Array<number>(length).fill(0);
  for (const t of timesMs) {
    const s = Math.floor(t / MS_PER_S);
    counts[s] = (counts[s] as number) + 1;
  }
  return { counts, durationS: length };
}

// ---------------------------------------------------------------------------------------------------------------
// Synthetic shapes

/**
 * A synthetic shape: its keys, and either the integral of its rate from 0 to t seconds (non-decreasing in t; a
 * deterministic shape) or the per-second counts drawn from a seeded random process (a stochastic shape, whose keys
 * include `seed`).
 */
interface Shape {
  keys: readonly string[];
  /** Keys that may be left out, with their value computed from the others (documented in ACCEPTED_FORMS). */
  optional?: Record<string, (v: Record<string, number>) => number>;
  /** Cross-key checks; returns a message, naming the key, when the values do not make a valid shape. */
  check?: (v: Record<string, number>) => string | undefined;
  cumulative?: (v: Record<string, number>, t: number) => number;
  counts?: (v: Record<string, number>) => number[];
}

/** A message naming the first key whose value is outside [min, max] (either bound may be omitted). */
function outOfRange(
  v: Record<string, number>,
  limits: Array<[key: string, min: number | undefined, max: number | undefined, say: string]>,
): string | undefined {
  for (const [key, min, max, say] of limits) {
    const x = v[key] as number;
    if ((min !== undefined && x < min) || (max !== undefined && x > max)) return `${key}=${x} must be ${say}`;
  }
  return undefined;
}

/**
 * Markov-modulated bursts (stochastic.ts `mmppBursts`): rate `base` outside bursts and `ratio` × base inside;
 * burst lengths exponential with mean `burst` s, gaps exponential with mean `gap` s (default 4 × burst: bursts
 * 20 % of the time); Poisson counts per second.
 */
function mmppParams(v: Record<string, number>): MmppParams {
  return {
    base: v.base as number,
    ratio: v.ratio as number,
    burstS: v.burst as number,
    gapS: v.gap as number,
    durationS: v.duration as number,
  };
}

/** Default mean gap between bursts as a multiple of the mean burst length: bursts 1/(1 + 4) = 20 % of the time. */
export const MMPP_DEFAULT_GAP_PER_BURST = 4;

/** Default noise correlation time of `diurnal:`, s. */
export const DIURNAL_DEFAULT_CORR_S = 60;

function flashParams(v: Record<string, number>): FlashParams {
  return {
    base: v.base as number,
    ratio: v.ratio as number,
    atS: v.at as number,
    rampS: v.ramp as number,
    holdS: v.hold as number,
    decayS: v.decay as number,
    durationS: v.duration as number,
  };
}

function diurnalParams(v: Record<string, number>): DiurnalParams {
  return {
    mean: v.mean as number,
    amplitude: v.amplitude as number,
    periodS: v.period as number,
    noise: v.noise as number,
    corrS: v.corr as number,
    durationS: v.duration as number,
  };
}

const SHAPES: Record<string, Shape> = {
  constant: {
    keys: ['rate', 'duration'],
    cumulative: (v, t) => (v.rate as number) * t,
  },
  step: {
    keys: ['from', 'to', 'at', 'duration'],
    cumulative: (v, t) => {
      const at = v.at as number;
      return (v.from as number) * Math.min(t, at) + (v.to as number) * Math.max(0, t - at);
    },
  },
  sine: {
    // rate(t) = mean + amplitude · sin(2πt / period), starting at the mean and rising.
    keys: ['mean', 'amplitude', 'period', 'duration'],
    check: (v) =>
      (v.amplitude as number) > (v.mean as number)
        ? `amplitude=${v.amplitude} must not exceed mean=${v.mean} (the rate would go negative)`
        : (v.period as number) <= 0
          ? `period=${v.period} must be > 0`
          : undefined,
    cumulative: (v, t) => {
      const w = (2 * Math.PI) / (v.period as number);
      return (v.mean as number) * t + ((v.amplitude as number) / w) * (1 - Math.cos(w * t));
    },
  },
  bursts: {
    // rate = peak during [k·every, k·every + length), base otherwise.
    keys: ['base', 'peak', 'every', 'length', 'duration'],
    check: (v) =>
      (v.every as number) <= 0
        ? `every=${v.every} must be > 0`
        : (v.length as number) > (v.every as number)
          ? `length=${v.length} must not exceed every=${v.every}`
          : undefined,
    cumulative: (v, t) => {
      const every = v.every as number;
      const length = v.length as number;
      const periods = Math.floor(t / every);
      const burstTime = periods * length + Math.min(length, t - periods * every);
      return (v.base as number) * t + ((v.peak as number) - (v.base as number)) * burstTime;
    },
  },
  mmpp: {
    keys: ['base', 'ratio', 'burst', 'gap', 'duration', 'seed'],
    optional: { gap: (v) => MMPP_DEFAULT_GAP_PER_BURST * (v.burst as number) },
    check: (v) =>
      outOfRange(v, [
        ['ratio', 1, undefined, '≥ 1 (the burst rate is ratio × base)'],
        ['burst', 1e-9, undefined, '> 0 (the mean burst length, s)'],
        ['gap', 1e-9, undefined, '> 0 (the mean gap between bursts, s)'],
      ]),
    counts: (v) => {
      const p = mmppParams(v);
      const rnd = seededRandom(v.seed as number);
      // the bursts are drawn first, so one seed gives the same burst times whatever base and ratio are
      return poissonCounts(mmppExpected(p, mmppBursts(p, rnd)), rnd);
    },
  },
  flash: {
    keys: ['base', 'ratio', 'at', 'ramp', 'hold', 'decay', 'duration', 'seed'],
    check: (v) =>
      outOfRange(v, [
        ['ratio', 1, undefined, '≥ 1 (the plateau is ratio × base)'],
        [
          'at',
          undefined,
          (v.duration as number) - 1,
          `< duration=${v.duration} (the crowd must start inside the trace)`,
        ],
      ]),
    counts: (v) => poissonCounts(flashExpected(flashParams(v)), seededRandom(v.seed as number)),
  },
  diurnal: {
    keys: ['mean', 'amplitude', 'period', 'noise', 'corr', 'duration', 'seed'],
    optional: { corr: () => DIURNAL_DEFAULT_CORR_S },
    check: (v) =>
      outOfRange(v, [
        ['amplitude', undefined, 1, '≤ 1 (relative: the rate runs from mean·(1 − amplitude) to mean·(1 + amplitude))'],
        ['period', 1e-9, undefined, '> 0 (the length of one compressed day, s)'],
        ['noise', undefined, 3, '≤ 3 (σ of the log of the multiplicative noise)'],
      ]),
    counts: (v) => {
      const rnd = seededRandom(v.seed as number);
      return poissonCounts(diurnalExpected(diurnalParams(v), rnd), rnd);
    },
  },
};

/** Keys whose value must be a whole number of seconds ≥ 1. */
const POSITIVE_INTEGER_KEYS = new Set(['duration']);

/** Keys whose value must be a whole number (≥ 0, checked with every key). */
const INTEGER_KEYS = new Set(['seed']);

/** Largest seed: common/stats.ts `seededRandom` keeps 32 bits. */
const MAX_SEED = 2 ** 32 - 1;

/**
 * A synthetic trace. Deterministic shapes: counts come from cumulative rounding of the real-valued rate:
 * count_t = ⌊cum(t+1)⌋ − ⌊cum(t)⌋, so they are integers, deterministic, and sum to ⌊cum(duration)⌋, the integral
 * rounded down (e.g. constant:rate=0.5 gives 0,1,0,1,…). Stochastic shapes (`mmpp`, `flash`, `diurnal`): Poisson
 * counts around the shape's expected count of each second, drawn from `seed` (same spec ⇒ same counts).
 * Throws `TraceError` naming the key of a bad or missing value.
 */
export function syntheticTrace(spec: string): Trace {
  const colon = spec.indexOf(':');
  const kind = spec.slice(0, colon);
  if (colon < 0 || !Object.hasOwn(SHAPES, kind)) {
    throw new TraceError(`trace ${JSON.stringify(spec)}: unknown synthetic shape ${kind}; accepted: ${ACCEPTED_FORMS}`);
  }
  const shape = SHAPES[kind] as Shape;
  const form = `${kind}:${shape.keys.map((k) => (shape.optional?.[k] ? `[${k}=…]` : `${k}=…`)).join(',')}`;
  const fail = (what: string): never => {
    throw new TraceError(`trace ${JSON.stringify(spec)}: ${what}; expected ${form} (accepted: ${ACCEPTED_FORMS})`);
  };
  const values: Record<string, number> = {};
  for (const part of spec.slice(colon + 1).split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!shape.keys.includes(key)) fail(`unknown key ${JSON.stringify(key)}`);
    if (key in values) fail(`key ${key} given twice`);
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value) || value < 0) fail(`${key}=${raw} must be a non-negative number`);
    if (POSITIVE_INTEGER_KEYS.has(key) && !(Number.isInteger(value) && value >= 1)) {
      fail(`${key}=${raw} must be a whole number of seconds ≥ 1`);
    }
    if (INTEGER_KEYS.has(key) && !(Number.isInteger(value) && value <= MAX_SEED)) {
      fail(`${key}=${raw} must be a whole number from 0 to ${MAX_SEED}`);
    }
    values[key] = value;
  }
  for (const [key, from] of Object.entries(shape.optional ?? {})) {
    if (!(key in values)) values[key] = from(values);
  }
  const missing = shape.keys.filter((k) => !(k in values));
  if (missing.length > 0) fail(`missing ${missing.join(', ')}`);
  const problem = shape.check?.(values);
  if (problem) fail(problem);

  const durationS = values.duration as number;
  if (shape.counts) return { name: spec, source: spec, format: 'synthetic', counts: shape.counts(values), durationS };
  const cumulative = shape.cumulative as NonNullable<Shape['cumulative']>;
  const counts = new Array<number>(durationS);
  let prev = 0;
  for (let t = 0; t < durationS; t++) {
    // Tolerant floor, so that a product such as 0.57 · 100 = 56.99999999999999 counts as the 57 it means.
    const next = floorTolerant(cumulative(values, t + 1));
    counts[t] = Math.max(0, next - prev);
    prev = Math.max(prev, next);
  }
  return { name: spec, source: spec, format: 'synthetic', counts, durationS };
}

// ---------------------------------------------------------------------------------------------------------------
// Transformations

/**
 * The part [startS, startS + durationS) of a trace (default: to the end), with times re-based to 0. Both bounds
 * are whole seconds; throws `TraceError` when the window is empty or reaches outside the trace.
 */
export function windowTrace(trace: Trace, startS: number, durationS = trace.durationS - startS): Trace {
  const where = `window [${startS}, ${startS + durationS}) s of trace ${trace.name} (${trace.durationS} s)`;
  if (!Number.isInteger(startS) || !Number.isInteger(durationS)) {
    throw new TraceError(`${where}: start and duration must be whole seconds`);
  }
  if (startS < 0 || startS >= trace.durationS) throw new TraceError(`${where}: the start is outside the trace`);
  if (durationS <= 0) throw new TraceError(`${where}: the window is empty (duration ${durationS} s)`);
  if (startS + durationS > trace.durationS) throw new TraceError(`${where}: the window ends after the trace`);
  const out: Trace = {
    ...trace,
    name: `${trace.name}[${startS}+${durationS}s]`,
    counts: trace.counts.slice(startS, startS + durationS),
    durationS,
  };
  if (trace.timesMs) {
    const lo = startS * MS_PER_S;
    const hi = (startS + durationS) * MS_PER_S;
    out.timesMs = trace.timesMs.filter((t) => t >= lo && t < hi).map((t) => t - lo);
  }
  return out;
}

/**
 * The trace with its rate multiplied by `factor` (> 0); the duration is unchanged.
 *
 * - Counts (file or synthetic): cumulative rounding of factor · count, count'_t = round(f·C(t+1)) − round(f·C(t))
 *   with C the running total, so the result is deterministic (the seed is unused), keeps the shape, and totals
 *   round(f · total).
 * - Timestamps: the real inter-arrival structure is kept rather than re-spread. Each arrival stays once at its own
 *   time, gets ⌊f⌋ − 1 extra copies, and one more extra copy with probability frac(f) (so f < 1 thins the trace at
 *   random). Each extra copy lands a seeded uniform offset in [0, SCALE_COPY_SPREAD_MS) ms after its original,
 *   clamped inside the trace, so copies form small local bursts like the real ones instead of exact duplicates.
 *   Same seed ⇒ same trace.
 */
export function scaleTrace(trace: Trace, factor: number, seed: number): Trace {
  if (!(Number.isFinite(factor) && factor > 0)) {
    throw new TraceError(`scale factor of trace ${trace.name}: must be a finite number > 0, got ${factor}`);
  }
  const name = `${trace.name}*${factor}`;
  if (!trace.timesMs) {
    const counts = new Array<number>(trace.durationS);
    let total = 0;
    let prev = 0;
    for (let t = 0; t < trace.durationS; t++) {
      total += trace.counts[t] as number;
      const next = Math.round(factor * total);
      counts[t] = next - prev;
      prev = next;
    }
    return { ...trace, name, counts };
  }
  const rnd = seededRandom(seed);
  const whole = Math.floor(factor);
  const frac = factor - whole;
  const endMs = trace.durationS * MS_PER_S - END_CLAMP_MS;
  const out: number[] = [];
  for (const t of trace.timesMs) {
    const copies = whole + (frac > 0 && rnd() < frac ? 1 : 0);
    if (copies === 0) continue;
    out.push(t);
    for (let c = 1; c < copies; c++) out.push(Math.min(endMs, t + rnd() * SCALE_COPY_SPREAD_MS));
  }
  const timesMs = Array.from(Float64Array.from(out).sort());
  return { ...trace, name, timesMs, counts: countsOfTimes(timesMs, trace.durationS).counts };
}

/**
 * Sorted arrival times (ms from the trace start). A timestamp trace gives its own times (placement and seed are
 * ignored). A count trace places the n arrivals of second t by `placement`:
 * - `uniform`: evenly, at t·1000 + (i + 0.5)·1000/n;
 * - `random`: n seeded uniform positions in [t·1000, (t+1)·1000), sorted;
 * - `epoch-start`: all at t·1000 exactly, as LIBRA's simulator releases a second's requests at the epoch start.
 */
export function arrivalTimesMs(trace: Trace, placement: Placement, seed: number): Float64Array {
  if (trace.timesMs) return Float64Array.from(trace.timesMs);
  if (!PLACEMENTS.includes(placement)) {
    throw new TraceError(`placement ${JSON.stringify(placement)}: expected one of ${PLACEMENTS.join(', ')}`);
  }
  let total = 0;
  for (const n of trace.counts) total += n;
  const out = new Float64Array(total);
  const rnd = seededRandom(seed);
  let k = 0;
  for (let t = 0; t < trace.counts.length; t++) {
    const n = trace.counts[t] as number;
    const base = t * MS_PER_S;
    if (placement === 'epoch-start') {
      out.fill(base, k, k + n);
    } else if (placement === 'uniform') {
      const step = MS_PER_S / n;
      for (let i = 0; i < n; i++) out[k + i] = base + (i + 0.5) * step;
    } else {
      for (let i = 0; i < n; i++) out[k + i] = base + rnd() * MS_PER_S;
      out.subarray(k, k + n).sort();
    }
    k += n;
  }
  return out;
}

export interface TraceStats {
  /** Total requests. */
  queries: number;
  /** queries / durationS, requests per second. */
  meanRate: number;
  /** The largest per-second count. */
  peakRate: number;
  durationS: number;
}

export function traceStats(trace: Trace): TraceStats {
  let queries = 0;
  let peakRate = 0;
  for (const n of trace.counts) {
    queries += n;
    if (n > peakRate) peakRate = n;
  }
  return {
    queries,
    meanRate: trace.durationS > 0 ? queries / trace.durationS : 0,
    peakRate,
    durationS: trace.durationS,
  };
}
