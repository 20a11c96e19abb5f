/**
 * Drift schedules for an evaluation run: what changes, and when, while the arrival trace plays. An exit schedule
 * changes the share of queries leaving at each stage (to test how a policy follows a drifting exit profile in the
 * simulator); a mix schedule changes the input mix (noise, classes) in a live run, which makes the real exit
 * profile drift. Both are `time=value` entries joined by `;`, in force from their time until the next one. Pure.
 */
import { parseInputMix } from '../../models/input-mix';

/** A schedule spec is malformed; the message names the entry and what is wrong with it. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/** Exit shares from `atS` on: one share per stage summing to 1, or `'profile'` = the model's profiled shares. */
export type ExitSchedule = Array<{ atS: number; exitShares: number[] | 'profile' }>;

/** Input mix from `atS` on: `all` (no shift) or a spec accepted by `parseInputMix` (`noise:0.4`, `classes:0,1`). */
export type MixSchedule = Array<{ atS: number; mix: string }>;

/** The mix value meaning "the unshifted input distribution". */
export const NO_SHIFT_MIX = 'all';

/** How far from 1 a share list may sum before it is rejected (it is then normalised to sum to 1 exactly). */
export const SHARE_SUM_TOLERANCE = 1e-6;

/** Rounds of residual correction in `normaliseShares`; one almost always suffices. */
const NORMALISE_ROUNDS = 4;

/**
 * Split `0=a;600=b` into [time, value] entries, checking that times are numbers ≥ 0, start at 0 and strictly
 * ascend. `what` names the schedule in messages.
 */
function parseEntries(spec: string, what: string, form: string): Array<{ atS: number; value: string; entry: string }> {
  const parts = spec.split(';').map((p) => p.trim());
  // A trailing `;` is harmless; any other empty entry is a typo worth reporting.
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const entries: Array<{ atS: number; value: string; entry: string }> = [];
  for (const [i, entry] of parts.entries()) {
    const fail = (problem: string): never => {
      throw new ScheduleError(
        `${what} ${JSON.stringify(spec)}, entry ${i + 1} ${JSON.stringify(entry)}: ${problem}; expected ${form}`,
      );
    };
    const eq = entry.indexOf('=');
    if (eq < 0) fail('missing "=" between the time and the value');
    const timeText = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    const atS = Number(timeText);
    if (timeText === '' || !Number.isFinite(atS) || atS < 0)
      fail(`time ${JSON.stringify(timeText)} must be a number of seconds ≥ 0`);
    if (i === 0 && atS !== 0) fail(`the first entry must be at time 0, got ${atS}`);
    const prev = entries[entries.length - 1];
    if (prev && atS <= prev.atS) fail(`times must ascend, but ${atS} s follows ${prev.atS} s`);
    if (value === '') fail('the value is empty');
    entries.push({ atS, value, entry });
  }
  return entries;
}

/**
 * Shares divided by their sum, then the rounding residual moved onto the largest share, so the floating-point sum
 * (left to right) is exactly 1: consumers draw exits by comparing a uniform number against running sums.
 */
function normaliseShares(shares: number[]): number[] {
  const total = shares.reduce((s, x) => s + x, 0);
  const out = shares.map((x) => x / total);
  const largest = out.indexOf(Math.max(...out));
  for (let round = 0; round < NORMALISE_ROUNDS; round++) {
    const residual = 1 - out.reduce((s, x) => s + x, 0);
    if (residual === 0) break;
    out[largest] = (out[largest] as number) + residual;
  }
  return out;
}

/**
 * Parse `0=profile;1800=0.2,0.3,0.3,0.2`: from each time on, queries exit at stage i with the i-th share (or by the
 * profile). Each share list has `stages` non-negative numbers summing to 1 within `SHARE_SUM_TOLERANCE`.
 */
export function parseExitSchedule(spec: string, stages: number): ExitSchedule {
  if (!(Number.isInteger(stages) && stages >= 1)) {
    throw new ScheduleError(`exit schedule ${JSON.stringify(spec)}: stages must be a whole number ≥ 1, got ${stages}`);
  }
  const form = `time=profile or time=s1,...,s${stages} (${stages} shares summing to 1), entries joined by ";", e.g. 0=profile;1800=${new Array<string>(stages).fill((1 / stages).toFixed(2)).join(',')}`;
  return parseEntries(spec, 'exit schedule', form).map(({ atS, value, entry }, i) => {
    if (value === 'profile') return { atS, exitShares: 'profile' as const };
    const fail = (problem: string): never => {
      throw new ScheduleError(
        `exit schedule ${JSON.stringify(spec)}, entry ${i + 1} ${JSON.stringify(entry)}: ${problem}; expected ${form}`,
      );
    };
    const fields = value.split(',').map((f) => f.trim());
    if (fields.length !== stages) fail(`${fields.length} shares given, the model has ${stages} stages`);
    const shares = fields.map((f) => {
      const x = Number(f);
      if (f === '' || !Number.isFinite(x) || x < 0) fail(`share ${JSON.stringify(f)} must be a number ≥ 0`);
      return x;
    });
    const total = shares.reduce((s, x) => s + x, 0);
    if (Math.abs(total - 1) > SHARE_SUM_TOLERANCE) fail(`the shares sum to ${total}, not 1`);
    return { atS, exitShares: normaliseShares(shares) };
  });
}

/** The index of the entry in force at tS: the last one starting at or before it (the first one before time 0). */
function entryAt(schedule: ReadonlyArray<{ atS: number }>, tS: number): number {
  let found = 0;
  for (let i = 1; i < schedule.length && (schedule[i] as { atS: number }).atS <= tS; i++) found = i;
  return found;
}

/** The exit shares in force at tS; `profileShares` stands in for `'profile'` entries. */
export function exitSharesAt(schedule: ExitSchedule, tS: number, profileShares: readonly number[]): readonly number[] {
  const entry = schedule[entryAt(schedule, tS)];
  if (!entry) throw new ScheduleError('exit schedule is empty');
  return entry.exitShares === 'profile' ? profileShares : entry.exitShares;
}

/**
 * Parse `0=all;600=noise:0.4;1200=classes:0,1`: from each time on, inputs are drawn with that mix. Each mix is
 * `all` or is checked with `parseInputMix`.
 */
export function parseMixSchedule(spec: string): MixSchedule {
  const form = `time=${NO_SHIFT_MIX} or time=<input mix: noise:S, classes:a,b or both joined by +>, entries joined by ";", e.g. 0=all;600=noise:0.4`;
  return parseEntries(spec, 'mix schedule', form).map(({ atS, value, entry }, i) => {
    if (value !== NO_SHIFT_MIX) {
      try {
        parseInputMix(value);
      } catch (err) {
        throw new ScheduleError(
          `mix schedule ${JSON.stringify(spec)}, entry ${i + 1} ${JSON.stringify(entry)}: ${(err as Error).message}; expected ${form}`,
          { cause: err },
        );
      }
    }
    return { atS, mix: value };
  });
}

/** The input mix in force at tS (`all` = no shift). */
export function mixAt(schedule: MixSchedule, tS: number): string {
  const entry = schedule[entryAt(schedule, tS)];
  if (!entry) throw new ScheduleError('mix schedule is empty');
  return entry.mix;
}
