/** The summary page as Markdown (`index.md`). Pure. */
import type { Block } from './document';

/** Escapes what Markdown (and the HTML it lets through) would read as markup. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

export function toMarkdown(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${escapeMarkdown(b.text)}`);
        break;
      case 'paragraph':
        out.push(escapeMarkdown(b.text));
        break;
      case 'list':
        out.push(
          b.items
            .map((x) => `- ${x.label !== undefined ? `**${escapeMarkdown(x.label)}**: ` : ''}${escapeMarkdown(x.text)}`)
            .join('\n'),
        );
        break;
      case 'table': {
        const row = (cells: string[]) => `| ${cells.map(escapeMarkdown).join(' | ')} |`;
        const rule = `|${b.numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`;
        out.push([row(b.header), rule, ...b.rows.map(row)].join('\n'));
        break;
      }
      case 'code': {
        // a fence longer than any backtick run in the text
        const fence = '`'.repeat(Math.max(3, ...(b.text.match(/`+/g) ?? []).map((s) => s.length + 1)));
        out.push(`${fence}\n${b.text}\n${fence}`);
        break;
      }
      case 'image':
        out.push(`![${escapeMarkdown(b.alt)}](${b.src})`);
        break;
    }
  }
  return out.join('\n\n') + '\n';
}
