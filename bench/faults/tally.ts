/**
 * What one fault scenario did to the queries, from three independent records: the client's log (what it was told),
 * Temporal (which workflows exist, how many runs, how they ended) and the stage-event stream (one event per
 * executed stage). Pure, so the rules are unit-tested on hand-made records.
 */
import { quantile } from '../../common/stats';
import type { LoggedQuery } from './load-log';

/** A workflow as Temporal's visibility lists it. */
export interface WorkflowSeen {
  workflowId: string;
  /** Runs under this id (a query run twice has two). */
  runs: number;
  /** Status of the latest run: COMPLETED, FAILED, TIMED_OUT, RUNNING, ... */
  status: string;
}

/** The answer the same query gets from the model run directly, without the system in between. */
export interface DirectAnswer {
  label: number;
  exitStage: number;
}

export interface TallyInput {
  queries: readonly LoggedQuery[];
  /** Workflow id of a query id. */
  workflowIdOf: (queryId: string) => string;
  workflows: ReadonlyMap<string, WorkflowSeen>;
  /** One entry per stage event read from the stream. */
  events: readonly { workflowId: string; runId: string; stage: number }[];
  /** Direct answers by query id (queries without one are not checked). */
  direct: ReadonlyMap<string, DirectAnswer>;
  /** Epoch ms the fault was injected. */
  faultAt: number;
}

export interface ScenarioTally {
  /** Queries the client meant to start. */
  intended: number;
  /** Of those, workflows Temporal has (the truth, whatever the client managed to log). */
  started: number;
  /** Intended, never started (a client killed before the start reached Temporal, and not re-submitted). */
  neverStarted: number;
  completed: number;
  /** Failed queries by failure type (each a named error the client was given). */
  failedNamed: Record<string, number>;
  /** Failed with a plain `Error` or no type: not a named error. */
  failedUnnamed: number;
  /** Started but its workflow is gone, or it ended and the client never learnt the outcome. */
  lost: number;
  /** Still running when the client had given up waiting. */
  hung: number;
  /** Workflows with more than one run, plus client ids told more than one outcome. */
  answeredTwice: number;
  /** Completed with a label or exit stage other than the model's own. */
  wrongAnswers: number;
  /** Stage events beyond the first for one (run, stage). */
  duplicateEvents: number;
  /** Stages a completed query ran that have no event. */
  missingEvents: number;
  /** Client-side latency (end − due) of the queries due in the BASELINE_WINDOW_MS before the fault, ms. */
  before: { p50: number | null; p99: number | null };
  after: { p50: number | null; p99: number | null };
  /** Latency above which a query counts as hit by the fault: max(2 × p99 before, p99 before + 250 ms). */
  hitBoundMs: number | null;
  /** Queries that failed or took longer than `hitBoundMs`. */
  hit: number;
  /**
   * From the fault to the first query due after it from which on every query ended ok within `hitBoundMs`; with no
   * query due after the fault, until the last query open at the fault ended. Null: it never recovered.
   */
  recoveryMs: number | null;
}

/** The window before the fault whose latencies are the baseline. */
export const BASELINE_WINDOW_MS = 5_000;

/** Minimum margin of the hit bound over the pre-fault p99, ms: keeps a quiet baseline's p99 from flagging noise. */
export const HIT_BOUND_MIN_MARGIN_MS = 250;

const q = (xs: number[], p: number) => (xs.length ? Math.round(quantile(xs, p)) : null);

