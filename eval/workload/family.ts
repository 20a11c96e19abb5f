/**
 * The trace family that `serflow judge` runs every policy on: seeded synthetic traces of three
 * shapes at several base rates, defined by ONE constant, `TRACE_FAMILY`, so the family is reproducible and a change
 * to it is a visible change of that constant.
 *
 * Every member is a loadable trace spec (traces.ts: `mmpp:…`, `flash:…`, `diurnal:…`), written out with all its
 * values, so `serflow sim --trace '<member spec>'` replays any single member. Pure.
 *
 * Shapes (each drawn as Poisson counts per second around the shape's expected count; see stochastic.ts):
 * - `mmpp`: Markov-modulated bursts. Rate `base` with bursts at `ratio` × base whose lengths are exponential around
 *   a grid value (`burstS`), with exponential gaps of mean burst × (1 − share)/share between them. Every combination
 *   of the grid's burst lengths and ratios is one member at every base rate, each with its own seed.
 * - `flash`: a flash crowd. Rate `base`, then at a seeded time a linear ramp to a plateau of `ratio` × base, held,
 *   then an exponential decay back to base. The ratio, start, ramp, plateau and decay are drawn per member from the
 *   grid's ranges (seeded), rounded, and written into the member's spec.
 * - `diurnal`: a compressed day. mean · (1 − amplitude · cos(2πt / duration)) (night at the start and the end,
 *   midday in the middle) times a mean-one log-normal noise with a correlation time; the amplitude and the noise
 *   σ are drawn per member from the grid's ranges.
 */
import { seededRandom } from '../../common/stats';
import { syntheticTrace, type Trace } from './traces';

/** The shapes of the family, in report order. */
export const FAMILY_SHAPES = ['mmpp', 'flash', 'diurnal'] as const;
export type FamilyShape = (typeof FAMILY_SHAPES)[number];

/** A [min, max] range a per-member value is drawn from (uniformly, or log-uniformly where stated). */
export type Range = readonly [number, number];

export interface TraceFamilyGrid {
  /** Name recorded in reports; change it whenever the grid changes. */
  name: string;
  /** Length of every member, s. */
  durationS: number;
  /**
   * Base rates, queries/s: the rate outside bursts (mmpp) and before the crowd (flash), the mean rate (diurnal).
   * Chosen around the break-even of a VM (T-CIP: about 105 q/s per stage for the default model, 16–20 q/s for the
   * heavy one), so that on some members a VM pays and on others it does not.
   */
  baseRates: readonly number[];
  /**
   * Members per base rate of the flash and diurnal shapes (each with its own seed). The mmpp shape has one member per
   * (burst length, ratio) pair of its grid at every base rate instead.
   */
  seedsPerBase: number;
  /** First seed; members take seeds firstSeed, firstSeed + 1, … in `familyMembers` order. */
  firstSeed: number;
  mmpp: {
    /** Mean burst lengths, s. */
    burstS: readonly number[];
    /** Burst rate / base rate. */
    ratios: readonly number[];
    /** Share of the time in bursts (sets the mean gap: burst × (1 − share) / share). */
    burstShare: number;
  };
  flash: {
    /** Plateau / base rate, drawn log-uniformly. */
    ratio: Range;
    /** Start of the ramp as a share of the duration. */
    atShare: Range;
    rampS: Range;
    holdS: Range;
    decayS: Range;
  };
  diurnal: {
    amplitude: Range;
    /** σ of the log of the multiplicative noise. */
    noise: Range;
    /** Noise correlation time, s. */
    corrS: number;
  };
}

/**
 * The family: 30-minute members, base rates 2, 10 and 50 q/s; mmpp over burst lengths 10 s – 5 min × ratios 2–20
 * (4 × 3 = 12 members per base rate), 10 flash crowds and 10 compressed days per base rate: 96 members.
 */
