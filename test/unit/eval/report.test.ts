/**
 * The report directory writer (eval/report/write.ts, through render.ts): a synthetic run of three policies on a
 * 600 s trace, 10 s steps, pools 0..3 of which pool 2 never has a VM. The plots are rendered by the real Vega /
 * Vega-Lite.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  REPORT_FILES,
  downsampleIndices,
  escapeHtml,
  formatNumber,
  formatUsd,
  writeReportDir,
} from '../../../eval/report/render';
import { NO_ACTIONS } from '../../../billing/actions';
import { checkTargets } from '../../../eval/report/targets';
import {
  REPORT_VERSION,
  type ComparisonReport,
  type ComparisonSeries,
  type PolicyFigures,
  type PolicySeries,
} from '../../../eval/report/types';

const STEPS = 61; // 0, 10, ..., 600 s
const timeS = Array.from({ length: STEPS }, (_, i) => i * 10);

function figures(policy: string, over: Partial<PolicyFigures>): PolicyFigures {
  return {
    policy,
    queries: 3000,
    completed: 3000,
    failed: 0,
    totalUsd: 1,
    vmUsd: 1,
    serverlessUsd: 0,
    orchestrationUsd: 0,
    actions: 0,
    actionsPerQuery: 0,
    actionCounts: { ...NO_ACTIONS },
    usdPer1kQueries: 0.333,
    sloAttainment: 1,
    latencyMs: { p50: 40, p95: 90, p99: 120, mean: 50, max: 300 },
    vmHours: 0.5,
    vmSeconds: 1800,
    peakVms: 3,
    vmIdleShare: 0.4,
    serverlessExecutionShare: 0,
    queriesByVm: 3000,
    queriesByServerless: 0,
    stageExecutions: [],
    delay: { delayed: 0, delayedShare: 0, meanS: 0, p99S: 0, maxS: 0 },
    costRatioToSerflow: 1,
    costRatioToBound: 1,
    notes: [],
    ...over,
  };
}

function policySeries(policy: string, totalUsd: number, vms: Record<string, number[]>, ms0: number): PolicySeries {
  return {
    policy,
    cumulativeUsd: timeS.map((t) => (totalUsd * t) / 600),
    vmsByPool: vms,
    latencyCdf: Array.from({ length: 50 }, (_, i): [number, number] => [ms0 * (1 + i / 10), (i + 1) / 50]),
  };
}

const zeros = () => timeS.map(() => 0);
const ramp = (peak: number) => timeS.map((_, i) => Math.min(peak, Math.floor(i / 10)));

const report: ComparisonReport = {
  v: REPORT_VERSION,
  kind: 'sim',
  createdAt: '2025-01-01T00:00:00.000Z',
  command: 'serflow sim --trace azure-fn-2019 --policies serflow,libra,faas-only --slo 500',
  trace: {
    name: 'azure-fn-2019',
    source: 'traces/azure.csv',
    rateFactor: 2,
    startS: 0,
    durationS: 600,
    queries: 3000,
    meanRate: 5,
    peakRate: 12.5,
  },
  model: 'ee-resnet',
  preset: 'libra-ic2e',
  sloMs: 500,
  seed: 42,
  timeScale: 1,
  orchestration: {
    pricing: 'none',
    usdPerAction: 0,
    counted: 'modelled',
    basis: 'modelled from the executed stages',
  },
  policies: {
    serflow: figures('serflow', {
      totalUsd: 0.000471,
      vmUsd: 0.0003,
      serverlessUsd: 0.000171,
      usdPer1kQueries: 0.000157,
      sloAttainment: 0.9987,
      latencyMs: { p50: 41.25, p95: 180.4, p99: 1234.5, mean: 60, max: 2000 },
      vmHours: 0.0123,
      vmIdleShare: 0.25,
      serverlessExecutionShare: 0.125,
      costRatioToSerflow: 1,
      costRatioToBound: 1.234,
    }),
    libra: figures('libra', {
      totalUsd: 365,
      vmUsd: 300,
      serverlessUsd: 65,
      usdPer1kQueries: 121.6667,
      sloAttainment: 0.95,
      vmHours: 1234.5,
      vmIdleShare: 0.6,
      serverlessExecutionShare: 0.05,
      costRatioToSerflow: 774946.9,
      costRatioToBound: 901234.5,
      notes: ['<script>alert("x")</script> & 3 queries cut off'],
    }),
    'faas-only': figures('faas-only', {
      totalUsd: 1234.5,
      vmUsd: 0,
      serverlessUsd: 1234.5,
      vmHours: 0,
      vmIdleShare: 0,
      serverlessExecutionShare: 1,
      costRatioToSerflow: null,
      costRatioToBound: null,
    }),
  },
  bound: {
    totalUsd: 0.000382,
    vmUsd: 0.0002,
    serverlessUsd: 0.000182,
    orchestrationUsd: 0,
    actions: 9000,
    vmSeconds: 44.4,
    assumptions: ['arrivals and exits known in advance', 'VMs boot instantly'],
  },
  targets: [
    { name: 'cost ≤ 0.8 × LIBRA', met: true, detail: 'serflow $0.000471 vs libra $365.00' },
    { name: 'SLO attainment ≥ 99 %', met: false, detail: 'libra 95.00 %' },
  ],
  notes: ['simulated 3,000 queries in 0.2 s'],
};

const series: ComparisonSeries = {
  v: REPORT_VERSION,
  timeS,
  stepS: 10,
  arrivalRate: timeS.map((t) => 5 + 5 * Math.sin(t / 60)),
  sloMs: 500,
  policies: {
    serflow: {
      ...policySeries('serflow', 0.000471, { '0': zeros(), '1': ramp(3), '2': zeros(), '3': ramp(1) }, 30),
      estimatedRate: { mean: timeS.map(() => 5), upper: timeS.map(() => 8) },
    },
    libra: policySeries('libra', 365, { '0': ramp(4), '1': ramp(5), '2': zeros(), '3': ramp(2) }, 40),
    'faas-only': policySeries('faas-only', 1234.5, { '0': zeros(), '1': zeros(), '2': zeros(), '3': zeros() }, 200),
  },
};

const SVGS = [REPORT_FILES.costOverTime, REPORT_FILES.vmsPerStage, REPORT_FILES.latencyCdf, REPORT_FILES.arrivals];

describe('writeReportDir', () => {
  let root: string;
  let dir: string;
  let written: string[];
  const read = (name: string) => readFile(path.join(dir, name), 'utf8');

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'serflow-report-'));
    dir = path.join(root, 'out'); // not there yet: writeReportDir creates it
    written = await writeReportDir(dir, report, series);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('writes the JSON, the four plots and the summary page, and returns their paths', async () => {
    assert.deepEqual(
      written,
      Object.values(REPORT_FILES).map((name) => path.join(dir, name)),
    );
    for (const file of written) assert.ok((await stat(file)).size > 0, file);
    assert.deepEqual(JSON.parse(await read(REPORT_FILES.report)), report);
    assert.deepEqual(JSON.parse(await read(REPORT_FILES.series)), series);
  });

  test('each plot is an SVG document that names every policy and its axes', async () => {
    const axes: Record<string, string[]> = {
      [REPORT_FILES.costOverTime]: ['time since window start (s)', 'cumulative cost (USD)'],
      [REPORT_FILES.vmsPerStage]: ['time since window start (s)', 'VMs alive'],
      [REPORT_FILES.latencyCdf]: ['latency (ms, log scale)', 'completed queries at or below (%)', 'SLO 500 ms'],
      [REPORT_FILES.arrivals]: ['arrival rate (q/s)', 'estimated rate (EWMA mean)', 'mean + z·dev'],
    };
    for (const name of SVGS) {
      const svg = await read(name);
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, name);
      assert.match(svg, /<\/svg>\s*$/, name);
      assert.ok(svg.includes('azure-fn-2019') && svg.includes('SLO 500 ms'), `${name} names the trace and the SLO`);
      for (const title of axes[name] ?? []) assert.ok(svg.includes(title), `${name} has "${title}"`);
      if (name !== REPORT_FILES.arrivals) {
        // a legend label of its own (the cost plot adds the total after two spaces)
        for (const policy of Object.keys(report.policies)) assert.match(svg, new RegExp(`>${policy}(<|  \\$)`), name);
      }
    }
  });

  test('the cost legend tells each total, and the latency CDF has a rule at the SLO', async () => {
    const cost = await read(REPORT_FILES.costOverTime);
    for (const label of ['serflow  $0.000471', 'libra  $365.00', 'faas-only  $1,234.50'])
      assert.ok(cost.includes(`>${label}<`));
    const cdf = await read(REPORT_FILES.latencyCdf);
    assert.ok(cdf.includes('>SLO 500 ms</text>'), 'the rule is labelled');
    assert.match(
      cdf,
      /<g class="mark-rule role-mark[^"]*"[^>]*><line [^>]*stroke-dasharray="5,4"/,
      'the dashed SLO rule',
    );
  });

  test('vms-per-stage.svg has a panel per pool with a VM, and none for pool 2, which never has one', async () => {
    const svg = await read(REPORT_FILES.vmsPerStage);
    assert.ok(svg.includes('pool 0: whole-model VMs'));
    assert.ok(svg.includes('pool 1: stage 1 VMs'));
    assert.ok(svg.includes('pool 3: stage 3 VMs'));
    assert.ok(!svg.includes('pool 2'));
  });

  test('index.md has a table row per policy with its figures formatted', async () => {
    const md = await read(REPORT_FILES.markdown);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.includes('---'));
    assert.equal(rows.length, 1 + 3, 'header + one row per policy');
    assert.equal(
      rows[0],
      '| policy | total $ | VM $ | serverless $ | orchestration $ | actions/query | $/1k queries | SLO attainment | p50 ms | p95 ms | p99 ms | VM-hours | VM idle | serverless executions | × SERFLOW | × bound |',
    );
    assert.equal(
      rows[1],
      '| serflow | $0.000471 | $0.0003 | $0.000171 | $0.00 | 0 | $0.000157 | 99.87 % | 41.3 | 180 | 1,235 | 0.0123 | 25.0 % | 12.5 % | 1.00× | 1.23× |',
    );
    assert.equal(
      rows[2],
      '| libra | $365.00 | $300.00 | $65.00 | $0.00 | 0 | $121.67 | 95.00 % | 40.0 | 90.0 | 120 | 1,235 | 60.0 % | 5.0 % | 774947× | 901235× |',
    );
    assert.equal(
      rows[3],
      '| faas-only | $1,234.50 | $0.00 | $1,234.50 | $0.00 | 0 | $0.333 | 100.00 % | 40.0 | 90.0 | 120 | 0 | 0.0 % | 100.0 % | — | — |',
    );
    assert.match(md, /^# SERFLOW comparison \(simulation\): azure-fn-2019, SLO 500 ms$/m);
    assert.match(md, /\*\*Trace\*\*: azure-fn-2019 \(traces\/azure.csv\), rate factor ×2, window 0–600 s/);
    assert.match(md, /12\.5 q\/s/);
    assert.match(md, /\*\*Preset\*\*: libra-ic2e/);
    assert.match(md, /\*\*Seed\*\*: 42/);
    assert.match(md, /\$0\.000382 \(VM \$0\.0002, serverless \$0\.000182/);
    assert.match(md, /- VMs boot instantly/);
    assert.match(md, /- \*\*met\*\*: cost ≤ 0\.8 × LIBRA: serflow \$0\.000471 vs libra \$365\.00/);
    assert.match(md, /- \*\*NOT met\*\*: SLO attainment ≥ 99 %: libra 95\.00 %/);
    assert.match(md, /- simulated 3,000 queries in 0\.2 s/);
    // the note's markup is escaped, not passed through to the Markdown renderer's HTML
    assert.match(md, /- \*\*libra\*\*: \\<script\\>alert\("x"\)\\<\/script\\> & 3 queries cut off/);
    for (const name of SVGS) assert.ok(md.includes(`](${name})`), `index.md embeds ${name}`);
  });

  test('index.html escapes text and embeds the plots', async () => {
    const html = await read(REPORT_FILES.html);
    assert.ok(!html.includes('<script>'), 'the note is escaped');
    assert.ok(html.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; 3 queries cut off'));
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('<td>serflow</td><td class="num">$0.000471</td>'));
    assert.ok(html.includes('<strong>NOT met</strong>'));
    for (const name of SVGS) assert.ok(html.includes(`<img src="${name}"`), `index.html embeds ${name}`);
  });
});

describe('the orchestration column', () => {
  // 3,000 queries at Temporal Cloud's 25 $ per million actions: SERFLOW 5 actions a query, LIBRA 6, the bound 3
  const perAction = 25e-6;
  const withActions = (f: PolicyFigures, perQuery: number): PolicyFigures => {
    const actions = perQuery * f.queries;
    const orchestrationUsd = actions * perAction;
    const totalUsd = f.vmUsd + f.serverlessUsd + orchestrationUsd;
    return {
      ...f,
      orchestrationUsd,
      actions,
      actionsPerQuery: perQuery,
      actionCounts: { ...NO_ACTIONS, workflowStarted: f.queries, activityAttempts: actions - f.queries },
      totalUsd,
      usdPer1kQueries: (totalUsd / f.queries) * 1000,
    };
  };
  const priced: ComparisonReport = {
    ...report,
    orchestration: {
      pricing: 'temporal-cloud',
      usdPerAction: perAction,
      counted: 'modelled',
      basis: 'modelled from the executed stages',
    },
    policies: {
      serflow: withActions(report.policies.serflow!, 5),
      libra: withActions(report.policies.libra!, 6),
    },
    bound: { ...report.bound!, orchestrationUsd: 9000 * perAction, totalUsd: 0.000382 + 9000 * perAction },
  };

  test('report.json carries orchestrationUsd, actions and actionsPerQuery; index.md and index.html show them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'serflow-report-'));
    try {
      await writeReportDir(dir, priced, series);
      const json = JSON.parse(await readFile(path.join(dir, REPORT_FILES.report), 'utf8')) as ComparisonReport;
      assert.equal(json.policies.serflow?.orchestrationUsd, 0.375);
      assert.equal(json.policies.serflow?.actions, 15_000);
      assert.equal(json.policies.serflow?.actionsPerQuery, 5);
      assert.equal(json.policies.libra?.actionsPerQuery, 6);
      assert.equal(json.orchestration.pricing, 'temporal-cloud');
      const md = await readFile(path.join(dir, REPORT_FILES.markdown), 'utf8');
      const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.includes('---'));
      // total = VM + serverless + orchestration: 0.0003 + 0.000171 + 15,000 × 25e-6
      assert.match(rows[1] ?? '', /^\| serflow \| \$0\.375 \| \$0\.0003 \| \$0\.000171 \| \$0\.375 \| 5\.00 \| /);
      assert.match(rows[2] ?? '', /^\| libra \| \$365\.45 \| \$300\.00 \| \$65\.00 \| \$0\.45 \| 6\.00 \| /);
      assert.match(md, /\*\*Orchestration\*\*: Temporal Cloud, \$25\.00 per million actions; actions modelled/);
      assert.match(md, /serverless \$0\.000182, orchestration \$0\.225 for 9,000 actions/);
      const html = await readFile(path.join(dir, REPORT_FILES.html), 'utf8');
      assert.ok(html.includes('<th class="num">orchestration $</th><th class="num">actions/query</th>'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the targets compare whole bills and state the comparison without orchestration beside them', () => {
    const [saving] = checkTargets(priced.policies, priced.bound);
    assert.ok(saving);
    assert.match(
      saving.detail,
      /^SERFLOW \$0\.3755 vs LIBRA \$365\.4: 99\.90 % cheaper \(compute only: \$0\.0004710 vs \$365\.0, 100\.00 % cheaper\)$/,
    );
    const bound = checkTargets(priced.policies, priced.bound).find((t) => t.name.includes('bound'));
    assert.match(
      bound?.detail ?? '',
      /= 1\.666× the bound \$0\.2254 \(compute only: 1\.233× the bound's \$0\.0003820\)$/,
    );
    // without orchestration, the details are as they were
    const [plain] = checkTargets(report.policies, null);
    assert.equal(plain?.detail, 'SERFLOW $0.0004710 vs LIBRA $365.0: 100.00 % cheaper');
  });
});

describe('writeReportDir on a long run', () => {
  test('plots hours and downsamples long series to at most ~1,000 points a line', async () => {
    const n = 20_000; // 20,000 steps of 1 s: 5.6 h
    const t = Array.from({ length: n }, (_, i) => i);
    const noisy = t.map((i) => 5 + ((i * 7919) % 13));
    const long: ComparisonSeries = {
      ...series,
      timeS: t,
      stepS: 1,
      arrivalRate: noisy,
      policies: {
        serflow: {
          policy: 'serflow',
          cumulativeUsd: t.map((i) => i / 1000),
          vmsByPool: { '1': noisy.map((x) => x % 3) },
          latencyCdf: [[100, 1]],
        },
      },
    };
    const dir = await mkdtemp(path.join(tmpdir(), 'serflow-report-'));
    try {
      await writeReportDir(dir, { ...report, trace: { ...report.trace, durationS: n } }, long);
      const cost = await readFile(path.join(dir, REPORT_FILES.costOverTime), 'utf8');
      assert.ok(cost.includes('time since window start (h)'));
      const vms = await readFile(path.join(dir, REPORT_FILES.vmsPerStage), 'utf8');
      // one line of 20,000 noisy steps in a 300 px panel, drawn step-after: ≤ 2 points a pixel, 2 path commands each
      const d = /<path [^>]*d="(M[^"]+)"[^>]*stroke="#e15759"/.exec(vms)?.[1] ?? '';
      const commands = d.match(/[MLHV]/g)?.length ?? 0;
      assert.ok(commands > 100 && commands <= 2 * 600, `${commands} path commands`);
      const arrivals = await readFile(path.join(dir, REPORT_FILES.arrivals), 'utf8');
      const line = /<path [^>]*d="(M[^"]+)"[^>]*stroke="#4e79a7"/.exec(arrivals)?.[1] ?? '';
      const points = line.match(/[ML]/g)?.length ?? 0;
      assert.ok(points > 100 && points <= 1000, `${points} points`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('writeReportDir on a run with nothing to draw', () => {
  test('still writes every plot: no VM panel, no estimate band, no CDF line', async () => {
    const empty: ComparisonSeries = {
      v: REPORT_VERSION,
      timeS: [],
      stepS: 10,
      arrivalRate: [],
      sloMs: 500,
      policies: { 'faas-only': { policy: 'faas-only', cumulativeUsd: [], vmsByPool: { '0': [] }, latencyCdf: [] } },
    };
    const only = { ...report, policies: { 'faas-only': report.policies['faas-only']! }, bound: null, targets: [] };
    const dir = await mkdtemp(path.join(tmpdir(), 'serflow-report-'));
    try {
      const written = await writeReportDir(dir, only, empty);
      assert.equal(written.length, Object.keys(REPORT_FILES).length);
      const vms = await readFile(path.join(dir, REPORT_FILES.vmsPerStage), 'utf8');
      assert.ok(vms.startsWith('<svg') && vms.includes('No policy had a VM alive in any pool.'));
      const arrivals = await readFile(path.join(dir, REPORT_FILES.arrivals), 'utf8');
      assert.ok(arrivals.includes('no policy recorded a rate estimate') && !arrivals.includes('EWMA'));
      const md = await readFile(path.join(dir, REPORT_FILES.markdown), 'utf8');
      assert.match(md, /No bound was computed for this run\./);
      assert.match(md, /No targets were checked\./);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('formatting and downsampling', () => {
  test('money: cents from $1 up, three significant digits below', () => {
    assert.equal(formatUsd(365), '$365.00');
    assert.equal(formatUsd(1234567.891), '$1,234,567.89');
    assert.equal(formatUsd(0.000471), '$0.000471');
    assert.equal(formatUsd(0.0123456), '$0.0123');
    assert.equal(formatUsd(0.5), '$0.50');
    assert.equal(formatUsd(0.0003), '$0.0003');
    assert.equal(formatUsd(0.1), '$0.10');
    assert.equal(formatUsd(0.99951), '$1.00');
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(3.2e-12), '$3.20e-12');
    assert.equal(formatUsd(Number.NaN), 'n/a');
  });

  test('numbers: three significant digits, integer part kept whole', () => {
    assert.equal(formatNumber(3.4321), '3.43');
    assert.equal(formatNumber(12345.6), '12,346');
    assert.equal(formatNumber(-0.0456), '-0.0456');
    assert.equal(formatNumber(0), '0');
    assert.equal(formatNumber(9.996), '10.0');
    assert.equal(formatNumber(0.0999951), '0.100');
  });

  test('escapeHtml escapes markup and quotes', () => {
    assert.equal(escapeHtml(`<a href="x">&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;');
  });

  test('downsampleIndices drops flat runs exactly and keeps each bucket’s extremes', () => {
    // flat runs: only their ends survive
    assert.deepEqual(downsampleIndices([0, 0, 0, 1, 1, 1, 0]), [0, 2, 3, 5, 6]);
    // 10,000 alternating values, 100 points: first, last and a min and max per bucket
    const spiky = Array.from({ length: 10_000 }, (_, i) => (i === 5000 ? 99 : i % 2));
    const kept = downsampleIndices(spiky, 100);
    assert.ok(kept.length <= 100, `${kept.length} points`);
    assert.equal(kept[0], 0);
    assert.equal(kept[kept.length - 1], 9999);
    assert.ok(kept.includes(5000), 'the spike survives');
    assert.deepEqual(
      kept,
      [...kept].sort((a, b) => a - b),
    );
  });
});
