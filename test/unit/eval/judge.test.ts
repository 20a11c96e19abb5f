/**
 * eval/report/judge.ts: SERFLOW's verdict per member (cheapest other policy, ratios, bound, SLO against LIBRA), the
 * per-shape distribution (median, worst) and the three targets, on small hand-made runs whose figures are
 * computed by hand in the comments; and the report built from them (judge-write.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BILL_VIEWS,
  judgeTargets,
  median,
  memberVerdicts,
  safeRatio,
  summarize,
  type BillViewSpec,
  type JudgePolicyFigures,
  type JudgeRun,
} from '../../../eval/report/judge';
import {
  baseRateTable,
  judgeDocument,
  judgeReport,
  membersDocument,
  writeJudgeDir,
} from '../../../eval/report/judge-write';
import { toMarkdown } from '../../../eval/report/markdown';

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

/** A policy's figures: VM $, serverless $, orchestration $, SLO attainment. */
function f(vm: number, sl: number, orch: number, slo: number): JudgePolicyFigures {
  return {
    totalUsd: vm + sl + orch,
    vmUsd: vm,
    serverlessUsd: sl,
    orchestrationUsd: orch,
    computeUsd: vm + sl,
    sloAttainment: slo,
  };
}

function run(
  member: string,
  group: string,
  policies: Record<string, JudgePolicyFigures>,
  bound: [number, number] | null,
): JudgeRun {
  return {
    member,
    group,
    profile: 'p',
    pricing: 'temporal-cloud',
    policies,
    bound: bound ? { totalUsd: bound[0], computeUsd: bound[1] } : null,
  };
}

const view = (v: string) => BILL_VIEWS.find((x) => x.view === v) as BillViewSpec;

/**
 * Four members of one group (orchestration 8 $ for everyone):
 *   a: SERFLOW 1+1 = 2 (total 10), LIBRA 2+1 = 3 (11), FaaS-only 0+1.5 = 1.5 (9.5); bound 9 (compute 1)
 *   b: SERFLOW 0+2 = 2 (10),       LIBRA 3+0 = 3 (11), FaaS-only 0+2 = 2 (10);     bound 9.5 (compute 1.6)
 *   c: SERFLOW 4+0 = 4 (12),       LIBRA 4+1 = 5 (13), FaaS-only 0+6 = 6 (14);     bound 11 (compute 3)
 *   d: SERFLOW 1+0 = 1 (9),        LIBRA 1+0.5 (9.5),  FaaS-only 0+3 = 3 (11);     bound 8.8 (compute 0.8)
 */
const RUNS: JudgeRun[] = [
  run('a', 'mmpp', { serflow: f(1, 1, 8, 0.999), libra: f(2, 1, 8, 0.9999), 'faas-only': f(0, 1.5, 8, 0.998) }, [9, 1]),
  run(
    'b',
    'mmpp',
    { serflow: f(0, 2, 8, 0.9999), libra: f(3, 0, 8, 0.9999), 'faas-only': f(0, 2, 8, 0.9999) },
    [9.5, 1.6],
  ),
  run('c', 'mmpp', { serflow: f(4, 0, 8, 0.99), libra: f(4, 1, 8, 0.999), 'faas-only': f(0, 6, 8, 0.999) }, [11, 3]),
  run('d', 'flash', { serflow: f(1, 0, 8, 1), libra: f(1, 0.5, 8, 1), 'faas-only': f(0, 3, 8, 1) }, [8.8, 0.8]),
];

