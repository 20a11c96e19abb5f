/** common/control-events.ts: the versioned decision-record schema and its parser. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision, Observation } from '../../../autoscaler/types';
import {
  DECISION_RECORD_VERSION,
  InvalidDecisionRecordError,
  parseDecisionRecord,
  type DecisionRecord,
} from '../../../common/control-events';

/**
 * The schema restates the policy contracts of autoscaler/types.ts (common/ may not import autoscaler/): this
 * fails to compile when one of them gains, loses or retypes a field the other does not.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const observationMatches: Same<DecisionRecord['observation'], Observation> = true;
const decisionMatches: Same<DecisionRecord['decision'], Decision> = true;

/** A record as the controller writes it: a SERFLOW tick that scaled stage 1 and published a plan. */
const good: DecisionRecord = {
  v: DECISION_RECORD_VERSION,
  type: 'autoscaler.decision',
  model: 'mnist-ee',
  policy: 'serflow',
  at: 1_700_000_010_000,
  wallAt: 1_700_000_001_000,
  observation: {
    now: 1_700_000_010_000,
    model: 'mnist-ee',
    windowMs: 1000,
    stages: [
      { stage: 1, arrivals: 23, exits: 11, vmExecutions: 0, faasExecutions: 23 },
      { stage: 2, arrivals: 12, exits: 12, vmExecutions: 4, faasExecutions: 8, vmQueueP95Ms: 3.5, vmQueued: 0 },
    ],
    pools: [
      { stage: 0, vmsReady: 0, vmsBooting: 0, vmsDraining: 0 },
      { stage: 1, vmsReady: 0, vmsBooting: 0, vmsDraining: 0 },
      { stage: 2, vmsReady: 1, vmsBooting: 1, vmsDraining: 1 },
    ],
  },
  decision: {
    valid: true,
    wholeModelVms: 0,
    vmQuotaPerTick: 4,
    stages: [
      { stage: 1, desiredVms: 3, vmShare: 0, overflowAfterMs: 200, reason: 'share 23 → 3 VMs' },
      { stage: 2, desiredVms: 0, vmShare: 1, reason: 'share 2 < T-CIP' },
    ],
    reason: 'tick',
  },
  actions: ['stage 1: VMs 0 -> 3', 'plan: 1:0.00 2:1.00'],
};

/** Marks a field to delete in `withField`. */
const MISSING = Symbol('missing');

/** A deep copy of `good` with the field at `path` set to `value` (or deleted, for MISSING). */
function withField(path: PropertyKey[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(good)) as Record<PropertyKey, unknown>;
  let parent = copy;
  for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<PropertyKey, unknown>;
  const last = path[path.length - 1] as PropertyKey;
  if (value === MISSING) delete parent[last];
  else parent[last] = value;
  return copy;
}

/** Parsing `raw` fails with InvalidDecisionRecordError whose message says where and has an issue on `field`. */
function assertRejectedAt(raw: unknown, field: string): void {
  assert.throws(
    () => parseDecisionRecord(raw, 'SERFLOW_CONTROL'),
    (err: unknown) => {
      assert.ok(err instanceof InvalidDecisionRecordError, `expected InvalidDecisionRecordError, got ${String(err)}`);
      assert.equal(err.name, 'InvalidDecisionRecordError');
      assert.ok(err.message.includes('(SERFLOW_CONTROL)'), `message does not say where: ${err.message}`);
      // One `field: message` per issue after the prefix.
      const issues = err.message.slice(err.message.indexOf('): ') + 3).split('; ');
      assert.ok(
        issues.some((i) => i.startsWith(`${field}: `)),
        `message does not name ${field}: ${err.message}`,
      );
      return true;
    },
  );
}

describe('parseDecisionRecord accepts', () => {
  test('the schema and the policy contracts describe the same observation and decision', () => {
    assert.equal(observationMatches && decisionMatches, true);
  });

  test('a record as the controller writes it, unchanged after a JSON round trip', () => {
    assert.deepEqual(parseDecisionRecord(JSON.parse(JSON.stringify(good)), 'test'), good);
  });

  test('a "no data" record: invalid decision, no stage, first tick (window 0), no action', () => {
    const noData: DecisionRecord = {
      ...good,
      observation: { ...good.observation, windowMs: 0 },
      decision: { valid: false, stages: [], reason: 'no-data' },
      actions: [],
    };
    assert.deepEqual(parseDecisionRecord(JSON.parse(JSON.stringify(noData)), 'test'), noData);
  });
});

describe('parseDecisionRecord names the bad field', () => {
  const cases: { why: string; raw: unknown; field: string }[] = [
    { why: 'not an object', raw: null, field: '(root)' },
    { why: 'a later schema version', raw: withField(['v'], 2), field: 'v' },
    { why: 'no version', raw: withField(['v'], MISSING), field: 'v' },
    { why: 'another message type', raw: withField(['type'], 'autoscaler.tick'), field: 'type' },
    { why: 'an empty model', raw: withField(['model'], ''), field: 'model' },
    { why: 'no policy', raw: withField(['policy'], MISSING), field: 'policy' },
    { why: 'a string time', raw: withField(['wallAt'], '2024-01-01'), field: 'wallAt' },
    { why: 'no policy time', raw: withField(['at'], MISSING), field: 'at' },
    { why: 'a negative window', raw: withField(['observation', 'windowMs'], -1), field: 'observation.windowMs' },
    {
      why: 'a fractional arrival count',
      raw: withField(['observation', 'stages', 1, 'arrivals'], 1.5),
      field: 'observation.stages[1].arrivals',
    },
    {
      why: 'a negative queue p95',
      raw: withField(['observation', 'stages', 1, 'vmQueueP95Ms'], -3),
      field: 'observation.stages[1].vmQueueP95Ms',
    },
    {
      why: 'a negative pool count',
      raw: withField(['observation', 'pools', 2, 'vmsReady'], -1),
      field: 'observation.pools[2].vmsReady',
    },
    { why: 'a string validity', raw: withField(['decision', 'valid'], 'yes'), field: 'decision.valid' },
    {
      why: 'a fractional whole-model pool',
      raw: withField(['decision', 'wholeModelVms'], 2.5),
      field: 'decision.wholeModelVms',
    },
    {
      why: 'a negative VM count',
      raw: withField(['decision', 'stages', 0, 'desiredVms'], -1),
      field: 'decision.stages[0].desiredVms',
    },
    {
      why: 'a VM share above 1',
      raw: withField(['decision', 'stages', 1, 'vmShare'], 1.5),
      field: 'decision.stages[1].vmShare',
    },
    {
      why: 'a zero overflow (a plan needs it positive)',
      raw: withField(['decision', 'stages', 0, 'overflowAfterMs'], 0),
      field: 'decision.stages[0].overflowAfterMs',
    },
    { why: 'no decision reason', raw: withField(['decision', 'reason'], MISSING), field: 'decision.reason' },
    { why: 'a non-string action', raw: withField(['actions', 0], 1), field: 'actions[0]' },
  ];
  for (const c of cases) {
    test(`${c.why} → ${c.field}`, () => assertRejectedAt(c.raw, c.field));
  }

  test('a type mismatch says what was found', () => {
    assert.throws(() => parseDecisionRecord(withField(['wallAt'], '2024-01-01'), 'KV serflow-autoscaler/m'), {
      name: 'InvalidDecisionRecordError',
      message: 'invalid decision record (KV serflow-autoscaler/m): wallAt: expected number, got string',
    });
  });
});
