/**
 * A detached stack (`serflow up --detach`) restarts a crashed worker as an attached one does: each worker runs under
 * a supervisor process (deploy/local/supervisor-main.ts), whose pid is the one in the state file. The workflow
 * worker itself is killed with SIGKILL; it comes back under a new pid, `serflow status` shows the restart, a query
 * completes, and `serflow down` leaves no process of the stack behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { INFERENCE_TASK_QUEUE } from '../../common/naming';
import { PROJECT_ROOT } from '../../common/paths';
import { isAlive } from '../../deploy/local/processes';
import { connectNats } from '../../infra/nats';
import { readStateFile, readSupervision } from '../../infra/stack-state';
import { listWorkers } from '../../infra/worker-status';
import { waitUntil } from '../helpers/wait-until';

const run = promisify(execFile);
const SERFLOW = path.join(PROJECT_ROOT, 'bin', 'serflow.js');
const WORKER = `worker-${INFERENCE_TASK_QUEUE}`;
let home: string;
let env: NodeJS.ProcessEnv;

function serflow(...args: string[]) {
  return run(process.execPath, [SERFLOW, ...args], { env, cwd: home, timeout: 180_000, maxBuffer: 16 << 20 });
}

/** Every process started for this test's stack: all of them inherit its SERFLOW_HOME. */
function processesOfStack(): number[] {
  const marker = `SERFLOW_HOME=${home}\0`;
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (`${fs.readFileSync(`/proc/${pid}/environ`, 'utf8')}\0`.includes(marker)) {
        // A zombie (exited, not yet reaped) is not running.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') pids.push(pid);
      }
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return pids;
}

before(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-detached-'));
  env = { ...process.env, SERFLOW_HOME: home };
  delete env.TEMPORAL_ADDRESS;
  delete env.NATS_URL;
});

after(async () => {
  await serflow('down').catch(() => undefined);
  for (const pid of processesOfStack()) process.kill(pid, 'SIGKILL');
  fs.rmSync(home, { recursive: true, force: true });
});

test('a detached stack restarts its killed workflow worker, shows the restart, and down stops everything', async () => {
  await serflow('up', '--detach');
  const state = readStateFile(home);
  assert.ok(state, 'up --detach records the stack in the state file');
  const recorded = state.processes.find((p) => p.name === WORKER);
  assert.ok(recorded, `the state file records ${WORKER}`);

  const nc = await connectNats(state.natsUrl, 'detached-supervision-test');
  try {
    const running = async () =>
      (await listWorkers(nc)).filter(
        (w) => w.taskQueue === INFERENCE_TASK_QUEUE && w.state === 'running' && isAlive(w.pid),
      );
    const [victim] = await running();
    assert.ok(victim, 'the workflow worker polls');
    assert.notEqual(victim.pid, recorded.pid, 'the recorded pid is its supervisor, not the worker');
    assert.equal(readSupervision(state.dataDir, WORKER)?.workerPid, victim.pid, 'the supervisor records the worker');

    process.kill(victim.pid, 'SIGKILL');
    const t0 = Date.now();
    const back = await waitUntil('the killed workflow worker is back under a new pid', 60_000, async () =>
      (await running()).find((w) => w.pid !== victim.pid),
    );
    console.log(`workflow worker ${victim.pid} killed; ${back.pid} polls ${Date.now() - t0} ms later`);
    assert.ok(!isAlive(victim.pid));

    const status = JSON.parse((await serflow('status', '--json')).stdout) as {
      running: boolean;
      processes: { name: string; pid: number; alive: boolean; restarts?: number; workerPid?: number }[];
    };
    assert.equal(status.running, true);
    const worker = status.processes.find((p) => p.name === WORKER);
    assert.ok(worker, `status lists ${WORKER}`);
    assert.equal(worker.pid, recorded.pid, 'the supervisor (the pid down signals) lived through the crash');
    assert.equal(worker.alive, true);
    assert.equal(worker.restarts, 1, 'status shows one restart');
    assert.equal(worker.workerPid, back.pid, 'status shows the new worker');
    assert.deepEqual(
      status.processes.filter((p) => p.name !== WORKER && p.restarts).map((p) => p.name),
      [],
      'nothing else was restarted',
    );
    assert.match(
      (await serflow('status')).stdout,
      new RegExp(`${WORKER}\\s+pid ${recorded.pid}\\s+alive  restarted 1×`),
    );
  } finally {
    await nc.close();
  }

  const { stdout } = await serflow('infer', '--samples', '2', '--json');
  const summary = JSON.parse(stdout) as { queries: number; failed: number };
  assert.equal(summary.queries, 2);
  assert.equal(summary.failed, 0, 'queries complete on the restarted worker');

  const before = processesOfStack();
  assert.ok(before.length > state.processes.length, `supervisors and workers are running: ${before.join(', ')}`);
  await serflow('down');
  assert.equal(readStateFile(home), null, 'down removes the state file');
  assert.deepEqual(processesOfStack(), [], 'down leaves no process of the stack behind');
});
