/** The one plain-text table formatter (eval/report/text-table.ts) of the CLI and the benchmarks. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTextTable } from '../../../eval/report/text-table';

describe('formatTextTable', () => {
  const rows = [
    ['policy', 'total $', 'failed'],
    ['serflow', 1.5, 0],
    ['faas-only', 12.25, null],
  ];

  test('labels left, figures right, two spaces between columns, a missing figure as -', () => {
    assert.equal(
      formatTextTable(rows),
      ['policy     total $  failed', 'serflow        1.5       0', 'faas-only    12.25       -'].join('\n'),
    );
  });

  test('leftColumns: 0 aligns every column right, a count of at least the columns every column left', () => {
    assert.equal(
      formatTextTable(rows, { leftColumns: 0 }),
      ['   policy  total $  failed', '  serflow      1.5       0', 'faas-only    12.25       -'].join('\n'),
    );
    assert.equal(
      formatTextTable(rows, { leftColumns: 3 }),
      ['policy     total $  failed', 'serflow    1.5      0     ', 'faas-only  12.25    -     '].join('\n'),
    );
  });

  test('no rows: an empty string', () => {
    assert.equal(formatTextTable([]), '');
  });
});
