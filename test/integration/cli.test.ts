/**
 * The operator's path through the CLI: `serflow up --detach`, `infer --json`, `status --json`, finding
 * queries with `temporal workflow list --query`, and `serflow down`; and an attached `serflow up` killed outright
 * leaves nothing running.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { MODELS_DIR, PROJECT_ROOT } from '../../common/paths';
import { createSamplePicker } from '../../eval/workload/samples';
import { createDirectPipeline } from '../../models/runtime/direct-pipeline';
import { isAlive, stopPid } from '../../deploy/local/processes';
import { readStateFile } from '../../infra/stack-state';
import { resolveTool, TOOLS } from '../../deploy/local/tools';
import { waitUntil } from '../helpers/wait-until';

const run = promisify(execFile);
const MODEL = 'mnist-ee';

/** Exit histogram and accuracy of the workload's first `n` samples (seed 1, no mix) run in process, stage by stage. */
async function inProcess(n: number): Promise<{ histogram: Record<string, number>; accuracy: number }> {
  const picker = createSamplePicker(MODEL, MODELS_DIR, 1);
  const direct = await createDirectPipeline(MODEL);
  const histogram: Record<string, number> = {};
  let correct = 0;
  try {
    for (let i = 0; i < n; i++) {
      const { image, expected } = picker.pick(i);
      const r = await direct.run(image);
      histogram[String(r.exitStage)] = (histogram[String(r.exitStage)] ?? 0) + 1;
      if (r.label === expected) correct++;
    }
  } finally {
    await direct.close();
  }
  return { histogram, accuracy: correct / n };
}
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
let home: string;
let env: NodeJS.ProcessEnv;

function serflow(...args: string[]) {
  return run(process.execPath, [SERFLOW, ...args], { env, cwd: home, timeout: 180_000, maxBuffer: 16 << 20 });
}

before(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-cli-'));
  env = { ...process.env, SERFLOW_HOME: home };
  delete env.TEMPORAL_ADDRESS;
  delete env.NATS_URL;
});

after(async () => {
  await serflow('down').catch(() => undefined);
  fs.rmSync(home, { recursive: true, force: true });
});

