/**
 * The fault suite client's log (load-main.ts): one JSON line per step of a query, appended as it happens, read
 * back by the suite. Lines are checked on read; a torn last line (the client killed mid-write) is skipped.
 */
import { z } from 'zod';

const intent = z.object({
  kind: z.literal('intent'),
  id: z.string().min(1),
  n: z.number().int().nonnegative(),
  /** Epoch ms the open loop meant to start it. */
  dueAt: z.number(),
});
const started = z.object({ kind: z.literal('started'), id: z.string().min(1), at: z.number() });
const ended = z.object({
  kind: z.literal('ended'),
  id: z.string().min(1),
  at: z.number(),
  ok: z.boolean(),
  label: z.number().int().optional(),
  exitStage: z.number().int().optional(),
  /** The workflow's own latency (start to result), beside the client's (due to answered). */
  latencyMs: z.number().optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
});
const lineSchema = z.discriminatedUnion('kind', [intent, started, ended]);
export type LoadLogLine = z.infer<typeof lineSchema>;

/** What the log says of one query id (its first intent, first start, first end). */
export interface LoggedQuery {
  id: string;
  n: number;
  dueAt: number;
  startedAt: number | null;
  end: Extract<LoadLogLine, { kind: 'ended' }> | null;
  /** How many `ended` lines the id has: more than one means a client was told two outcomes. */
  ends: number;
}

export interface ParsedLoadLog {
  queries: LoggedQuery[];
  /** Intents without an end: what a client started again must re-submit. */
  open: LoggedQuery[];
  /** Lines that did not parse (a torn last line is expected after a kill -9). */
  skipped: number;
}

export function parseLoadLog(text: string): ParsedLoadLog {
  const byId = new Map<string, LoggedQuery>();
  let skipped = 0;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let parsed: LoadLogLine;
    try {
      parsed = lineSchema.parse(JSON.parse(raw));
    } catch {
      skipped++;
      continue;
    }
    const q = byId.get(parsed.id);
    if (parsed.kind === 'intent') {
      if (!q)
        byId.set(parsed.id, {
          id: parsed.id,
          n: parsed.n,
          dueAt: parsed.dueAt,
          startedAt: null,
          end: null,
          ends: 0,
        });
      continue;
    }
    if (!q) {
      skipped++;
      continue;
    }
    if (parsed.kind === 'started') q.startedAt ??= parsed.at;
    else {
      q.ends++;
      q.end ??= parsed;
    }
  }
  const queries = [...byId.values()].sort((a, b) => a.n - b.n);
  return { queries, open: queries.filter((q) => q.end === null), skipped };
}