describe('ratios', () => {
  test('safeRatio: a/b, equal zeros are 1, x/0 is ∞', () => {
    assert.equal(safeRatio(3, 2), 1.5);
    assert.equal(safeRatio(0, 0), 1);
    assert.equal(safeRatio(1, 0), Infinity);
  });
  test('median: the middle value, or the mean of the two middle ones', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('verdicts per member', () => {
  test('whole bill: the cheapest other policy and the ratios', () => {
    const vs = memberVerdicts(RUNS, view('temporal-cloud'));
    assert.deepEqual(
      vs.map((v) => [v.member, v.cheapestOther, v.cheapestOtherUsd]),
      [
        ['a', 'faas-only', 9.5],
        ['b', 'faas-only', 10],
        ['c', 'libra', 13],
        ['d', 'libra', 9.5],
      ],
    );
    near(vs[0]!.ratioToCheapest, 10 / 9.5, 'a to cheapest');
    near(vs[0]!.ratioToBound!, 10 / 9, 'a to bound');
    near(vs[2]!.ratioToCheapest, 12 / 13, 'c to cheapest');
    assert.equal(vs[0]!.libraSlo, 0.9999);
  });

  test('compute only: VM + serverless, and the bound’s compute', () => {
    const vs = memberVerdicts(RUNS, view('compute'));
    assert.deepEqual(
      vs.map((v) => [v.member, v.serflowUsd, v.cheapestOther, v.cheapestOtherUsd, v.boundUsd]),
      [
        ['a', 2, 'faas-only', 1.5, 1],
        ['b', 2, 'faas-only', 2, 1.6],
        ['c', 4, 'libra', 5, 3],
        ['d', 1, 'libra', 1.5, 0.8],
      ],
    );
    near(vs[0]!.ratioToCheapest, 4 / 3, 'a');
    near(vs[0]!.ratioToBound!, 2, 'a to bound');
    near(vs[1]!.ratioToBound!, 1.25, 'b to bound');
  });

  test('a view reads only the runs of its pricing', () => {
    assert.equal(memberVerdicts(RUNS, view('self-hosted')).length, 0);
  });
});

describe('distribution per group and the targets', () => {
  const vs = memberVerdicts(RUNS, view('compute'));
  const summaries = summarize(vs);

  test('per group: median and worst of each ratio, min SLO and min SLO − LIBRA', () => {
    const mmpp = summaries.find((s) => s.group === 'mmpp');
    assert.ok(mmpp);
    assert.equal(mmpp.members, 3);
    // to cheapest: a 4/3, b 1, c 0.8 → median 1, worst 4/3 (a)
    near(mmpp.ratioToCheapest.median, 1, 'median to cheapest');
    near(mmpp.ratioToCheapest.worst!.value, 4 / 3, 'worst to cheapest');
    assert.equal(mmpp.ratioToCheapest.worst!.member, 'a');
    assert.equal(mmpp.overCheapestTarget, 1);
    assert.deepEqual(mmpp.cheapestOtherCounts, { 'faas-only': 2, libra: 1 });
    // to bound: a 2, b 1.25, c 4/3 → median 4/3, worst 2 (a)
    near(mmpp.ratioToBound.median, 4 / 3, 'median to bound');
    assert.deepEqual(mmpp.ratioToBound.worst, { value: 2, member: 'a' });
    assert.deepEqual(mmpp.minSlo, { value: 0.99, member: 'c' });
    // SERFLOW − LIBRA: a −0.0009, b 0, c −0.009 → c
    near(mmpp.minSloMinusLibra!.value, 0.99 - 0.999, 'min SLO − LIBRA');
    assert.equal(mmpp.minSloMinusLibra!.member, 'c');
  });

  test('group all: every member; an even count takes the mean of the middle two', () => {
    const all = summaries.find((s) => s.group === 'all');
    assert.ok(all);
    assert.equal(all.members, 4);
    // to bound: 2, 1.25, 4/3, 1.25 → sorted 1.25, 1.25, 1.333, 2 → median (1.25 + 4/3) / 2
    near(all.ratioToBound.median, (1.25 + 4 / 3) / 2, 'median of four');
  });

  test('targets: the failing ones say so with their figures', () => {
    const t = judgeTargets(vs);
    assert.equal(t.length, 3);
    const [cheap, bound, slo] = t as [(typeof t)[0], (typeof t)[0], (typeof t)[0]];
    assert.equal(cheap.met, false);
    assert.match(cheap.detail, /worst 1\.333× \(a, cheapest other faas-only\)/);
    assert.match(cheap.detail, /1 of 4 members above 1\.02×/);
    assert.equal(bound.met, false);
    assert.match(bound.detail, /worst 2\.000× \(a\)/);
    assert.equal(slo.met, false);
    assert.match(slo.detail, /min 99\.000 % \(c\), 1 of 4 below 99\.5 %/);
    assert.match(slo.detail, /2 members more than 0\.05 points below LIBRA/);
  });

  test('targets met on members that meet them', () => {
    // SERFLOW 1.0 vs cheapest 1.01 (ratio 0.990); bound 0.95 → 1.053; SLO 99.9 % vs LIBRA 99.93 % (−0.03 points)
    const good = [
      run('x', 'mmpp', { serflow: f(0.5, 0.5, 0, 0.999), libra: f(1.01, 0, 0, 0.9993) }, [0.95, 0.95]),
      run('y', 'mmpp', { serflow: f(0.5, 0.5, 0, 0.9995), libra: f(1.2, 0, 0, 0.9995) }, [0.8, 0.8]),
    ];
    // ratio to bound: 1.0526 and 1.25 → median 1.151 > 1.15: the median fails, the worst (1.25 ≤ 1.3) does not
    const t = judgeTargets(memberVerdicts(good, view('compute')));
    assert.deepEqual(
      t.map((x) => x.met),
      [true, false, true],
    );
    const t2 = judgeTargets(memberVerdicts([good[0]!], view('compute')));
    assert.deepEqual(
      t2.map((x) => x.met),
      [true, true, true],
    );
  });
});

describe('the report', () => {
  const r = judgeReport({
    createdAt: '2026-12-01T00:00:00.000Z',
    command: 'serflow judge',
    git: null,
    machine: {},
    wallS: 1,
    family: { name: 'test' },
    sharedTraces: [],
    seed: 1,
    profiles: [{ model: 'p', sloMs: 200 }],
    pricings: ['temporal-cloud'],
    usdPerAction: { 'temporal-cloud': 2.5e-5 },
    policies: ['serflow', 'libra', 'faas-only'],
    cases: ['a', 'b', 'c', 'd'].map((id) => ({
      id,
      group: id === 'd' ? 'flash' : 'mmpp',
      // a and b at 2 q/s, c and d at 10 q/s
      baseRate: id === 'a' || id === 'b' ? 2 : 10,
      source: `spec-${id}`,
      durationS: 60,
      queries: 60,
      meanRate: 1,
      peakRate: 2,
    })),
    runs: RUNS,
    setupNotes: {},
  });
  test('carries verdicts, summaries and targets for every view of the pricings run, and renders', () => {
    // temporal-cloud and compute read the Temporal Cloud runs; self-hosted has none
    assert.deepEqual([...new Set(r.verdicts.map((v) => v.view))], ['temporal-cloud', 'compute']);
    assert.equal(r.targets.length, 6);
    const md = toMarkdown(judgeDocument(r));
    assert.match(md, /## mmpp: 3 members/);
    assert.match(md, /judge-mmpp\.svg/);
    assert.match(md, /NOT met/);
    assert.match(toMarkdown(membersDocument(r)), /spec-a/);
  });

  test('medians by shape and base rate', () => {
    const t = baseRateTable(r);
    assert.ok(t.type === 'table');
    assert.deepEqual(t.header.slice(0, 7), [
      'shape',
      'base q/s',
      'profile',
      'members',
      'Temporal Cloud: SERFLOW / cheapest',
      'SERFLOW / bound',
      'cheapest other / bound',
    ]);
    // mmpp at 2 q/s: a and b. Temporal Cloud: to cheapest 10/9.5 and 10/10 → median 1.026; to bound 10/9 and 10/9.5 →
    // 1.082; cheapest other / bound 9.5/9 and 10/9.5 → 1.054. Compute: 4/3 and 1 → 1.167; 2 and 1.25 → 1.625;
    // 1.5 and 1.25 → 1.375
    assert.deepEqual(t.rows[0], ['mmpp', '2', 'p', '2', '1.026', '1.082', '1.054', '1.167', '1.625', '1.375']);
    // mmpp at 10 q/s: c alone (12/13, 12/11, 13/11; compute 0.8, 4/3, 5/3); then flash at 10 q/s: d
    assert.deepEqual(t.rows[1], ['mmpp', '10', 'p', '1', '0.923', '1.091', '1.182', '0.800', '1.333', '1.667']);
    assert.deepEqual(
      t.rows.map((row) => row.slice(0, 2)),
      [
        ['mmpp', '2'],
        ['mmpp', '10'],
        ['flash', '10'],
      ],
    );
  });

  test('writes report.json, the pages and one box/strip plot per shape', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-judge-'));
    try {
      const written = await writeJudgeDir(dir, r);
      assert.deepEqual(
        written.map((f) => path.basename(f)),
        ['report.json', 'index.md', 'index.html', 'members.md', 'judge-mmpp.svg', 'judge-flash.svg'],
      );
      const svg = fs.readFileSync(path.join(dir, 'judge-mmpp.svg'), 'utf8');
      assert.match(svg, /^<svg/);
      assert.match(svg, /SERFLOW \/ cheapest other policy/);
      assert.equal(
        (JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as { kind: string }).kind,
        'judge',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
