/**
 * `serflow profile` through the real binary, on a small calibration subset and the fewest runs it accepts: the file
 * it writes loads back, and its exit profile is the one the in-process pipeline gives on the same samples (the
 * profiler's seeded subset, recomputed here) at the same threshold. The timings are measurements, so only their
 * structure is checked (quantiles in order, the runs asked for).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { parseProfile, type ModelProfile } from '../../autoscaler/profile';
import { MODELS_DIR, PROJECT_ROOT } from '../../common/paths';
import { sampleIndices } from '../../common/stats';
import { loadSplit } from '../../models/dataset';
import { loadManifest } from '../../models/manifest';
import { createDirectPipeline } from '../../models/runtime/direct-pipeline';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const MODEL = 'mnist-ee';
const SAMPLES = 60;
const RUNS = 200;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-profile-cli-'));
after(() => fs.rmSync(home, { recursive: true, force: true }));

test('serflow profile writes a profile that loads back, with the exit profile of the same samples run in process', async () => {
  const out = path.join(home, 'profile.json');
  const env: NodeJS.ProcessEnv = { ...process.env, SERFLOW_HOME: home };
  delete env.TEMPORAL_ADDRESS;
  delete env.NATS_URL;
  const { stdout } = await run(
    process.execPath,
    [
      SERFLOW,
      'profile',
      '--model',
      MODEL,
      '--samples',
      String(SAMPLES),
      '--runs',
      String(RUNS),
      '--out',
      out,
      '--json',
    ],
    { env, cwd: home, timeout: 540_000, maxBuffer: 16 << 20 },
  );
  const printed = JSON.parse(stdout) as { file: string; profile: ModelProfile };
  assert.equal(printed.file, out);
  const written = parseProfile(JSON.parse(fs.readFileSync(out, 'utf8')), out);
  assert.deepEqual(written, printed.profile, 'the printed profile is the one written');
  assert.equal(written.model, MODEL);
  assert.equal(written.calibration.samples, SAMPLES);

  // The same seeded subset of the calibration split, run stage by stage in process at the profile's threshold.
  const manifest = loadManifest(MODEL, MODELS_DIR);
  assert.equal(written.threshold, manifest.defaultThreshold);
  const split = loadSplit(manifest, 'calibration');
  const picks = sampleIndices(split.images.length, SAMPLES, written.calibration.seed);
  const direct = await createDirectPipeline(MODEL);
  const exits = new Array<number>(manifest.stages.length).fill(0);
  try {
    for (const i of picks) exits[(await direct.run(split.images[i]!, written.threshold)).exitStage - 1]! += 1;
  } finally {
    await direct.close();
  }
  let reach = 1;
  written.stages.forEach((s, k) => {
    // exit shares are written rounded to 6 decimals
    assert.ok(Math.abs(s.exitShare - exits[k]! / SAMPLES) < 1e-6, `stage ${k + 1}: share ${s.exitShare}`);
    assert.ok(Math.abs(s.reachProbability - reach) < 1e-5, `stage ${k + 1}: reach ${s.reachProbability}`);
    reach -= exits[k]! / SAMPLES;
    for (const o of s.vm) {
      assert.ok(o.runs >= RUNS, `stage ${k + 1} vm ${o.threads}: ${o.runs} runs`);
      assert.ok(o.serviceMs.p50 <= o.serviceMs.p95 && o.serviceMs.p95 <= o.serviceMs.p99);
    }
  });
});