test('up --detach, infer --json, status --json, workflow list by exit stage, down', async () => {
  await serflow('up', '--detach');
  const state = readStateFile(home);
  assert.ok(state, 'up --detach records the stack in the state file');
  assert.deepEqual(
    state.processes.map((p) => p.name).sort(),
    ['autoscaler-mnist-ee', 'cloud-agent', 'nats-server', 'temporal', 'worker-serflow.inference'],
    'temporal, nats, the workflow worker, the cloud agent (which owns the VMs) and the autoscaler are recorded',
  );
  assert.ok(
    state.processes.every((p) => isAlive(p.pid)),
    'every recorded process is alive after up returns',
  );

  const { stdout } = await serflow('infer', '--samples', '30', '--json');
  const summary = JSON.parse(stdout) as {
    queries: number;
    accuracy: number;
    exitHistogram: Record<string, number>;
    latencyMs: { p50: number; p95: number; p99: number; max: number };
    workflowLatencyMs: { p50: number; p95: number; p99: number };
    durationMs: number;
    failed: number;
  };
  assert.equal(summary.queries, 30);
  assert.equal(summary.failed, 0);
  // The same 30 samples (seed 1, the CLI's default) run in-process, stage by stage: the stack's exits and accuracy
  // must be theirs.
  const mine = await inProcess(30);
  assert.deepEqual(summary.exitHistogram, mine.histogram, 'exit stages as the in-process pipeline');
  assert.equal(summary.accuracy, mine.accuracy, 'accuracy as the in-process pipeline');
  // Latencies: each query's client latency contains its workflow's, so every quantile of the one is at least the
  // same quantile of the other; no query takes longer than the whole run, nor than the largest one.
  for (const q of ['p50', 'p95', 'p99'] as const) {
    assert.ok(summary.latencyMs[q] >= summary.workflowLatencyMs[q], `${q}: client ≥ workflow`);
    assert.ok(summary.latencyMs[q] <= summary.latencyMs.max, `${q} ≤ max`);
  }
  assert.ok(summary.latencyMs.max <= summary.durationMs, 'no query outlasts the run');
  assert.ok(summary.workflowLatencyMs.p50 > 0);

  // `serflow plan`: the decision the autoscaler `up` started (SERFLOW by default) recorded, one entry per stage of
  // the model, and the routing plan it published. Decisions come every tick: wait for the first with a ceiling.
  const plan = await waitUntil('serflow plan shows a decision', 60_000, async () => {
    const p = JSON.parse((await serflow('plan', '--json')).stdout) as {
      decision: { model: string; policy: string; decision: { stages: { stage: number }[] } } | null;
      routing: { model: string; source: string; stages: { stage: number }[] } | null;
    };
    return p.decision && p.routing ? p : undefined;
  });
  assert.equal(plan.decision!.model, MODEL);
  assert.equal(plan.decision!.policy, 'serflow');
  assert.deepEqual(
    plan.decision!.decision.stages.map((d) => d.stage),
    [1, 2, 3, 4],
  );
  assert.equal(plan.routing!.model, MODEL);
  assert.match(plan.routing!.source, /^autoscaler:serflow/);
  assert.deepEqual(
    plan.routing!.stages.map((r) => r.stage),
    [1, 2, 3, 4],
  );

  const status = JSON.parse((await serflow('status', '--json')).stdout) as {
    running: boolean;
    temporalAddress: string;
    temporalUiUrl: string;
    natsUrl: string;
    pools: { taskQueue: string; workers: { completed: number }[] }[];
  };
  assert.equal(status.running, true);
  assert.equal(status.temporalAddress, state.temporalAddress);
  assert.equal(status.natsUrl, state.natsUrl);
  assert.match(status.temporalUiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  // Under the default SERFLOW autoscaler the stack starts without VMs (queries run serverless until the policy
  // has seen load that pays for VMs), so the live worker pools are the control processes.
  assert.deepEqual(
    status.pools
      .map((p) => p.taskQueue)
      .filter((q) => !q.endsWith('.vm'))
      .sort(),
    ['serflow.autoscaler.mnist-ee', 'serflow.cloud-agent', 'serflow.inference'],
  );
  const ui = await fetch(status.temporalUiUrl);
  assert.equal(ui.status, 200, 'the Temporal Web UI answers');

  const temporal = resolveTool(TOOLS.temporal);
  const want = summary.exitHistogram['1'] ?? 0;
  let found = -1;
  // Visibility is written asynchronously by the server: allow it a moment to catch up.
  for (let attempt = 0; attempt < 25 && found !== want; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, 200));
    const list = await run(temporal, [
      'workflow',
      'list',
      '--address',
      state.temporalAddress,
      '--query',
      'ExitStage = 1',
      '--output',
      'json',
    ]);
    found = (JSON.parse(list.stdout || '[]') as unknown[]).length;
  }
  assert.equal(found, want, '`temporal workflow list --query "ExitStage = 1"` finds the stage-1 exits');

  // The operator's path: a static VM-prefix plan on a stack whose pools are empty (the autoscaler had kept
  // everything serverless) launches VMs for stages 1-2, overflows to serverless while they boot, and the bill
  // shows both kinds of cost per stage.
  const set = await serflow('route', 'set', 'vm-prefix:2');
  assert.match(set.stdout, /stage 1 had no VM: launched one/);
  const after = JSON.parse((await serflow('infer', '--samples', '20', '--json')).stdout) as { failed: number };
  assert.equal(after.failed, 0);
  const pools = JSON.parse((await serflow('pools', '--json')).stdout) as { vms: { stage: number; state: string }[] };
  assert.deepEqual(
    [...new Set(pools.vms.filter((v) => v.state !== 'terminated').map((v) => v.stage))].sort(),
    [1, 2],
    'VMs exist for exactly the VM-routed stages',
  );
  const cost = JSON.parse((await serflow('cost', '--json')).stdout) as {
    totalUsd: number;
    vmUsd: number;
    faasUsd: number;
    orchestrationUsd: number;
    actions: number;
    perThousandQueriesUsd: number;
  };
  assert.ok(cost.vmUsd > 0 && cost.faasUsd > 0, `VM ${cost.vmUsd} and serverless ${cost.faasUsd} cost`);
  assert.ok(cost.actions > 0 && cost.orchestrationUsd > 0, `${cost.actions} actions, ${cost.orchestrationUsd} USD`);
  assert.ok(Math.abs(cost.totalUsd - cost.vmUsd - cost.faasUsd - cost.orchestrationUsd) < 1e-12);

  await serflow('down');
  assert.equal(readStateFile(home), null, 'down removes the state file');
  assert.ok(
    state.processes.every((p) => !isAlive(p.pid)),
    'down stops every process',
  );
});

