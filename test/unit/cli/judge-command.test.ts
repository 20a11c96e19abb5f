/** cli/judge-command.ts: the cases `serflow judge` runs, as its options pick them. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeCases } from '../../../cli/judge-command';

describe('judge cases', () => {
  test('--shapes, --per-base and --shared none pick the members', () => {
    const cases = judgeCases({ shapes: 'flash', perBase: 2, shared: 'none' });
    assert.deepEqual(
      cases.map((c) => c.id),
      ['flash-b2-s37', 'flash-b2-s38', 'flash-b10-s47', 'flash-b10-s48', 'flash-b50-s57', 'flash-b50-s58'],
    );
    assert.ok(cases.every((c) => c.group === 'flash' && c.trace.durationS === 1800));
  });
  test('an unknown shape or shared trace is named', () => {
    assert.throws(() => judgeCases({ shapes: 'mmpp,spikes' }), /--shapes: unknown "spikes"/);
    assert.throws(() => judgeCases({ shared: 'wits,nope' }), /--shared: unknown "nope"/);
  });
});
