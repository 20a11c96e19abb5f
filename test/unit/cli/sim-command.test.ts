/**
 * `serflow sim` through the real binary (bin/serflow.js): the report it writes and prints, against figures computed
 * here by hand from LIBRA's setup (libra-wits.md) and against the measured hand-off's result file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../../common/paths';
import type { ComparisonReport } from '../../../eval/report/types';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-sim-cli-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

async function sim(args: string[]): Promise<{ out: string; report: ComparisonReport }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SERFLOW_HOME: home };
  delete env.TEMPORAL_ADDRESS;
  delete env.NATS_URL;
  const { stdout } = await run(process.execPath, [SERFLOW, 'sim', ...args, '--json'], {
    env,
    cwd: home,
    timeout: 120_000,
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout) as { out: string; report: ComparisonReport };
}

describe('serflow sim', () => {
  test('the libra-ic2e preset, FaaS-only: every request one 1 s, 512 MB invocation, priced by hand', async () => {
    const out = path.join(home, 'libra');
    const { report, out: printed } = await sim([
      '--preset',
      'libra-ic2e',
      '--trace',
      'constant:rate=4,duration=10',
      '--policies',
      'faas-only',
      '--out',
      out,
    ]);
    assert.equal(printed, out);
    const f = report.policies['faas-only'];
    assert.ok(f);
    // 4 q/s for 10 s; LIBRA's price: 2e-7 $ + 1.667e-5 $/GB-s × 0.5 GB × 1 s = 8.535e-6 $ per request.
    assert.equal(f.queries, 40);
    assert.equal(f.completed, 40);
    assert.ok(Math.abs(f.serverlessUsd - 40 * 8.535e-6) < 1e-12, `serverless ${f.serverlessUsd}`);
    assert.equal(f.vmUsd, 0);
    assert.equal(f.orchestrationUsd, 0, 'LIBRA’s cloud has no workflow engine');
    // Functions without cold start or limit: nobody waits, every request takes its 1 s and meets the 1 s SLO.
    assert.deepEqual(f.latencyMs, { p50: 1000, p95: 1000, p99: 1000, mean: 1000, max: 1000 });
    assert.equal(f.sloAttainment, 1);
    const written = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as ComparisonReport;
    assert.deepEqual(written.policies, report.policies, 'the printed report is the one written');
    for (const file of ['series.json', 'index.md', 'index.html', 'cost-over-time.svg'])
      assert.ok(fs.statSync(path.join(out, file)).size > 0, file);
  });

  test('the configured model: the report names the measured hand-off and where it was measured', async () => {
    const raw = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'overhead.json'), 'utf8')) as {
      git: { commit: string };
      overheadPerStageMs: { p50: number; p95: number };
    };
    const { report } = await sim([
      '--trace',
      'constant:rate=2,duration=5',
      '--policies',
      'faas-only',
      '--out',
      path.join(home, 'model'),
    ]);
    const notes = report.notes.join('\n');
    assert.ok(
      notes.includes(`p50/p95/p99 ${raw.overheadPerStageMs.p50}/${raw.overheadPerStageMs.p95}/`),
      'the hand-off figures of the result file',
    );
    assert.ok(notes.includes('bench/results/overhead.json') && notes.includes(raw.git.commit.slice(0, 10)), notes);
    assert.equal(report.policies['faas-only']?.queries, 10);
  });
});
