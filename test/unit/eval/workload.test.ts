/** eval/workload/traces.ts and schedules.ts: the shared traces, synthetic shapes, transformations, placements, schedules. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  TRACE_NAMES,
  TraceError,
  arrivalTimesMs,
  defaultTraceDir,
  loadTrace,
  scaleTrace,
  traceStats,
  windowTrace,
  type Trace,
} from '../../../eval/workload/traces';
import {
  ScheduleError,
  exitSharesAt,
  mixAt,
  parseExitSchedule,
  parseMixSchedule,
} from '../../../eval/workload/schedules';
import { PROJECT_ROOT } from '../../../common/paths';

function sum(xs: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) total += xs[i] as number;
  return total;
}

function isSorted(xs: ArrayLike<number>): boolean {
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) < (xs[i - 1] as number)) return false;
  return true;
}

/** A small count trace built in memory. */
function countTrace(counts: number[]): Trace {
  return { name: 'test', source: 'test', format: 'counts', counts, durationS: counts.length };
}

/** A small timestamp trace built in memory (counts derived by hand in each test). */
function timesTrace(timesMs: number[], durationS: number): Trace {
  const counts = new Array<number>(durationS).fill(0);
  for (const t of timesMs) counts[Math.floor(t / 1000)]! += 1;
  return { name: 'ts', source: 'ts', format: 'timestamps', counts, timesMs, durationS };
}

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-traces-'));
after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

