/**
 * The bad-input table as Markdown (the fault report's section) and as plain text (a terminal), from the rows of
 * `runBadInputs`. Pure; the one Markdown writer is eval/report/markdown.ts, the one text table eval/report/text-table.ts.
 */
import type { Block } from '../../eval/report/document';
import { toMarkdown } from '../../eval/report/markdown';
import { formatTextTable } from '../../eval/report/text-table';
import type { BadInputRow } from './bad-inputs';

const HEADER = ['input', 'case', 'sent', 'error', 'named', 'lost or stopped'];

function cells(r: BadInputRow): string[] {
  return [r.input, r.case, r.sent, r.error, r.named ? 'yes' : 'NO', r.lostOrStopped ?? '-'];
}

/** One line of counts: rows, named, not named, classes with something lost or stopped. */
export function summarizeBadInputs(rows: readonly BadInputRow[]): string {
  const notNamed = rows.filter((r) => !r.named).length;
  const lost = new Set(rows.filter((r) => r.lostOrStopped).map((r) => r.input));
  return (
    `${rows.length} bad inputs in ${new Set(rows.map((r) => r.input)).size} input classes: ` +
    `${rows.length - notNamed} named, ${notNamed} not named; ` +
    `${lost.size === 0 ? 'nothing lost or stopped' : `something lost or stopped after: ${[...lost].join(', ')}`}`
  );
}

/** The rows as report blocks: a heading, the summary line and the table. */
export function badInputBlocks(rows: readonly BadInputRow[], heading = 'Bad inputs'): Block[] {
  return [
    { type: 'heading', level: 2, text: heading },
    { type: 'paragraph', text: summarizeBadInputs(rows) },
    { type: 'table', header: HEADER, numeric: HEADER.map(() => false), rows: rows.map(cells) },
  ];
}

/** The rows as a Markdown section. */
export function badInputMarkdown(rows: readonly BadInputRow[], heading = 'Bad inputs'): string {
  return toMarkdown(badInputBlocks(rows, heading));
}

/** The rows as an aligned plain-text table (the error cut to `errorWidth` characters). */
export function badInputText(rows: readonly BadInputRow[], errorWidth = 100): string {
  const cut = (s: string) => (s.length > errorWidth ? `${s.slice(0, errorWidth - 3)}...` : s);
  const body = rows.map((r) => [r.input, r.case, r.named ? 'yes' : 'NO', cut(r.error), r.lostOrStopped ?? '-']);
  return `${formatTextTable([['input', 'case', 'named', 'error', 'lost or stopped'], ...body], { leftColumns: 5 })}\n${summarizeBadInputs(rows)}`;
}