test('an attached `serflow up` killed outright takes its servers and workers with it', async () => {
  const attachedHome = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-cli-attached-'));
  const up = spawn(process.execPath, [SERFLOW, 'up', '--autoscaler', 'off'], {
    env: { ...env, SERFLOW_HOME: attachedHome },
    cwd: attachedHome,
    stdio: 'ignore',
  });
  try {
    const state = await waitUntil('the attached stack is up', 120_000, () => readStateFile(attachedHome) ?? undefined);
    const names = state.processes.map((p) => p.name);
    assert.ok(names.includes('nats-server') && names.includes('temporal'), `servers recorded: ${names.join(', ')}`);
    assert.ok(state.processes.every((p) => isAlive(p.pid)));
    up.kill('SIGKILL');
    // Workers see their parent gone within a second and drain; the servers' watchdog stops the servers.
    await waitUntil('every process of the killed stack has exited', 60_000, () =>
      state.processes.every((p) => !isAlive(p.pid)) ? true : undefined,
    );
  } finally {
    up.kill('SIGKILL');
    const left = readStateFile(attachedHome)?.processes ?? [];
    await Promise.all(left.map((p) => stopPid(p.pid, 5_000)));
    fs.rmSync(attachedHome, { recursive: true, force: true });
  }
});

test('demo starts a stack, runs its workload as the in-process pipeline would, and stops every process', async () => {
  const { stdout } = await serflow('demo', '--samples', '20', '--json');
  const { stack, summary } = JSON.parse(stdout) as {
    stack: { processes: { name: string; pid: number }[] };
    summary: { queries: number; failed: number; exitHistogram: Record<string, number>; accuracy: number };
  };
  assert.equal(summary.queries, 20);
  assert.equal(summary.failed, 0);
  const mine = await inProcess(20);
  assert.deepEqual(summary.exitHistogram, mine.histogram);
  assert.equal(summary.accuracy, mine.accuracy);
  assert.ok(stack.processes.length > 0, 'the stack it ran is described');
  for (const p of stack.processes) assert.equal(isAlive(p.pid), false, `${p.name} (pid ${p.pid}) stopped`);
  assert.equal(readStateFile(home), null, 'no stack is recorded as running');
});

test('autoscaler in the foreground: its policy decides and routes the running stack; SIGINT stops it cleanly', async () => {
  await serflow('up', '--detach', '--autoscaler', 'off');
  // The first test pinned a static plan in this home's stack data; the autoscaler would rightly not override it.
  await serflow('route', 'clear');
  const fgLog = fs.openSync(path.join(home, 'autoscaler-fg.log'), 'w');
  const fg = spawn(process.execPath, [SERFLOW, 'autoscaler', '--policy', 'faas-only'], {
    env,
    cwd: home,
    stdio: ['ignore', fgLog, fgLog],
  });
  const exited = new Promise<number | null>((resolve) => fg.once('exit', (code) => resolve(code)));
  try {
    // FaaS-only by definition: no VM for any stage, every stage's executions serverless (vmShare 0).
    const plan = await waitUntil('the foreground autoscaler decided', 60_000, async () => {
      const p = JSON.parse((await serflow('plan', '--json')).stdout) as {
        decision: { policy: string; decision: { stages: { stage: number; desiredVms: number }[] } } | null;
        routing: { source: string; stages: { stage: number; vmShare: number }[] } | null;
      };
      return p.decision?.policy === 'faas-only' && p.routing?.source.startsWith('autoscaler:faas-only') ? p : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}; its log: ${fs.readFileSync(path.join(home, 'autoscaler-fg.log'), 'utf8')}`);
    });
    assert.deepEqual(
      plan.decision!.decision.stages.map((d) => [d.stage, d.desiredVms]),
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 0],
      ],
    );
    assert.deepEqual(
      plan.routing!.stages.map((r) => [r.stage, r.vmShare]),
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 0],
      ],
    );
    fg.kill('SIGINT');
    assert.equal(await exited, 0, 'Ctrl-C stops it with exit code 0');
  } finally {
    fg.kill('SIGKILL');
    fs.closeSync(fgLog);
    await serflow('down');
  }
});
