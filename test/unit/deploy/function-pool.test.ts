/**
 * The serverless platform's instance pool (deploy/local/serverless-platform.ts) as a pure state machine:
 * table-driven acquire decisions and keep-alive timelines on virtual time (no processes, no clock); and the pure
 * facts of a function the platform bills and checks by (its memory, a fused function's run).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnknownStageError } from '../../../common/errors';
import {
  EMPTY_POOL,
  acquireInstance,
  checkFunctionRef,
  functionMemoryMb,
  functionName,
  inFlight,
  markReady,
  nextExpiryAt,
  reclaimExpired,
  releaseInstance,
  removeInstance,
  type AcquireDecision,
  type PoolState,
} from '../../../deploy/local/function-pool';
import type { FunctionInstanceInfo, FunctionRef } from '../../../infra/providers';

const SEC = 1_000;
const S1 = { model: 'm', stage: 1, memoryMb: 512 };
const S2 = { model: 'm', stage: 2, memoryMb: 1024 };
/** The fused function of stages 1-4 (one invocation runs them all), and of 1-3. */
const F14 = { model: 'm', stage: 1, lastStage: 4, memoryMb: 2048 };
const F13 = { model: 'm', stage: 1, lastStage: 3, memoryMb: 2048 };

function inst(
  instanceId: string,
  state: FunctionInstanceInfo['state'],
  extra: Partial<FunctionInstanceInfo> = {},
): FunctionInstanceInfo {
  return { instanceId, model: 'm', stage: 1, memoryMb: 512, state, startedAt: 0, invocations: 0, ...extra };
}

const pool = (...instances: FunctionInstanceInfo[]): PoolState => ({ instances });

