/**
 * The one way a zod validation failure becomes text: one line per issue, naming the field by its path, so every
 * input the system reads (config, manifest, profile, events, requests) reports a bad value the same way.
 */
import type { z } from 'zod';

/** `['stages', 2, 'file']` -> `stages[2].file`; the empty path is `(root)`. */
export function formatIssuePath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

function typeName(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function valueAt(root: unknown, p: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = root;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/**
 * One line per issue, e.g. `stages[2].file: expected string, got number`. With the validated value `raw`, a type
 * mismatch names the type found (zod's own message does not); without it, zod's message stands.
 */
export function formatZodIssues(issues: ReadonlyArray<z.core.$ZodIssue>, raw?: unknown, prefix = ''): string[] {
  return issues.map((issue) => {
    const where = `${prefix}${formatIssuePath(issue.path)}`;
    if (issue.code === 'invalid_type' && raw !== undefined) {
      return `${where}: expected ${issue.expected}, got ${typeName(valueAt(raw, issue.path))}`;
    }
    return `${where}: ${issue.message}`;
  });
}

/** The issues of `error` on one line, `a.b: message; c[0]: message` (for one-line errors and replies). */
export function formatIssues(error: z.ZodError, raw?: unknown, prefix = ''): string {
  return formatZodIssues(error.issues, raw, prefix).join('; ');
}
