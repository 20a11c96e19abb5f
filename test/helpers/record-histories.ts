/**
 * Records the workflow histories the replay test (test/unit/workflows/replay.test.ts) replays: one query per
 * path through `inferenceWorkflow` (exits early and late, VM, serverless, a mixed plan, overflow, claim checks, a
 * stage cap, a rejected input), run on a real embedded stack, each history written as JSON (`writeHistory`), with
 * `index.json` naming the commit and the command that recorded them.
 *
 * Re-record only to add paths: the point of the files is that they were made by the workflow code of an earlier
 * commit, so a change that breaks the replay of queries in flight fails the test.
 *   npm run build && node lib/test/helpers/record-histories.js [--out test/fixtures/histories]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { temporal } from '@temporalio/proto';
import type { InferOptions } from '../../client/serflow-client';
import { PROJECT_ROOT } from '../../common/paths';
import { planFromSpec } from '../../common/routing';
import { createSamplePicker } from '../../eval/workload/samples';
import { resolveTool, TOOLS } from '../../deploy/local/tools';
import { loadManifest } from '../../models/manifest';
import { publishPlan } from './routing';
import { startTestStack, type TestStack } from './test-stack';

const { History } = temporal.api.history.v1;

/**
 * Histories are kept as protobufjs plain objects (64-bit ids as strings, enums by name, bytes in base64), not as
 * the proto3 JSON of `historyToJSON`: the SDK's JSON helpers fail in this install (@temporalio/common and
 * @temporalio/proto resolve two protobufjs majors, "type must be a Type"), while `History.fromObject` reads
 * these back exactly.
 */
export function historyToObject(history: temporal.api.history.v1.IHistory): Record<string, unknown> {
  return History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
}

/** A history written by `historyToObject`, as the History message replay takes. */
export function historyFromObject(json: unknown): temporal.api.history.v1.History {
  return History.fromObject(json as Record<string, unknown>);
}

/** Version of index.json. */
const HISTORY_INDEX_VERSION = 1;

/** Where the recorded histories live, relative to the project root. */
export const HISTORIES_DIR = path.join('test', 'fixtures', 'histories');

export interface RecordedHistory {
  /** File name in the histories folder. */
  file: string;
  workflowId: string;
  /** The path through the workflow this history takes. */
  what: string;
  /** How the query ended. */
  status: 'completed' | 'failed';
}

export interface HistoryIndex {
  v: typeof HISTORY_INDEX_VERSION;
  recordedAt: string;
  commit: string | null;
  command: string;
  histories: RecordedHistory[];
}

interface Scenario {
  name: string;
  what: string;
  /** Routing plan spec (planFromSpec) in force for the query. */
  plan: string;
  overflowAfterMs?: number;
  /** Stage pools scaled to 0 VMs before the query (restored after). */
  emptyStages?: number[];
  options: InferOptions;
}

/** A threshold no exit reaches on the held-out images: the query runs every stage (or up to its cap). */
const NEVER_CONFIDENT = 0.999999;

const SCENARIOS: Scenario[] = [
  { name: 'vm-exit-at-1', what: 'all-vm plan, exits at stage 1', plan: 'all-vm', options: { threshold: 0.5 } },
  {
    name: 'vm-all-stages',
    what: 'all-vm plan, runs every stage',
    plan: 'all-vm',
    options: { threshold: NEVER_CONFIDENT },
  },
  {
    name: 'faas-all-stages',
    what: 'all-serverless plan, runs every stage',
    plan: 'all-faas',
    options: { threshold: NEVER_CONFIDENT },
  },
  {
    name: 'vm-prefix-2',
    what: 'stages 1-2 on VMs, 3-4 serverless',
    plan: 'vm-prefix:2',
    options: { threshold: NEVER_CONFIDENT },
  },
  {
    name: 'overflow-stage-3',
    what: 'all-vm with overflow, stage 3 has no VM: it overflows to serverless',
    plan: 'all-vm',
    overflowAfterMs: 300,
    emptyStages: [3],
    options: { threshold: NEVER_CONFIDENT },
  },
  {
    name: 'claim-check',
    what: 'input and activations through the claim-check store',
    plan: 'all-vm',
    options: { threshold: NEVER_CONFIDENT, inlineActivationMaxBytes: 0 },
  },
  {
    name: 'max-stage-2',
    what: 'a query capped at stage 2',
    plan: 'all-vm',
    options: { threshold: NEVER_CONFIDENT, maxStage: 2 },
  },
  {
    name: 'invalid-input',
    what: 'an input of the wrong shape: fails non-retryable at stage 1',
    plan: 'all-vm',
    options: { dims: [1, 1, 28, 27] },
  },
];

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

async function recordOne(t: TestStack, s: Scenario, n: number, outDir: string): Promise<RecordedHistory> {
  const model = t.config.defaultModel;
  const stages = loadManifest(model, t.config.modelsDir).stages.length;
  for (const k of s.emptyStages ?? []) await t.stack.scaleStage(model, k, 0);
  await publishPlan(t.nc, planFromSpec(s.plan, model, stages, Date.now(), s.overflowAfterMs), stages);
  const sample = createSamplePicker(model, t.config.modelsDir, 1).pick(n);
  const image = s.options.dims ? sample.image.subarray(0, 28 * 27) : sample.image;
  const handle = await t.client.start(image, { ...s.options, queryId: `replay-${s.name}` });
  let status: RecordedHistory['status'] = 'completed';
  try {
    await handle.result();
  } catch {
    status = 'failed';
  }
  for (const k of s.emptyStages ?? []) await t.stack.scaleStage(model, k, 1);
  const history = await t.client.temporal.workflow.getHandle(handle.workflowId).fetchHistory();
  const file = `${s.name}.json`;
  fs.writeFileSync(path.join(outDir, file), `${JSON.stringify(historyToObject(history))}\n`);
  return { file, workflowId: handle.workflowId, what: s.what, status };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: HISTORIES_DIR } } });
  const outDir = path.resolve(PROJECT_ROOT, values.out);
  fs.mkdirSync(outDir, { recursive: true });
  resolveTool(TOOLS.temporal); // fail before starting anything when the servers are not installed
  const t = await startTestStack();
  const histories: RecordedHistory[] = [];
  try {
    for (const [n, s] of SCENARIOS.entries()) {
      process.stderr.write(`[record] ${n + 1}/${SCENARIOS.length} ${s.name}: ${s.what}\n`);
      histories.push(await recordOne(t, s, n, outDir));
    }
  } finally {
    await t.stop();
  }
  const index: HistoryIndex = {
    v: HISTORY_INDEX_VERSION,
    recordedAt: new Date().toISOString(),
    commit: gitCommit(),
    command: `node lib/test/helpers/record-histories.js --out ${values.out}`,
    histories,
  };
  fs.writeFileSync(path.join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  process.stderr.write(`[record] wrote ${histories.length} histories and index.json to ${outDir}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`record-histories: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  });
}
