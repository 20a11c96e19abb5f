/**
 * Plain-text tables for a terminal: every column as wide as its widest cell, two spaces between columns. The one
 * table formatter of the CLI (`serflow sim`, `bench`, `cost`, `profile`) and the benchmarks (bench/overhead,
 * bench/serverless); it lives here, not in cli/, because bench/ sits below cli/ and may not import it. Pure.
 */

/** A cell: text, a number as `String(n)` prints it, or null for a missing figure (printed `-`). */
export type TextCell = string | number | null;

export interface TextTableOptions {
  /**
   * How many leading columns are labels, aligned left; the rest are figures, aligned right so their digits line
   * up. 0 aligns every column right; a number ≥ the column count aligns every column left. @default 1
   */
  leftColumns?: number;
}

/** `rows` (the header first, if any) as aligned lines joined by `\n`, without a trailing newline. */
export function formatTextTable(rows: readonly (readonly TextCell[])[], options: TextTableOptions = {}): string {
  const leftColumns = options.leftColumns ?? 1;
  const cells = rows.map((row) => row.map((c) => (c === null ? '-' : String(c))));
  const columns = Math.max(0, ...cells.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) => row.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}
