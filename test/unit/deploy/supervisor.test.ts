/**
 * The restart rule (`restartBackoff`) and the supervisor of a detached stack's worker (supervisor-main.ts), run on a
 * tiny stand-in worker script: a killed worker is started again and counted, a SIGTERM reaches the worker, and the
 * supervisor exits once the worker has; `withSupervision` reads only its own supervisor's record.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  isAlive,
  restartBackoff,
  RESTART_MAX_DELAY_MS,
  RESTART_RESET_AFTER_MS,
  spawnManaged,
  stopPid,
  SUPERVISOR_MAIN_SCRIPT,
} from '../../../deploy/local/processes';
import {
  readSupervision,
  supervisionFilePath,
  withSupervision,
  writeSupervision,
  type StackInfo,
} from '../../../infra/stack-state';
import { waitUntil } from '../../helpers/wait-until';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-supervisor-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('restartBackoff', () => {
  test('1 s doubling to 30 s while the process keeps dying at start', () => {
    const next = restartBackoff();
    assert.deepEqual(
      Array.from({ length: 8 }, () => next(100)),
      [1_000, 2_000, 4_000, 8_000, 16_000, RESTART_MAX_DELAY_MS, RESTART_MAX_DELAY_MS, RESTART_MAX_DELAY_MS],
    );
  });

  test('a process that ran for a minute starts the backoff over', () => {
    const next = restartBackoff();
    next(0);
    next(0);
    assert.equal(next(RESTART_RESET_AFTER_MS - 1), 4_000);
    assert.equal(next(RESTART_RESET_AFTER_MS), 1_000);
    assert.equal(next(10), 2_000);
  });
});

describe('supervisor-main', () => {
  test('restarts a killed worker, forwards SIGTERM, exits with the worker', async () => {
    const script = path.join(dir, 'worker.js');
    const termFile = path.join(dir, 'terminated');
    fs.writeFileSync(
      script,
      `const fs = require('node:fs');
       const parent = process.argv[process.argv.indexOf('--parent-pid') + 1];
       console.log('worker ' + process.pid + ' parent ' + parent + ' args ' + process.argv.slice(2).join(' '));
       process.on('SIGTERM', () => { fs.appendFileSync(${JSON.stringify(termFile)}, process.pid + '\\n'); setTimeout(() => process.exit(0), 200); });
       setInterval(() => undefined, 1000);`,
    );
    const sup = spawnManaged({
      name: 'sup',
      command: process.execPath,
      args: [SUPERVISOR_MAIN_SCRIPT, '--data-dir', dir, '--name', 'w/1', '--', script, 'a', '--flag', 'b'],
      logDir: dir,
    });
    try {
      const first = await waitUntil(
        'the first worker',
        10_000,
        () => readSupervision(dir, 'w/1')?.workerPid ?? undefined,
      );
      assert.equal(readSupervision(dir, 'w/1')?.supervisorPid, sup.pid);
      assert.equal(readSupervision(dir, 'w/1')?.restarts, 0);
      // Its command line: the script, its arguments, and the supervisor as its parent to follow.
      await waitUntil('the first worker runs', 10_000, () =>
        fs
          .readFileSync(sup.logFile, 'utf8')
          .includes(`worker ${first} parent ${sup.pid} args a --flag b --parent-pid ${sup.pid}`)
          ? true
          : undefined,
      );
      process.kill(first, 'SIGKILL');
      const second = await waitUntil('the restarted worker', 10_000, () => {
        const r = readSupervision(dir, 'w/1');
        return r && r.restarts === 1 && r.workerPid && r.workerPid !== first ? r : undefined;
      });
      assert.equal(second.lastExit?.code, 'SIGKILL');
      assert.ok(isAlive(second.workerPid!) && !isAlive(first));
      assert.match(fs.readFileSync(sup.logFile, 'utf8'), /exited with SIGKILL: restarting it in 1000 ms/);

      await waitUntil('the second worker runs', 10_000, () =>
        fs.readFileSync(sup.logFile, 'utf8').includes(`worker ${second.workerPid} parent`) ? true : undefined,
      );
      await stopPid(sup.pid, 10_000);
      assert.equal(await sup.exited, 0, 'the supervisor exits with the worker’s code');
      assert.equal(fs.readFileSync(termFile, 'utf8'), `${second.workerPid}\n`, 'the worker got the SIGTERM');
      assert.ok(!isAlive(second.workerPid!));
      assert.equal(fs.existsSync(supervisionFilePath(dir, 'w/1')), false, 'its record is removed');
    } finally {
      sup.child.kill('SIGKILL');
    }
  });

  test('withSupervision adds restarts and the worker pid from its own supervisor only', () => {
    const info = {
      dataDir: dir,
      processes: [
        { name: 'a', pid: 101, logFile: 'a.log', role: 'worker' },
        { name: 'b', pid: 102, logFile: 'b.log', role: 'worker' },
        { name: 'nats-server', pid: 103, logFile: 'n.log', role: 'nats' },
      ],
    } as StackInfo;
    writeSupervision(dir, { v: 1, name: 'a', supervisorPid: 101, workerPid: 201, restarts: 2 });
    writeSupervision(dir, { v: 1, name: 'b', supervisorPid: 999, workerPid: 202, restarts: 5 }); // an earlier stack's
    assert.deepEqual(withSupervision(info), [
      { name: 'a', pid: 101, logFile: 'a.log', role: 'worker', restarts: 2, workerPid: 201 },
      { name: 'b', pid: 102, logFile: 'b.log', role: 'worker' },
      { name: 'nats-server', pid: 103, logFile: 'n.log', role: 'nats' },
    ]);
  });
});