/** Write a temp file and return its path. */
function tmpFile(name: string, text: string): string {
  const file = path.join(tmpDir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('the shared traces match /work/shared/data/README.md', () => {
  const cases: Array<{ name: string; durationS: number; queries: number; mean: number; peak: number }> = [
    { name: 'wits', durationS: 45_000, queries: 6_432_107, mean: 142.9, peak: 1168 },
    { name: 'sin', durationS: 10_000, queries: 1_565_467, mean: 156.5, peak: 300 },
    { name: 'square', durationS: 1112, queries: 18_000, mean: 16.2, peak: 50 },
    { name: 'azure', durationS: 3502, queries: 19_366, mean: 5.5, peak: 16 },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.durationS} s, mean ${c.mean}, max ${c.peak} req/s`, () => {
      const trace = loadTrace(c.name);
      const stats = traceStats(trace);
      assert.equal(trace.name, c.name);
      assert.equal(stats.durationS, c.durationS);
      assert.equal(trace.counts.length, c.durationS);
      assert.equal(stats.queries, c.queries);
      assert.equal(Math.round(stats.meanRate * 10) / 10, c.mean);
      assert.equal(stats.peakRate, c.peak);
    });
  }

  test('the default trace directory is <project root>/../shared/data/traces and holds every named trace', () => {
    assert.equal(defaultTraceDir(), path.resolve(PROJECT_ROOT, '..', 'shared', 'data', 'traces'));
    for (const file of Object.values(TRACE_NAMES)) assert.ok(fs.existsSync(path.join(defaultTraceDir(), file)), file);
  });

  test('SERFLOW_TRACE_DIR overrides the default directory', () => {
    const saved = process.env.SERFLOW_TRACE_DIR;
    process.env.SERFLOW_TRACE_DIR = tmpDir;
    try {
      assert.equal(defaultTraceDir(), tmpDir);
    } finally {
      if (saved === undefined) delete process.env.SERFLOW_TRACE_DIR;
      else process.env.SERFLOW_TRACE_DIR = saved;
    }
  });

  test('the file counts begin as in the files', () => {
    assert.deepEqual(loadTrace('wits').counts.slice(0, 3), [234, 325, 366]);
    assert.deepEqual(loadTrace('square').counts.slice(0, 3), [50, 50, 50]);
    assert.equal(loadTrace('wits').format, 'counts');
  });

  test('azure: real sub-second timestamps re-based to the first request, sorted, counts derived from them', () => {
    const azure = loadTrace('azure');
    assert.equal(azure.format, 'timestamps');
    const times = azure.timesMs!;
    assert.equal(times.length, 19_366);
    assert.ok(isSorted(times));
    // 2023-11-16 18:15:46.6805900, 18:15:50.9951690, 18:15:51.2224670: offsets keep the 7-digit fractions.
    assert.equal(times[0], 0);
    assert.ok(Math.abs(times[1]! - 4314.579) < 1e-6, `got ${times[1]}`);
    assert.ok(Math.abs(times[2]! - 4541.877) < 1e-6, `got ${times[2]}`);
    // Last row 19:14:08.4025270: 58 min 21.7219370 s after the first.
    assert.ok(Math.abs(times[times.length - 1]! - 3_501_721.937) < 1e-6);
    assert.equal(sum(azure.counts), 19_366);
    assert.equal(azure.counts[0], 1);
    // Rows at 4.3146, 4.5419 and 4.7104 s (18:15:50.99…, 51.22…, 51.39…) fall in second 4.
    assert.equal(azure.counts[4], 3);
  });

  test('loading the same file by path gives the same trace', () => {
    const byPath = loadTrace(path.join(defaultTraceDir(), TRACE_NAMES.square!));
    assert.deepEqual(byPath.counts, loadTrace('square').counts);
    assert.equal(byPath.name, 'square_load');
  });
});

describe('synthetic shapes (cumulative rounding of the rate)', () => {
  const cases: Array<{ spec: string; counts: number[] }> = [
    { spec: 'constant:rate=2,duration=4', counts: [2, 2, 2, 2] },
    // cum(t) = 0.5 t → ⌊0.5⌋−0, ⌊1⌋−⌊0.5⌋, ...
    { spec: 'constant:rate=0.5,duration=5', counts: [0, 1, 0, 1, 0] },
    { spec: 'step:from=1,to=5,at=3,duration=6', counts: [1, 1, 1, 5, 5, 5] },
    // at = 1.5: cum = 1, 1·1.5 + 3·0.5 = 3, 3 + 3 = 6.
    { spec: 'step:from=1,to=3,at=1.5,duration=3', counts: [1, 2, 3] },
    { spec: 'bursts:base=1,peak=10,every=4,length=2,duration=9', counts: [10, 10, 1, 1, 10, 10, 1, 1, 10] },
  ];
  for (const { spec, counts } of cases) {
    test(`${spec} → ${counts.join(',')}`, () => {
      const trace = loadTrace(spec);
      assert.deepEqual(trace.counts, counts);
      assert.equal(trace.durationS, counts.length);
      assert.equal(trace.format, 'synthetic');
      assert.equal(trace.name, spec);
    });
  }

  test('sine: counts follow mean + amplitude · sin(2πt/period) and total the integral', () => {
    // mean 10, amplitude 5, period 4: cum(t) = 10t + (10/π)(1 − cos(πt/2)).
    // cum(1) = 13.183, cum(2) = 26.366, cum(3) = 33.183, cum(4) = 40 → 13, 13, 7, 7.
    const trace = loadTrace('sine:mean=10,amplitude=5,period=4,duration=4');
    assert.deepEqual(trace.counts, [13, 13, 7, 7]);
    assert.equal(sum(loadTrace('sine:mean=10,amplitude=5,period=60,duration=600').counts), 6000);
  });

  test('counts are integers and deterministic; the total is the integral rounded down', () => {
    const spec = 'constant:rate=3.3,duration=100';
    const a = loadTrace(spec);
    assert.deepEqual(a.counts, loadTrace(spec).counts);
    assert.ok(a.counts.every((n) => Number.isInteger(n) && n >= 0));
    assert.equal(sum(a.counts), 330);
    // 0.57 · 100 = 56.99999999999999 in floating point; it must still count as 57 requests.
    assert.equal(sum(loadTrace('constant:rate=0.57,duration=100').counts), 57);
  });
});

describe('bad specs and files give TraceError with the file, line and problem', () => {
  const badSpecs: Array<{ spec: string; message: RegExp }> = [
    { spec: 'constant:rate=2', message: /missing duration/ },
    { spec: 'constant:rate=2,duration=4,speed=3', message: /unknown key "speed".*constant:rate=…,duration=…/ },
    { spec: 'constant:rate=-1,duration=4', message: /rate=-1 must be a non-negative number/ },
    { spec: 'constant:rate=x,duration=4', message: /rate=x must be a non-negative number/ },
    { spec: 'constant:rate=1,duration=2.5', message: /duration=2.5 must be a whole number/ },
    { spec: 'constant:rate=1,rate=2,duration=2', message: /key rate given twice/ },
    { spec: 'sine:mean=1,amplitude=2,period=10,duration=10', message: /amplitude=2 must not exceed mean=1/ },
    { spec: 'bursts:base=1,peak=5,every=2,length=3,duration=10', message: /length=3 must not exceed every=2/ },
    { spec: 'ramp:from=1,to=2', message: /unknown synthetic shape ramp.*constant:rate=R,duration=S/ },
    { spec: 'nosuchtrace', message: /no such trace name or file.*wits, sin, square, azure/ },
  ];
  for (const { spec, message } of badSpecs) {
    test(`${spec}: ${message.source}`, () => {
      assert.throws(
        () => loadTrace(spec),
        (err: unknown) => err instanceof TraceError && message.test(err.message),
      );
    });
  }

  test('a bad count line names the file and line; a blank final line and trailing spaces are fine', () => {
    const good = tmpFile('good.txt', '3\n4 \n5\n\n');
    assert.deepEqual(loadTrace(good).counts, [3, 4, 5]);
    const crlf = tmpFile('crlf.txt', '3\r\n4\r\n');
    assert.deepEqual(loadTrace(crlf).counts, [3, 4]);
    const bad = tmpFile('bad.txt', '3\n4\n-2\n5\n');
    assert.throws(
      () => loadTrace(bad),
      (err: unknown) =>
        err instanceof TraceError && err.message.includes(`${bad}, line 3`) && err.message.includes('"-2"'),
    );
    const blankInside = tmpFile('blank.txt', '3\n\n5\n');
    assert.throws(() => loadTrace(blankInside), /blank\.txt, line 2/);
    const fraction = tmpFile('fraction.txt', '3\n4.5\n');
    assert.throws(() => loadTrace(fraction), /line 2: expected a non-negative integer/);
    const empty = tmpFile('empty.txt', '\n');
    assert.throws(
      () => loadTrace(empty),
      (err: unknown) => err instanceof TraceError && /empty/.test(err.message),
    );
  });

  test('a bad CSV row names the file and line', () => {
    const csv = tmpFile(
      'bad.csv',
      'TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.6805900,1,2\r\n2023-11-16 25:00:00.0,1,2\r\n',
    );
    assert.throws(
      () => loadTrace(csv),
      (err: unknown) => err instanceof TraceError && err.message.includes(`${csv}, line 3`),
    );
    const noColumn = tmpFile('nocol.csv', 'when,tokens\n2023-11-16 18:15:46.6,1\n');
    assert.throws(() => loadTrace(noColumn), /nocol\.csv, line 1: expected a header with a TIMESTAMP column/);
    const badDate = tmpFile('baddate.csv', 'TIMESTAMP\n2023-02-31 10:00:00\n');
    assert.throws(() => loadTrace(badDate), /baddate\.csv, line 2/);
  });

  test('a CSV without header, with zones and unsorted rows is read, sorted and re-based', () => {
    const csv = tmpFile(
      'zones.csv',
      ['2023-11-16T10:00:02.5Z,1', '2023-11-16T11:00:00.25+01:00,1', '2023-11-16 10:00:00.0000001,1'].join('\n'),
    );
    const trace = loadTrace(csv);
    assert.equal(trace.timesMs!.length, 3);
    assert.ok(Math.abs(trace.timesMs![1]! - 249.9999) < 1e-9, `got ${trace.timesMs![1]}`);
    assert.ok(Math.abs(trace.timesMs![2]! - 2499.9999) < 1e-9, `got ${trace.timesMs![2]}`);
    assert.deepEqual(trace.counts, [2, 0, 1]);
  });
});

describe('windowTrace', () => {
  test('keeps [start, start + duration) of a count trace', () => {
    const w = windowTrace(countTrace([1, 2, 3, 4, 5]), 1, 3);
    assert.deepEqual(w.counts, [2, 3, 4]);
    assert.equal(w.durationS, 3);
    assert.deepEqual(windowTrace(countTrace([1, 2, 3, 4, 5]), 3).counts, [4, 5]);
  });

  test('re-bases timestamps to the window start', () => {
    const trace = timesTrace([100, 1500, 1999.5, 2000, 3100], 4);
    const w = windowTrace(trace, 1, 2);
    assert.deepEqual(w.timesMs, [500, 999.5, 1000]);
    assert.deepEqual(w.counts, [2, 1]);
  });

  test('on azure, the window total equals the sum of its per-second counts', () => {
    const azure = loadTrace('azure');
    const w = windowTrace(azure, 600, 600);
    assert.equal(w.timesMs!.length, sum(azure.counts.slice(600, 1200)));
    assert.ok(w.timesMs!.every((t) => t >= 0 && t < 600_000));
  });

  test('errors when the window is empty or outside the trace', () => {
    const trace = countTrace([1, 2, 3]);
    assert.throws(
      () => windowTrace(trace, 1, 0),
      (e: unknown) => e instanceof TraceError && /empty/.test(e.message),
    );
    assert.throws(() => windowTrace(trace, 3), /start is outside/);
    assert.throws(() => windowTrace(trace, -1, 2), /start is outside/);
    assert.throws(() => windowTrace(trace, 1, 3), /ends after the trace/);
    assert.throws(() => windowTrace(trace, 0.5, 1), /whole seconds/);
  });
});

describe('scaleTrace', () => {
  test('counts: cumulative rounding, deterministic, total = round(f · total)', () => {
    const trace = countTrace([3, 3, 3, 3]);
    // f = 0.5: running totals 3, 6, 9, 12 → round(1.5)=2, 3, round(4.5)=5, 6 → 2, 1, 2, 1.
    assert.deepEqual(scaleTrace(trace, 0.5, 1).counts, [2, 1, 2, 1]);
    assert.deepEqual(scaleTrace(trace, 2, 1).counts, [6, 6, 6, 6]);
    const wits = windowTrace(loadTrace('wits'), 0, 3600);
    for (const f of [0.37, 1, 2.5]) {
      const scaled = scaleTrace(wits, f, 7);
      assert.ok(Math.abs(sum(scaled.counts) - Math.round(f * sum(wits.counts))) <= 1);
      assert.deepEqual(scaled.counts, scaleTrace(wits, f, 99).counts);
      assert.equal(scaled.durationS, 3600);
    }
  });

  test('timestamps: integer factor copies every arrival; extra copies stay within 1 s and inside the trace', () => {
    const trace = timesTrace([0, 500, 2999.5], 3);
    const scaled = scaleTrace(trace, 3, 42);
    assert.equal(scaled.timesMs!.length, 9);
    assert.ok(isSorted(scaled.timesMs!));
    for (const t of [0, 500, 2999.5]) assert.ok(scaled.timesMs!.includes(t), `original ${t} kept`);
    assert.ok(scaled.timesMs!.every((t) => t >= 0 && t < 3000));
    assert.equal(scaled.durationS, 3);
    assert.equal(sum(scaled.counts), 9);
  });

  test('timestamps: the same seed gives the same trace, different seeds differ, totals near f · total', () => {
    const azure = loadTrace('azure');
    const a = scaleTrace(azure, 1.7, 1);
    const b = scaleTrace(azure, 1.7, 1);
    const c = scaleTrace(azure, 1.7, 2);
    assert.deepEqual(a.timesMs, b.timesMs);
    assert.notDeepEqual(a.timesMs, c.timesMs);
    // Binomial(19366, 0.7) extra copies: sd ≈ 64, so ± 400 is > 6 sd.
    assert.ok(Math.abs(a.timesMs!.length - 1.7 * 19_366) < 400, `got ${a.timesMs!.length}`);
    assert.equal(sum(a.counts), a.timesMs!.length);
    assert.equal(a.durationS, azure.durationS);
    const thinned = scaleTrace(azure, 0.25, 3);
    assert.ok(Math.abs(thinned.timesMs!.length - 0.25 * 19_366) < 400);
    const original = new Set(azure.timesMs);
    assert.ok(
      thinned.timesMs!.every((t) => original.has(t)),
      'thinning keeps only original arrivals',
    );
  });

  test('rejects a non-positive factor', () => {
    assert.throws(() => scaleTrace(countTrace([1]), 0, 1), TraceError);
    assert.throws(() => scaleTrace(countTrace([1]), Number.NaN, 1), TraceError);
  });
});

describe('arrivalTimesMs', () => {
  const trace = countTrace([2, 0, 4]);

  test('uniform: n arrivals at t·1000 + (i + 0.5)·1000/n', () => {
    assert.deepEqual(Array.from(arrivalTimesMs(trace, 'uniform', 1)), [250, 750, 2125, 2375, 2625, 2875]);
  });

  test('epoch-start: all at t·1000', () => {
    assert.deepEqual(Array.from(arrivalTimesMs(trace, 'epoch-start', 1)), [0, 0, 2000, 2000, 2000, 2000]);
  });

  test('random: seeded, sorted, inside their second', () => {
    const a = arrivalTimesMs(trace, 'random', 5);
    assert.equal(a.length, 6);
    assert.ok(isSorted(a));
    assert.ok(a[0]! >= 0 && a[1]! < 1000);
    assert.ok(Array.from(a.subarray(2)).every((t) => t >= 2000 && t < 3000));
    assert.deepEqual(a, arrivalTimesMs(trace, 'random', 5));
    assert.notDeepEqual(a, arrivalTimesMs(trace, 'random', 6));
  });

  test('timestamp traces give their own times whatever the placement', () => {
    const ts = timesTrace([10, 20.5, 1500], 2);
    for (const p of ['uniform', 'random', 'epoch-start'] as const) {
      assert.deepEqual(Array.from(arrivalTimesMs(ts, p, 1)), [10, 20.5, 1500]);
    }
  });

  // Its speed (2 s per placement at most) is a benchmark target: bench/sim-speed.ts measures it.
  test('on WITS (45,000 s, 6.4 M requests) every placement is sorted and complete', () => {
    const wits = loadTrace('wits');
    for (const p of ['uniform', 'random', 'epoch-start'] as const) {
      const times = arrivalTimesMs(wits, p, 1);
      assert.equal(times.length, 6_432_107);
      assert.ok(isSorted(times), p);
      assert.ok(times[times.length - 1]! < 45_000_000);
    }
  });
});

describe('parseExitSchedule / exitSharesAt', () => {
  test('parses profile and share entries and looks them up by time', () => {
    const schedule = parseExitSchedule('0=profile;1800=0.2,0.3,0.3,0.2;3600=0,0,0,1', 4);
    assert.equal(schedule.length, 3);
    const profile = [0.5, 0.2, 0.2, 0.1];
    assert.deepEqual(exitSharesAt(schedule, 0, profile), profile);
    assert.deepEqual(exitSharesAt(schedule, 1799.9, profile), profile);
    assert.deepEqual(exitSharesAt(schedule, 1800, profile), [0.2, 0.3, 0.3, 0.2]);
    assert.deepEqual(exitSharesAt(schedule, 1e9, profile), [0, 0, 0, 1]);
  });

  test('normalises shares to sum exactly 1', () => {
    const [entry] = parseExitSchedule('0=0.1,0.2,0.3,0.4000005', 4);
    const shares = entry!.exitShares as number[];
    assert.equal(
      shares.reduce((s, x) => s + x, 0),
      1,
    );
    assert.ok(Math.abs(shares[3]! - 0.4000005 / 1.0000005) < 1e-12);
    const [thirds] = parseExitSchedule('0=0.3333333,0.3333333,0.3333334', 3);
    assert.equal(
      (thirds!.exitShares as number[]).reduce((s, x) => s + x, 0),
      1,
    );
  });

  const bad: Array<{ spec: string; message: RegExp }> = [
    { spec: '10=profile', message: /entry 1 "10=profile": the first entry must be at time 0/ },
    { spec: '0=profile;600=0.5,0.5', message: /entry 2 "600=0.5,0.5": 2 shares given, the model has 3 stages/ },
    { spec: '0=profile;600=0.5,0.4,0.2', message: /entry 2 .*sum to 1.1/ },
    { spec: '0=profile;600=0.5,-0.1,0.6', message: /share "-0.1" must be a number ≥ 0/ },
    { spec: '0=profile;600=profile;300=profile', message: /entry 3 .*times must ascend, but 300 s follows 600 s/ },
    { spec: '0=profile;;600=profile', message: /entry 2 "": missing "="/ },
    { spec: '0=profile;x=profile', message: /time "x" must be a number/ },
    { spec: '0=', message: /the value is empty/ },
  ];
  for (const { spec, message } of bad) {
    test(`${spec}: ${message.source}`, () => {
      assert.throws(
        () => parseExitSchedule(spec, 3),
        (err: unknown) => err instanceof ScheduleError && message.test(err.message),
      );
    });
  }
});

describe('parseMixSchedule / mixAt', () => {
  test('parses mixes and looks them up by time', () => {
    const schedule = parseMixSchedule('0=all;600=noise:0.4;1200=classes:0,1');
    assert.deepEqual(schedule, [
      { atS: 0, mix: 'all' },
      { atS: 600, mix: 'noise:0.4' },
      { atS: 1200, mix: 'classes:0,1' },
    ]);
    assert.equal(mixAt(schedule, 599), 'all');
    assert.equal(mixAt(schedule, 600), 'noise:0.4');
    assert.equal(mixAt(schedule, 5000), 'classes:0,1');
  });

  test('a bad mix names the entry and keeps the input-mix error as cause', () => {
    assert.throws(
      () => parseMixSchedule('0=all;600=noise:4'),
      (err: unknown) =>
        err instanceof ScheduleError &&
        /entry 2 "600=noise:4": input mix noise:4: noise must be in \[0, 1\]/.test(err.message) &&
        err.cause instanceof Error,
    );
    assert.throws(() => parseMixSchedule('0=blur:3'), /entry 1 .*unknown part "blur:3"/);
    assert.throws(() => parseMixSchedule('5=all'), ScheduleError);
  });
});