describe('acquireInstance', () => {
  const cases: Array<{
    label: string;
    state: PoolState;
    fn: FunctionRef & { memoryMb: number };
    limit: number;
    want: AcquireDecision;
  }> = [
    {
      label: 'no instance: cold start',
      state: EMPTY_POOL,
      fn: S1,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'an idle instance of the function: warm',
      state: pool(inst('a', 'idle', { lastUsedAt: 5 })),
      fn: S1,
      limit: 2,
      want: { kind: 'warm', instanceId: 'a' },
    },
    {
      label: 'several idle: the most recently used one (older ones are left to expire)',
      state: pool(inst('old', 'idle', { lastUsedAt: 5 }), inst('recent', 'idle', { lastUsedAt: 9 })),
      fn: S1,
      limit: 4,
      want: { kind: 'warm', instanceId: 'recent' },
    },
    {
      label: 'idle instances of another function do not serve this one: cold',
      state: pool(inst('a', 'idle', { lastUsedAt: 5 })),
      fn: S2,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'the only instance is busy: cold (one request per instance)',
      state: pool(inst('a', 'busy')),
      fn: S1,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'busy + starting = 2 in flight at limit 2: throttled',
      state: pool(inst('a', 'busy'), inst('b', 'starting')),
      fn: S1,
      limit: 2,
      want: { kind: 'throttled', concurrency: 2 },
    },
    {
      label: 'at the limit even an idle warm instance is refused (a warm execution is one more in flight)',
      state: pool(inst('a', 'busy', { stage: 2 }), inst('b', 'busy', { stage: 3 }), inst('c', 'idle')),
      fn: S1,
      limit: 2,
      want: { kind: 'throttled', concurrency: 2 },
    },
    {
      label: 'idle instances do not count: 5 idle + 1 busy at limit 2 still starts',
      state: pool(
        ...['i1', 'i2', 'i3', 'i4', 'i5'].map((id) => inst(id, 'idle', { stage: 3 })),
        inst('busy', 'busy', { stage: 2 }),
      ),
      fn: S1,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'an idle instance of stage 1 alone does not serve the fused function 1-4: cold',
      state: pool(inst('a', 'idle', { lastUsedAt: 5 })),
      fn: F14,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'an idle fused 1-4 instance does not serve stage 1 alone: cold',
      state: pool(inst('f', 'idle', { lastStage: 4, lastUsedAt: 5 })),
      fn: S1,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'an idle fused 1-4 instance does not serve the fused function 1-3: cold',
      state: pool(inst('f', 'idle', { lastStage: 4, lastUsedAt: 5 })),
      fn: F13,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
    {
      label: 'an idle fused 1-4 instance serves the next call of 1-4: warm (its own keep-alive pool)',
      state: pool(inst('a', 'idle', { lastUsedAt: 9 }), inst('f', 'idle', { lastStage: 4, lastUsedAt: 5 })),
      fn: F14,
      limit: 2,
      want: { kind: 'warm', instanceId: 'f' },
    },
    {
      label: 'a fused run in flight is one execution against the limit, whatever its stage count',
      state: pool(inst('f', 'busy', { lastStage: 4 })),
      fn: F14,
      limit: 2,
      want: { kind: 'cold', instanceId: 'new' },
    },
  ];
  for (const c of cases) {
    test(c.label, () => {
      const { state, decision } = acquireInstance(c.state, c.fn, 100, 'new', { accountConcurrency: c.limit });
      assert.deepEqual(decision, c.want);
      if (decision.kind === 'throttled') {
        assert.equal(state, c.state, 'a refused call leaves the pool unchanged');
      } else {
        const picked = state.instances.find((i) => i.instanceId === decision.instanceId);
        assert.equal(picked?.state, decision.kind === 'cold' ? 'starting' : 'busy');
        assert.equal(inFlight(state), inFlight(c.state) + 1, 'the call counts against the limit at once');
      }
    });
  }

  test('a cold start records the function, its memory and the start time', () => {
    const { state } = acquireInstance(EMPTY_POOL, S2, 1_234, 'x', { accountConcurrency: 1 });
    assert.deepEqual(state.instances, [
      { instanceId: 'x', model: 'm', stage: 2, memoryMb: 1024, state: 'starting', startedAt: 1_234, invocations: 0 },
    ]);
  });

  test('a cold start of a fused function records its last stage and its memory', () => {
    const { state } = acquireInstance(EMPTY_POOL, F14, 7, 'f', { accountConcurrency: 1 });
    assert.deepEqual(state.instances, [
      {
        instanceId: 'f',
        model: 'm',
        stage: 1,
        lastStage: 4,
        memoryMb: 2048,
        state: 'starting',
        startedAt: 7,
        invocations: 0,
      },
    ]);
  });

  test('a fused function given lastStage = stage is the stage’s own function (same instances, no lastStage)', () => {
    const s = pool(inst('a', 'idle', { lastUsedAt: 5 }));
    assert.deepEqual(acquireInstance(s, { ...S1, lastStage: 1 }, 9, 'new', { accountConcurrency: 2 }).decision, {
      kind: 'warm',
      instanceId: 'a',
    });
  });
});

describe('lifecycle', () => {
  test('starting → busy (ready) → idle (released) counts the invocation and stamps lastUsedAt', () => {
    let s = acquireInstance(EMPTY_POOL, S1, 0, 'a', { accountConcurrency: 1 }).state;
    assert.equal(inFlight(s), 1);
    s = markReady(s, 'a');
    assert.equal(s.instances[0]?.state, 'busy');
    s = releaseInstance(s, 'a', 250);
    assert.deepEqual(s.instances[0], { ...inst('a', 'idle'), lastUsedAt: 250, invocations: 1 });
    assert.equal(inFlight(s), 0);
  });

  test('markReady leaves an instance that is not starting alone', () => {
    const s = pool(inst('a', 'idle', { lastUsedAt: 3 }));
    assert.deepEqual(markReady(s, 'a'), s);
  });

  test('removeInstance frees its concurrency', () => {
    const s = removeInstance(pool(inst('a', 'busy'), inst('b', 'starting')), 'a');
    assert.deepEqual(
      s.instances.map((i) => i.instanceId),
      ['b'],
    );
    assert.equal(inFlight(s), 1);
  });

  test('at the limit, a call is throttled until one in flight finishes, then it runs warm', () => {
    const limit = { accountConcurrency: 2 };
    let s = acquireInstance(EMPTY_POOL, S1, 0, 'a', limit).state;
    s = acquireInstance(s, S1, 0, 'b', limit).state;
    assert.equal(acquireInstance(s, S1, 10, 'c', limit).decision.kind, 'throttled');
    s = releaseInstance(markReady(markReady(s, 'a'), 'b'), 'a', 20);
    const next = acquireInstance(s, S1, 30, 'c', limit);
    assert.deepEqual(next.decision, { kind: 'warm', instanceId: 'a' });
  });
});

describe('keep-alive timeline (keep-alive 2 s wall)', () => {
  const KEEP = 2 * SEC;
  // a: last used at 1 s; b: last used at 1.5 s; c: busy (never expires while busy).
  const s0 = pool(
    inst('a', 'idle', { lastUsedAt: 1 * SEC }),
    inst('b', 'idle', { lastUsedAt: 1.5 * SEC, stage: 2 }),
    inst('c', 'busy', { lastUsedAt: 0 }),
  );

  const at = (now: number) => reclaimExpired(s0, now, KEEP);

  test('the next expiry is the earliest idle instance: a at 1 s + 2 s = 3 s', () => {
    assert.equal(nextExpiryAt(s0, KEEP), 3 * SEC);
  });
  test('at 2.999 s nothing is reclaimed', () => {
    const r = at(3 * SEC - 1);
    assert.deepEqual(r.reclaimed, []);
    assert.equal(r.state, s0);
  });
  test('at 3 s a is reclaimed; b then expires at 3.5 s', () => {
    const r = at(3 * SEC);
    assert.deepEqual(
      r.reclaimed.map((i) => i.instanceId),
      ['a'],
    );
    assert.equal(nextExpiryAt(r.state, KEEP), 3.5 * SEC);
  });
  test('at 10 s a and b are reclaimed, the busy c is kept, and nothing is left to expire', () => {
    const r = at(10 * SEC);
    assert.deepEqual(
      r.reclaimed.map((i) => i.instanceId),
      ['a', 'b'],
    );
    assert.deepEqual(
      r.state.instances.map((i) => i.instanceId),
      ['c'],
    );
    assert.equal(nextExpiryAt(r.state, KEEP), undefined);
  });
  test('a use at 2.9 s restarts a’s keep-alive: it expires at 4.9 s, not 3 s', () => {
    let s = acquireInstance(s0, S1, 2.9 * SEC, 'new', { accountConcurrency: 10 }).state;
    s = releaseInstance(s, 'a', 2.9 * SEC);
    assert.deepEqual(
      reclaimExpired(s, 3.6 * SEC, KEEP).reclaimed.map((i) => i.instanceId),
      ['b'],
    );
    assert.equal(nextExpiryAt(removeInstance(s, 'b'), KEEP), 4.9 * SEC);
  });
});

describe('functionMemoryMb', () => {
  const FAAS = { memoryMb: 512, stageMemoryMb: { '2': 1024, '3': 2048 } };
  const cases: Array<{ fn: Pick<FunctionRef, 'stage' | 'lastStage'>; want: number; label: string }> = [
    { label: 'a stage without its own setting: the default', fn: { stage: 1 }, want: 512 },
    { label: 'a stage with its own setting', fn: { stage: 3 }, want: 2048 },
    {
      label: 'fused 1-4: the largest of its stages (stage 3’s), not the first’s',
      fn: { stage: 1, lastStage: 4 },
      want: 2048,
    },
    { label: 'fused 1-2: stage 2’s 1 024 over stage 1’s 512', fn: { stage: 1, lastStage: 2 }, want: 1024 },
    { label: 'fused 3-4: stage 3’s, though the last is smaller', fn: { stage: 3, lastStage: 4 }, want: 2048 },
    { label: 'lastStage = stage: the stage’s own', fn: { stage: 2, lastStage: 2 }, want: 1024 },
  ];
  for (const c of cases) test(c.label, () => assert.equal(functionMemoryMb(c.fn, FAAS), c.want));
});

describe('checkFunctionRef (a model of 4 stages)', () => {
  const ok: FunctionRef[] = [
    { model: 'm', stage: 1 },
    { model: 'm', stage: 4 },
    { model: 'm', stage: 1, lastStage: 4 },
    { model: 'm', stage: 2, lastStage: 3 },
    { model: 'm', stage: 3, lastStage: 3 },
  ];
  for (const fn of ok) test(`accepts ${JSON.stringify(fn)}`, () => checkFunctionRef(fn, 4));

  const bad: Array<{ fn: FunctionRef; message: RegExp }> = [
    { fn: { model: 'm', stage: 0 }, message: /m has stages 1\.\.4; there is no function for stage 0/ },
    { fn: { model: 'm', stage: 5, lastStage: 6 }, message: /there is no function for stage 5/ },
    {
      fn: { model: 'm', stage: 1, lastStage: 5 },
      message: /fused function from stage 1 cannot end at lastStage 5 \(expected 1\.\.4\)/,
    },
    { fn: { model: 'm', stage: 3, lastStage: 2 }, message: /from stage 3 cannot end at lastStage 2/ },
    { fn: { model: 'm', stage: 1, lastStage: 2.5 }, message: /lastStage 2\.5/ },
    { fn: { model: 'm', stage: 1, lastStage: '4' as unknown as number }, message: /lastStage "4"/ },
  ];
  for (const c of bad) {
    test(`refuses ${JSON.stringify(c.fn)} as UnknownStageError naming the field`, () => {
      assert.throws(
        () => checkFunctionRef(c.fn, 4),
        (err: unknown) => err instanceof UnknownStageError && c.message.test(err.message),
      );
    });
  }
});

describe('functionName', () => {
  test('a stage’s function and a fused one', () => {
    assert.equal(functionName({ model: 'm', stage: 2 }), 'm stage 2');
    assert.equal(functionName({ model: 'm', stage: 2, lastStage: 2 }), 'm stage 2');
    assert.equal(functionName({ model: 'm', stage: 1, lastStage: 4 }), 'm stages 1-4');
  });
});