export const TRACE_FAMILY: TraceFamilyGrid = {
  name: 'serflow-family-v1',
  durationS: 1800,
  baseRates: [2, 10, 50],
  seedsPerBase: 10,
  firstSeed: 1,
  mmpp: { burstS: [10, 30, 120, 300], ratios: [2, 5, 20], burstShare: 0.2 },
  flash: { ratio: [5, 20], atShare: [0.1, 0.4], rampS: [10, 120], holdS: [120, 600], decayS: [60, 600] },
  diurnal: { amplitude: [0.5, 0.9], noise: [0.1, 0.5], corrS: 60 },
};

export interface FamilyMember {
  /** Short unique id, e.g. `mmpp-b10-L120-r5`, `flash-b50-s3`. */
  id: string;
  shape: FamilyShape;
  baseRate: number;
  seed: number;
  /** The member as a loadable trace spec (traces.ts), every value written out. */
  spec: string;
  /** The values of the spec, for tables. */
  params: Record<string, number>;
}

/** A spec `kind:k=v,…` from values in the given key order. */
function specOf(kind: string, params: Record<string, number>): string {
  return `${kind}:${Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;
}

/** Rounded to `digits` decimals (so the spec is short and reads back to the same number). */
function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const uniform = (rnd: () => number, [lo, hi]: Range) => lo + (hi - lo) * rnd();
const logUniform = (rnd: () => number, [lo, hi]: Range) => lo * Math.exp(Math.log(hi / lo) * rnd());

/**
 * The members of a family grid, in order: per shape (FAMILY_SHAPES order), per base rate, then per grid point
 * (mmpp) or seed. Seeds run from `firstSeed` up over the whole family, so no two members share a seed. The drawn
 * values of a flash or diurnal member come from `seededRandom(seed)`; the trace itself from the spec's seed.
 */
export function familyMembers(grid: TraceFamilyGrid = TRACE_FAMILY): FamilyMember[] {
  const out: FamilyMember[] = [];
  let seed = grid.firstSeed;
  const d = grid.durationS;
  for (const base of grid.baseRates) {
    for (const burst of grid.mmpp.burstS) {
      for (const ratio of grid.mmpp.ratios) {
        const share = grid.mmpp.burstShare;
        const params = { base, ratio, burst, gap: round((burst * (1 - share)) / share, 3), duration: d, seed };
        out.push({
          id: `mmpp-b${base}-L${burst}-r${ratio}`,
          shape: 'mmpp',
          baseRate: base,
          seed,
          spec: specOf('mmpp', params),
          params,
        });
        seed++;
      }
    }
  }
  for (const base of grid.baseRates) {
    for (let i = 0; i < grid.seedsPerBase; i++) {
      const rnd = seededRandom(seed);
      const f = grid.flash;
      const params = {
        base,
        ratio: round(logUniform(rnd, f.ratio), 1),
        at: round(uniform(rnd, f.atShare) * d),
        ramp: round(uniform(rnd, f.rampS)),
        hold: round(uniform(rnd, f.holdS)),
        decay: round(uniform(rnd, f.decayS)),
        duration: d,
        seed,
      };
      out.push({
        id: `flash-b${base}-s${seed}`,
        shape: 'flash',
        baseRate: base,
        seed,
        spec: specOf('flash', params),
        params,
      });
      seed++;
    }
  }
  for (const base of grid.baseRates) {
    for (let i = 0; i < grid.seedsPerBase; i++) {
      const rnd = seededRandom(seed);
      const g = grid.diurnal;
      const params = {
        mean: base,
        amplitude: round(uniform(rnd, g.amplitude), 2),
        period: d,
        noise: round(uniform(rnd, g.noise), 2),
        corr: g.corrS,
        duration: d,
        seed,
      };
      out.push({
        id: `diurnal-b${base}-s${seed}`,
        shape: 'diurnal',
        baseRate: base,
        seed,
        spec: specOf('diurnal', params),
        params,
      });
      seed++;
    }
  }
  return out;
}

/** The member's trace (its spec, loaded), named by the member's id; the spec stays as the trace's source. */
export function memberTrace(m: FamilyMember): Trace {
  return { ...syntheticTrace(m.spec), name: m.id };
}
