/**
 * Log rotation of the embedded stack's children (deploy/local/processes.ts): a log past its size limit is copied to
 * `.1` (older ones shift, the oldest beyond the kept number goes) and truncated in place, so a child writing without
 * pause leaves bounded files; a detached child rotates its own log.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  configureLogRotation,
  isAlive,
  OWN_LOG_FILE_ENV,
  rotateLogIfLarge,
  spawnManaged,
  stopPid,
} from '../../../deploy/local/processes';
import { PROJECT_ROOT } from '../../../common/paths';
import { waitUntil } from '../../helpers/wait-until';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-logrot-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A node child that writes `lines - 1` numbered 1 KiB lines, one per ms, then after a pause (several rotation
 * checks, so a rotation that is due has happened) its last line, short, then exits (optionally rotating its own log).
 * The short last line after the pause keeps it from being rotated away: it lands in the current file, under the limit.
 */
function writerScript(lines: number, ownRotation: boolean): string {
  const processes = path.join(PROJECT_ROOT, 'lib', 'deploy', 'local', 'processes.js');
  return [
    ownRotation ? `require(${JSON.stringify(processes)}).rotateOwnLogFromEnv();` : '',
    `let i = 0; const pad = 'x'.repeat(1000);`,
    `const t = setInterval(() => { console.log(String(i).padStart(8, '0') + ' ' + pad); if (++i >= ${lines - 1}) { clearInterval(t); setTimeout(() => { console.log(String(i).padStart(8, '0') + ' end'); setTimeout(() => process.exit(0), 300); }, 300); } }, 1);`,
  ].join('\n');
}

const sizes = (base: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(path.basename(base)))
    .map((f) => ({ f, size: fs.statSync(path.join(dir, f)).size }));

describe('log rotation', () => {
  test('rotateLogIfLarge: past the limit the file is copied to .1, older ones shift, the oldest goes; under it nothing', () => {
    const file = path.join(dir, 'one.log');
    const rotation = { maxBytes: 100, filesKept: 2 };
    fs.writeFileSync(file, 'a'.repeat(50));
    assert.equal(rotateLogIfLarge(file, rotation), false);
    for (const c of ['a', 'b', 'c']) {
      fs.writeFileSync(file, c.repeat(150));
      assert.equal(rotateLogIfLarge(file, rotation), true);
      assert.equal(fs.statSync(file).size, 0, 'truncated in place');
    }
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'c'.repeat(150), 'newest in .1');
    assert.equal(fs.readFileSync(`${file}.2`, 'utf8'), 'b'.repeat(150));
    assert.ok(!fs.existsSync(`${file}.3`), 'no more than filesKept rotated files');
    assert.equal(rotateLogIfLarge(path.join(dir, 'missing.log'), rotation), false);
  });

  test('a child writing ~1.5 MB leaves at most 1 + filesKept files, each near the limit; it writes on after a rotation', async () => {
    const maxBytes = 64 * 1024;
    configureLogRotation({ maxBytes, filesKept: 2, checkMs: 20 });
    const p = spawnManaged({
      name: 'chatty',
      command: process.execPath,
      args: ['-e', writerScript(1500, false)],
      logDir: dir,
    });
    try {
      assert.equal(await p.exited, 0);
    } finally {
      await stopPid(p.pid, 1_000);
    }
    const files = sizes(p.logFile);
    assert.deepEqual(files.map((x) => x.f).sort(), ['chatty.log', 'chatty.log.1', 'chatty.log.2']);
    // The limit plus what the child writes between two checks (1 KiB/ms x 20 ms), with room for a slow machine.
    for (const { f, size } of files) assert.ok(size <= 4 * maxBytes, `${f}: ${size} bytes`);
    const total = files.reduce((n, x) => n + x.size, 0);
    assert.ok(total < 1_000_000, `about 1.5 MB were written, ${total} bytes are kept`);
    const last = fs.readFileSync(p.logFile, 'utf8').trimEnd().split('\n').pop()!;
    assert.match(last, /^00001499 /, 'the last line is in the current file: writes go on at its new end');
  });

  test('a detached child rotates its own log (its parent may be gone)', async () => {
    const maxBytes = 64 * 1024;
    configureLogRotation({ maxBytes, filesKept: 1, checkMs: 20 });
    const p = spawnManaged({
      name: 'detached',
      command: process.execPath,
      args: ['-e', writerScript(1000, true)],
      logDir: dir,
      detached: true,
    });
    await waitUntil('the detached writer to exit', 20_000, () => (isAlive(p.pid) ? undefined : true));
    const files = sizes(p.logFile);
    assert.deepEqual(files.map((x) => x.f).sort(), ['detached.log', 'detached.log.1']);
    for (const { f, size } of files) assert.ok(size <= 4 * maxBytes, `${f}: ${size} bytes`);
  });

  test('a child that is not detached is told not to rotate (its parent does)', () => {
    const p = spawnManaged({
      name: 'env',
      command: process.execPath,
      args: ['-e', `console.log(JSON.stringify(process.env.${OWN_LOG_FILE_ENV}))`],
      logDir: dir,
      env: { [OWN_LOG_FILE_ENV]: '/somewhere/else.log' },
    });
    return p.exited.then(() => assert.equal(fs.readFileSync(p.logFile, 'utf8').trim(), '""'));
  });
});
