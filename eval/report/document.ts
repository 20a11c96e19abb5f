/** The summary page's document model: blocks that markdown.ts and html.ts render alike. */

export interface ListItem {
  /** Shown in bold before the text. */
  label?: string;
  text: string;
}

export type Block =
  | { type: 'heading'; level: 1 | 2 | 3; text: string }
  | { type: 'paragraph'; text: string }
  | { type: 'list'; items: ListItem[] }
  | { type: 'table'; header: string[]; numeric: boolean[]; rows: string[][] }
  | { type: 'code'; text: string }
  | { type: 'image'; src: string; alt: string };
