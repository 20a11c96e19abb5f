/**
 * Records the workflow histories the replay test (test/unit/workflows/replay.test.ts) replays: one query per
 * path through `inferenceWorkflow` (exits early and late, VM, serverless, a mixed plan, overflow, claim checks, a
 * stage cap, a rejected input, a query without a descriptor and one with a bad descriptor), run on a real embedded
 * stack, each history written as JSON (`historyToObject`), with `index.json` naming the commit and the command
 * that recorded them.
 *
 * Recordings are kept per workflow generation, one folder each under test/fixtures/histories/ (`local-activity`:
 * the code before clients sent model descriptors), and every generation is replayed. Record a new generation when
 * the workflow's paths change, into a new folder; never re-record an existing one: the point of its files is that
 * they were made by the workflow code of an earlier commit, so a change that breaks the replay of queries in
 * flight fails the test.
 *   npm run build && node lib/test/helpers/record-histories.js --name <generation>   (or --out <folder>)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { temporal } from '@temporalio/proto';
import type { InferOptions } from '../../client/serflow-client';
import type { InferenceQuery } from '../../common/contracts';
import { INFERENCE_TASK_QUEUE, inferenceWorkflowId, WHOLE_MODEL_STAGE } from '../../common/naming';
import { PROJECT_ROOT } from '../../common/paths';
import { planFromSpec } from '../../common/routing';
import { inlineTensor } from '../../common/tensor-codec';
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

/** Where the recorded histories live, relative to the project root: one folder per workflow generation. */
export const HISTORIES_DIR = path.join('test', 'fixtures', 'histories');

/**
 * The generation recorded before clients sent model descriptors: every query ran the `describeModel` local
 * activity. Kept for good: queries of that code may be in flight when a deployment is upgraded.
 */
export const LOCAL_ACTIVITY_GENERATION = 'local-activity';

/** The generations under `dir` (folders holding an index.json), sorted by name. */
export function historyGenerations(dir: string = path.join(PROJECT_ROOT, HISTORIES_DIR)): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'index.json')))
    .map((e) => e.name)
    .sort();
}

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
  /** Whole-model VMs launched before the query (scaled back to 0 after): a fused run on VMs needs one. */
  wholeModelVms?: number;
  options: InferOptions;
  /**
   * Start the workflow directly on Temporal, as another SDK would, with the query the client built changed by
   * this (the client itself refuses queries that are wrong, so wrong ones can only arrive this way).
   */
  raw?: (query: InferenceQuery) => InferenceQuery;
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
    what: 'an input of the wrong shape (started without the client, which refuses it): fails non-retryable at stage 1',
    plan: 'all-vm',
    options: {},
    raw: (q) => ({ ...q, input: inlineTensor(new Float32Array(28 * 27).fill(0.5), [1, 1, 28, 27]) }),
  },
  {
    name: 'no-descriptor',
    what: 'a query without a descriptor (another SDK): the describeModel local activity looks the model up',
    plan: 'vm-prefix:2',
    options: { threshold: NEVER_CONFIDENT },
    raw: ({ descriptor: _descriptor, ...q }) => q,
  },
  {
    name: 'fused-vm',
    what: 'all-vm+fuse:1-4: every stage in one activity on the whole-model VM',
    plan: 'all-vm+fuse:1-4',
    wholeModelVms: 1,
    options: { threshold: NEVER_CONFIDENT },
  },
  {
    name: 'fused-vm-exit-at-1',
    what: 'all-vm+fuse:1-4, exits inside the run at stage 1',
    plan: 'all-vm+fuse:1-4',
    wholeModelVms: 1,
    options: { threshold: 0.5 },
  },
  {
    name: 'fused-faas-tail',
    what: 'vm-prefix:1+fuse:2-4: stage 1 on its VM, stages 2-4 in one function invocation',
    plan: 'vm-prefix:1+fuse:2-4',
    options: { threshold: NEVER_CONFIDENT },
  },
  {
    name: 'invalid-descriptor',
    what: 'a descriptor with stageMaxAttempts 0: fails non-retryable before any stage',
    plan: 'all-vm',
    options: {},
    raw: (q) => ({ ...q, descriptor: { ...q.descriptor!, stageMaxAttempts: 0 } }),
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
  if (s.wholeModelVms) await t.stack.scaleStage(model, WHOLE_MODEL_STAGE, s.wholeModelVms);
  await publishPlan(t.nc, planFromSpec(s.plan, model, stages, Date.now(), s.overflowAfterMs), stages, t.client);
  const sample = createSamplePicker(model, t.config.modelsDir, 1).pick(n);
  const options = { ...s.options, queryId: `replay-${s.name}` };
  const workflowId = s.raw
    ? (await startRaw(t, s.raw(await t.client.buildQuery(sample.image, options)))).workflowId
    : (await t.client.start(sample.image, options)).workflowId;
  let status: RecordedHistory['status'] = 'completed';
  try {
    await t.client.temporal.workflow.getHandle(workflowId).result();
  } catch {
    status = 'failed';
  }
  for (const k of s.emptyStages ?? []) await t.stack.scaleStage(model, k, 1);
  if (s.wholeModelVms) await t.stack.scaleStage(model, WHOLE_MODEL_STAGE, 0);
  const history = await t.client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const file = `${s.name}.json`;
  fs.writeFileSync(path.join(outDir, file), `${JSON.stringify(historyToObject(history))}\n`);
  return { file, workflowId, what: s.what, status };
}

/** Start `query` as it is, without the client's checks, memo or search attributes. */
function startRaw(t: TestStack, query: InferenceQuery) {
  return t.client.temporal.workflow.start('inferenceWorkflow', {
    taskQueue: INFERENCE_TASK_QUEUE,
    workflowId: inferenceWorkflowId(query.model, query.queryId),
    args: [query],
  });
}

/** The folder to record into: `--name` (a generation under HISTORIES_DIR) or `--out`; never an existing recording. */
function outputDir(values: { name?: string; out?: string; force?: boolean }): { dir: string; arg: string } {
  if ((values.name === undefined) === (values.out === undefined)) {
    throw new Error('give --name <generation> (a folder under test/fixtures/histories) or --out <folder>');
  }
  if (values.name !== undefined && !/^[a-z0-9][a-z0-9.-]*$/.test(values.name)) {
    throw new Error(`--name ${values.name}: use lowercase letters, digits, dots and dashes`);
  }
  const arg = values.name !== undefined ? `--name ${values.name}` : `--out ${values.out}`;
  const dir = path.resolve(PROJECT_ROOT, values.out ?? path.join(HISTORIES_DIR, values.name!));
  if (dir === path.resolve(PROJECT_ROOT, HISTORIES_DIR)) {
    throw new Error(`${HISTORIES_DIR} holds one folder per generation: record into a folder under it (--name)`);
  }
  if (fs.existsSync(path.join(dir, 'index.json')) && !values.force) {
    throw new Error(`${dir} already holds a recording: record a new generation, or pass --force to replace it`);
  }
  return { dir, arg };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { name: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean', default: false } },
  });
  const { dir: outDir, arg } = outputDir(values);
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
    command: `node lib/test/helpers/record-histories.js ${arg}`,
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