export function tallyScenario(input: TallyInput): ScenarioTally {
  const { queries, workflows, faultAt } = input;
  const latency = (x: LoggedQuery) => (x.end ? x.end.at - x.dueAt : null);
  const okLatencies = (xs: LoggedQuery[]) => xs.filter((x) => x.end?.ok).map((x) => latency(x) as number);

  let started = 0;
  let neverStarted = 0;
  let completed = 0;
  let failedUnnamed = 0;
  let lost = 0;
  let hung = 0;
  let answeredTwice = 0;
  let wrongAnswers = 0;
  let missingEvents = 0;
  const failedNamed: Record<string, number> = {};

  const eventsByRunStage = new Map<string, number>();
  const stagesByWorkflow = new Map<string, Set<number>>();
  for (const e of input.events) {
    const key = `${e.workflowId}\u0000${e.runId}\u0000${e.stage}`;
    eventsByRunStage.set(key, (eventsByRunStage.get(key) ?? 0) + 1);
    let set = stagesByWorkflow.get(e.workflowId);
    if (!set) stagesByWorkflow.set(e.workflowId, (set = new Set()));
    set.add(e.stage);
  }
  let duplicateEvents = 0;
  for (const n of eventsByRunStage.values()) duplicateEvents += n - 1;

  for (const x of queries) {
    const wf = workflows.get(input.workflowIdOf(x.id));
    if (x.ends > 1) answeredTwice++;
    if (!wf) {
      if (x.startedAt !== null) lost++;
      else neverStarted++;
      continue;
    }
    started++;
    if (wf.runs > 1) answeredTwice++;
    if (wf.status === 'RUNNING') {
      hung++;
      continue;
    }
    if (!x.end) {
      lost++; // it ended, and nobody was told
      continue;
    }
    if (wf.status === 'COMPLETED' && x.end.ok) {
      completed++;
      const d = input.direct.get(x.id);
      if (d && (d.label !== x.end.label || d.exitStage !== x.end.exitStage)) wrongAnswers++;
      const seen = stagesByWorkflow.get(input.workflowIdOf(x.id)) ?? new Set<number>();
      for (let s = 1; s <= (x.end.exitStage ?? 0); s++) if (!seen.has(s)) missingEvents++;
    } else if (!x.end.ok && x.end.errorType && x.end.errorType !== 'Error') {
      failedNamed[x.end.errorType] = (failedNamed[x.end.errorType] ?? 0) + 1;
    } else if (!x.end.ok) {
      failedUnnamed++;
    } else {
      lost++; // the client was told a result Temporal does not have as completed
    }
  }

  const beforeQ = queries.filter((x) => x.dueAt < faultAt);
  // The steady state just before the fault is the yardstick, not the whole run before it (its first seconds pay the
  // cold starts of the function instances).
  const baselineQ = beforeQ.filter((x) => x.dueAt >= faultAt - BASELINE_WINDOW_MS);
  const afterQ = queries.filter((x) => x.dueAt >= faultAt);
  const before = okLatencies(baselineQ);
  const after = okLatencies(afterQ);
  const p99Before = q(before, 0.99);
  const hitBoundMs = p99Before === null ? null : Math.max(2 * p99Before, p99Before + HIT_BOUND_MIN_MARGIN_MS);
  const isHit = (x: LoggedQuery) => !x.end?.ok || (hitBoundMs !== null && (latency(x) as number) > hitBoundMs);
  const hit = queries.filter(isHit).length;

  let recoveryMs: number | null;
  if (afterQ.length) {
    // The earliest query after which nothing was hit.
    let firstClean = afterQ.length;
    while (firstClean > 0 && !isHit(afterQ[firstClean - 1]!)) firstClean--;
    recoveryMs = firstClean === afterQ.length ? null : afterQ[firstClean]!.dueAt - faultAt;
  } else {
    const openAtFault = beforeQ.filter((x) => !x.end || x.end.at >= faultAt);
    const ends = openAtFault.map((x) => x.end?.at ?? Number.POSITIVE_INFINITY);
    const last = ends.length ? Math.max(...ends) : faultAt;
    recoveryMs = Number.isFinite(last) ? last - faultAt : null;
  }

  return {
    intended: queries.length,
    started,
    neverStarted,
    completed,
    failedNamed,
    failedUnnamed,
    lost,
    hung,
    answeredTwice,
    wrongAnswers,
    duplicateEvents,
    missingEvents,
    before: { p50: q(before, 0.5), p99: p99Before },
    after: { p50: q(after, 0.5), p99: q(after, 0.99) },
    hitBoundMs,
    hit,
    recoveryMs: recoveryMs === null ? null : Math.max(0, Math.round(recoveryMs)),
  };
}
