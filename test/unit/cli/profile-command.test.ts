/** cli/profile-command.ts: the per-stage table `serflow profile` prints, drawn by the one text-table formatter. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../autoscaler/profile';
import { formatProfileTable } from '../../../cli/profile-command';

describe('formatProfileTable', () => {
  const profile = loadProfile('mnist-ee');
  const lines = formatProfileTable(profile).split('\n');
  const table = lines.slice(2, 3 + profile.stages.length);

  test('a title, a legend, the header, one row per stage and the memory options', () => {
    assert.equal(lines.length, 4 + profile.stages.length);
    assert.match(lines[0]!, new RegExp(`^mnist-ee at threshold ${profile.threshold}, `));
    assert.match(lines[1]!, /^times in ms; vm1 = one inference thread/);
    assert.match(lines.at(-1)!, /^function memory options \(times × cpuSlowdown = max\(1, 1769 \/ MB\)\): 512 MB ×/);
  });

  test('every cell is there, in order, and the columns line up on the right', () => {
    const threads = [...new Set(profile.stages.flatMap((s) => s.vm.map((o) => o.threads)))].sort((a, b) => a - b);
    const head = ['stage', 'vm1 p50', 'vm1 p95', 'vm1 p99', ...threads.map((t) => `vm${t} /s`)];
    head.push('fn p50', 'fn p95', 'cold p50', 'cold max', 'act B', 'q_k', 'p_k');
    assert.deepEqual(table[0]!.trim().split(/ {2,}/), head);
    profile.stages.forEach((s, i) => {
      const vm1 = s.vm.find((o) => o.threads === 1)!;
      const want = [
        String(s.stage),
        vm1.serviceMs.p50.toFixed(3),
        vm1.serviceMs.p95.toFixed(3),
        vm1.serviceMs.p99.toFixed(3),
        ...threads.map((t) => s.vm.find((o) => o.threads === t)!.throughputPerSec.toFixed(0)),
        s.faasMeasured.serviceMs.p50.toFixed(3),
        s.faasMeasured.serviceMs.p95.toFixed(3),
        s.faasMeasured.coldStartMs.p50.toFixed(1),
        s.faasMeasured.coldStartMs.max.toFixed(1),
        String(s.activationBytes),
        s.exitShare.toFixed(4),
        s.reachProbability.toFixed(4),
      ];
      assert.deepEqual(table[i + 1]!.trim().split(/ +/), want, `stage ${s.stage}`);
    });
    assert.equal(new Set(table.map((l) => l.length)).size, 1, 'every line of the table is as wide');
  });
});
