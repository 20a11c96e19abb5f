/**
 * sim/measured-handoff.ts: the simulator's hand-off is the one in the benchmark's result file, with that file's
 * provenance, not a figure typed into the simulator.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { compileConfig } from '../../../common/config';
import { PROJECT_ROOT } from '../../../common/paths';
import { quantileOf } from '../../../sim/sampler';
import {
  delayedAfterMs,
  handoffP99,
  InvalidHandoffResultError,
  loadMeasuredHandoff,
  OVERHEAD_RESULT_FILE,
  parseHandoffResult,
} from '../../../sim/measured-handoff';
import { setupFromConfig } from '../../../sim/setup';

const PROVENANCE = {
  command: 'node lib/bench/overhead.js --samples 300',
  timestamp: '2026-12-01T00:00:00.000Z',
  git: { commit: '0123456789abcdef', dirty: false },
  machine: { cpus: 2, cpuModel: 'Test CPU' },
};

describe('the measured hand-off', () => {
  test('is the committed bench/results/overhead.json, read as JSON here, with its provenance', () => {
    const file = path.join(PROJECT_ROOT, 'bench', 'results', 'overhead.json');
    assert.equal(OVERHEAD_RESULT_FILE, file);
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      command: string;
      git: { commit: string };
      overheadPerStageMs: { p50: number; p95: number; p99?: number };
    };
    const h = loadMeasuredHandoff();
    assert.equal(h.p50, raw.overheadPerStageMs.p50);
    assert.equal(h.p95, raw.overheadPerStageMs.p95);
    if (raw.overheadPerStageMs.p99 !== undefined) assert.equal(h.p99, raw.overheadPerStageMs.p99);
    assert.equal(h.p99Source, raw.overheadPerStageMs.p99 !== undefined ? 'measured' : 'log-normal');
    assert.equal(h.command, raw.command);
    assert.equal(h.commit, raw.git.commit);
    assert.equal(h.file, path.join('bench', 'results', 'overhead.json'));
  });

  test('drives the simulator: its hand-off sampler has the file’s quantiles and the notes cite the file', () => {
    const h = loadMeasuredHandoff();
    const setup = setupFromConfig(compileConfig({}), 'mnist-ee');
    for (const [q, want] of [
      [0.5, h.p50],
      [0.95, h.p95],
      [0.99, h.p99],
    ] as const)
      // The sampler's table is quantized (sim.test.ts holds it to 1-2 %).
      assert.ok(Math.abs(quantileOf(setup.platform.handoff, q) - want) <= 0.02 * want, `q${q}: ${want}`);
    assert.ok(
      setup.notes.some((n) => n.includes('bench/results/overhead.json') && n.includes(h.commit.slice(0, 10))),
      setup.notes.join('\n'),
    );
    // A given hand-off replaces it, and the notes say so.
    const given = setupFromConfig(compileConfig({}), 'mnist-ee', { handoffMs: { p50: 1, p95: 2, p99: 3 } });
    assert.ok(Math.abs(quantileOf(given.platform.handoff, 0.95) - 2) <= 0.02 * 2);
    assert.ok(given.notes.some((n) => n.includes('not the measured one')));
  });

  test('p99 missing from the file: the log-normal through p50 and p95, computed by hand', () => {
    // ln 53.33 = ln 20 + ln 2 × 2.3263 / 1.6449 = 2.9957 + 0.6931 × 1.41428 = 3.9760 → 53.31
    assert.ok(Math.abs(handoffP99(20, 40) - 20 * 2 ** (2.3263478740408408 / 1.6448536269514722)) < 1e-9);
    assert.ok(Math.abs(handoffP99(20, 40) - 53.31) < 0.01);
    assert.ok(Math.abs(handoffP99(30, 30) - 30) < 1e-9, 'no spread: p99 = p50');
    const h = parseHandoffResult({ ...PROVENANCE, overheadPerStageMs: { p50: 20, p95: 40 } }, '/x/overhead.json');
    assert.equal(h.p99, 53.31);
    assert.equal(h.p99Source, 'log-normal');
    const m = parseHandoffResult({ ...PROVENANCE, overheadPerStageMs: { p50: 20, p95: 40, p99: 70 } }, '/x/o.json');
    assert.deepEqual([m.p99, m.p99Source], [70, 'measured']);
  });

  test('a file without the figures, their provenance, or in order is refused, naming the field', () => {
    const bad = [
      [{ ...PROVENANCE, overheadPerStageMs: { p50: null, p95: 40 } }, /overheadPerStageMs\.p50/],
      [{ ...PROVENANCE, git: undefined, overheadPerStageMs: { p50: 20, p95: 40 } }, /git/],
      [{ ...PROVENANCE, command: '', overheadPerStageMs: { p50: 20, p95: 40 } }, /command/],
      [{ ...PROVENANCE, overheadPerStageMs: { p50: 50, p95: 40 } }, /out of order/],
    ] as const;
    for (const [raw, message] of bad)
      assert.throws(() => parseHandoffResult(raw, '/x/overhead.json'), { name: 'InvalidHandoffResultError', message });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-handoff-'));
    try {
      assert.throws(() => loadMeasuredHandoff(path.join(dir, 'none.json')), InvalidHandoffResultError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('"delayed" starts at the measured p95 rounded up to 10 ms', () => {
    assert.equal(delayedAfterMs({ p95: 40.33 }), 50);
    assert.equal(delayedAfterMs({ p95: 44.1 }), 50);
    assert.equal(delayedAfterMs({ p95: 50 }), 50);
    assert.equal(delayedAfterMs({ p95: 50.01 }), 60);
  });
});
