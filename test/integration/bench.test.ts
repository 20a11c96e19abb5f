/**
 * `serflow bench` end to end, through the real command: a short synthetic trace replayed live on a fresh stack per
 * policy (real Temporal, NATS, workers, cloud agent, autoscaler), then the report directory it writes. The load is
 * kept low (2 q/s of trace time at time scale 10 = 20 queries per wall second for 2 s) so the run is about the
 * plumbing (every query accounted for, the ledger's money, the series, the plots), not about this machine's limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../common/paths';
import type { ComparisonReport, ComparisonSeries } from '../../eval/report/types';
import { REPORT_FILES } from '../../eval/report/render';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const TRACE = 'constant:rate=2,duration=20';
const TRACE_QUERIES = 40;
let home: string;
let env: NodeJS.ProcessEnv;

function serflow(...args: string[]) {
  return run(process.execPath, [SERFLOW, ...args], { env, cwd: home, timeout: 240_000, maxBuffer: 16 << 20 });
}

before(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-bench-test-'));
  env = { ...process.env, SERFLOW_HOME: home };
  delete env.TEMPORAL_ADDRESS;
  delete env.NATS_URL;
});

after(() => fs.rmSync(home, { recursive: true, force: true }));

test('bad options are refused before any stack starts, naming the option', async () => {
  const fails = async (args: string[], pattern: RegExp) => {
    const err = (await serflow('bench', ...args).then(
      () => assert.fail(`bench ${args.join(' ')} should fail`),
      (e: unknown) => e,
    )) as { stderr: string; code: number };
    assert.notEqual(err.code, 0);
    assert.match(err.stderr, pattern);
  };
  await fails(['--trace', 'no-such-trace'], /--trace: trace "no-such-trace": no such trace name or file/);
  await fails(['--trace', TRACE, '--policies', 'serflow,nope'], /--policies.*unknown policy "nope"/);
  await fails(['--trace', TRACE, '--slo', 'fast'], /--slo.*expected a duration/);
  await fails(['--trace', TRACE, '--duration', '30'], /--start \/ --duration: .*ends after the trace/);
});

test('serflow,faas-only on a constant trace: a complete report directory with both policies', async () => {
  const out = path.join(home, 'report');
  const { stdout } = await serflow(
    'bench',
    '--trace',
    TRACE,
    '--policies',
    'serflow,faas-only',
    '--time-scale',
    '10',
    '--slo',
    '1500ms',
    '--out',
    out,
  );
  assert.match(stdout, /^serflow\s+\d/m, 'the table has a serflow row');
  assert.match(stdout, /^faas-only\s+\d/m, 'the table has a faas-only row');
  assert.ok(stdout.includes(`report: ${out}`), 'the report path is printed');

  const report = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.report), 'utf8')) as ComparisonReport;
  assert.equal(report.kind, 'bench');
  assert.equal(report.bound, null);
  assert.equal(report.timeScale, 10);
  assert.equal(report.sloMs, 1500);
  assert.equal(report.trace.queries, TRACE_QUERIES);
  assert.deepEqual(Object.keys(report.policies), ['serflow', 'faas-only']);
  const series = JSON.parse(fs.readFileSync(path.join(out, REPORT_FILES.series), 'utf8')) as ComparisonSeries;
  for (const f of Object.values(report.policies)) {
    assert.ok(f.totalUsd > 0, `${f.policy}: total ${f.totalUsd} > 0`);
    assert.equal(f.queries, TRACE_QUERIES, `${f.policy}: every arrival of the trace was sent`);
    assert.equal(f.completed + f.failed, f.queries, `${f.policy}: every query is completed or failed`);
    // SLO attainment a second way: the series' latency CDF (sim/figures.ts latencyCdf over the completed queries,
    // share of all queries) at the SLO; with 40 queries the CDF keeps every point, so the two agree exactly.
    const cdf = series.policies[f.policy]!.latencyCdf;
    const atSlo = cdf.filter(([ms]) => ms <= report.sloMs).at(-1)?.[1] ?? 0;
    assert.ok(
      Math.abs(f.sloAttainment - atSlo) < 1e-9,
      `${f.policy}: SLO attainment ${f.sloAttainment} vs CDF ${atSlo}`,
    );
    const within = f.sloAttainment * f.queries;
    assert.ok(Math.abs(within - Math.round(within)) < 1e-9, `${f.policy}: a whole number of queries within the SLO`);
    assert.ok(Math.round(within) <= f.completed, `${f.policy}: only completed queries meet the SLO`);
    assert.ok(
      Math.abs(f.totalUsd - f.vmUsd - f.serverlessUsd - f.orchestrationUsd) < 1e-12,
      `${f.policy}: total = VM + serverless + orchestration`,
    );
    assert.ok(f.actionsPerQuery >= 3, `${f.policy}: ${f.actionsPerQuery} actions per query (at least 3)`);
    assert.equal(f.costRatioToBound, null);
    const executions = f.stageExecutions.reduce((n, s) => n + s.vm + s.serverless, 0);
    assert.ok(executions >= f.completed, `${f.policy}: at least one stage execution per completed query`);
    const first = f.stageExecutions[0]!.vm + f.stageExecutions[0]!.serverless;
    assert.ok(first >= f.completed && first <= f.queries, `${f.policy}: ${first} stage-1 executions`);
  }
  const faas = report.policies['faas-only']!;
  assert.equal(faas.vmUsd, 0, 'faas-only pays for no VM');
  assert.equal(faas.serverlessExecutionShare, 1, 'faas-only runs every stage serverless');
  // The ratio is defined as that division (eval/report/types.ts); what can go wrong is its direction or its base.
  assert.equal(report.policies.serflow!.costRatioToSerflow, 1, 'SERFLOW against itself');
  assert.equal(faas.costRatioToSerflow, faas.totalUsd / report.policies.serflow!.totalUsd);
  // The simulator's mirror of the same run is compared with it: cost and SLO attainment, per policy. Whether they
  // agree is a measurement (a target, reported met or not: the committed bench/results/bench-* runs miss the cost
  // one by 16-35 %, and this test's burst of 20 q/s wall on 2 cores is far from what the simulator models), so the
  // test checks the verdict is right for the figures: the live figure is this report's, and `met` holds exactly
  // when |simulated − live| ≤ 10 % of live.
  const agreement = report.targets.filter((x) => x.name.startsWith('simulator agrees'));
  assert.equal(agreement.length, 4, JSON.stringify(report.targets));
  for (const a of agreement) {
    const m = /^simulated \$?([\d.e+-]+)( %)? vs live \$?([\d.e+-]+)( %)? /.exec(a.detail);
    assert.ok(m, a.detail);
    const percent = m[2] !== undefined;
    const sim = Number(m[1]) / (percent ? 100 : 1);
    const live = Number(m[3]) / (percent ? 100 : 1);
    const policy = Object.keys(report.policies).find((p) => a.name.includes(` on ${p} `))!;
    const f = report.policies[policy]!;
    const liveFigure = percent ? f.sloAttainment : f.vmUsd + f.serverlessUsd;
    assert.ok(Math.abs(live - liveFigure) <= 1e-3 * Math.max(Math.abs(liveFigure), 1e-9) + 5e-5, `${a.name}: live`);
    const off = live === 0 ? (sim === 0 ? 0 : Infinity) : Math.abs(sim - live) / Math.abs(live);
    // The detail's figures are rounded (4 significant digits): no verdict is checked within 0.5 % of the line.
    if (Math.abs(off - 0.1) > 0.005) assert.equal(a.met, off <= 0.1, `${a.name}: ${a.detail}`);
  }

  assert.equal(series.timeS.length, 20, 'one sample per trace second');
  assert.ok(series.arrivalRate.every((r) => r === 2));
  for (const [name, s] of Object.entries(series.policies)) {
    assert.equal(s.cumulativeUsd.length, series.timeS.length);
    assert.equal(s.cumulativeUsd.at(-1), report.policies[name]!.totalUsd, `${name}: cumulative cost ends at the total`);
    assert.ok(
      s.cumulativeUsd.every((x, i) => i === 0 || x >= s.cumulativeUsd[i - 1]!),
      `${name}: cost never falls`,
    );
  }

  for (const file of [
    REPORT_FILES.costOverTime,
    REPORT_FILES.vmsPerStage,
    REPORT_FILES.latencyCdf,
    REPORT_FILES.arrivals,
  ]) {
    const svg = fs.readFileSync(path.join(out, file), 'utf8');
    assert.match(svg, /^<svg/, `${file} is an SVG`);
  }
  assert.ok(fs.existsSync(path.join(out, REPORT_FILES.markdown)));
  assert.ok(fs.existsSync(path.join(out, REPORT_FILES.html)));
});
