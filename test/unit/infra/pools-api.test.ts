/**
 * The pool API's bounds (infra/pools-api.ts): a scale request above `pools.maxVmsPerPool` is refused naming the
 * field and the bound, and a reply is kept under its byte bound by leaving out the oldest terminated VMs, then
 * function instances, never a live VM.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodePoolsReply, parsePoolsRequest, POOLS_NAME_MAX_CHARS, type PoolsReply } from '../../../infra/pools-api';
import type { FunctionInstanceInfo, VmInstance } from '../../../infra/providers';

const limits = { maxVmsPerPool: 64 };

function vm(i: number, state: VmInstance['state']): VmInstance {
  return {
    id: `vm-${i}`,
    model: 'mnist-ee',
    stage: 1 + (i % 4),
    instanceType: 'c6i.large',
    state,
    launchedAt: 1_000 + i,
    ...(state === 'terminated' ? { terminatedAt: 10_000 + i } : {}),
    pid: 1000 + i,
  };
}

function fn(i: number, state: FunctionInstanceInfo['state']): FunctionInstanceInfo {
  return { instanceId: `fn-${i}`, model: 'mnist-ee', stage: 1, memoryMb: 512, state, startedAt: i, invocations: i };
}

function reply(live: number, terminated: number, functions: FunctionInstanceInfo[] = []): PoolsReply & { ok: true } {
  return {
    ok: true,
    vms: [
      ...Array.from({ length: live }, (_, i) => vm(i, 'ready')),
      // Listed out of order: the oldest (smallest terminatedAt) must go first whatever the order.
      ...Array.from({ length: terminated }, (_, i) => vm(10_000 + ((i * 7) % terminated), 'terminated')),
    ],
    functions,
    models: [{ model: 'mnist-ee', stages: 4 }],
  };
}

describe('parsePoolsRequest', () => {
  test('scale up to the bound is accepted; above it is refused naming vms and pools.maxVmsPerPool', () => {
    const ok = parsePoolsRequest({ op: 'scale', model: 'm', stage: 1, vms: 64 }, limits);
    assert.deepEqual(ok, { ok: true, request: { op: 'scale', model: 'm', stage: 1, vms: 64 } });
    const over = parsePoolsRequest({ op: 'scale', model: 'm', stage: 1, vms: 65 }, limits);
    assert.equal(over.ok, false);
    assert.match(!over.ok ? over.error : '', /vms: 65 is above .*pools\.maxVmsPerPool = 64/);
  });

  test('a bad shape names the field; an over-long model name is refused', () => {
    const bad = parsePoolsRequest({ op: 'scale', model: 'm', stage: 1, vms: -1 }, limits);
    assert.match(!bad.ok ? bad.error : '', /bad pools request: .*vms/);
    const long = parsePoolsRequest({ op: 'drain', model: 'x'.repeat(POOLS_NAME_MAX_CHARS + 1), stage: 1 }, limits);
    assert.match(!long.ok ? long.error : '', /model/);
  });
});

describe('encodePoolsReply', () => {
  test('a reply under the bound is sent as it is', () => {
    const r = reply(4, 3);
    assert.equal(encodePoolsReply(r, 512 * 1024), JSON.stringify(r));
  });

  test('over the bound: the oldest terminated VMs are left out first, every live VM stays, omitted says how many', () => {
    const r = reply(20, 5_000);
    const max = 64 * 1024;
    assert.ok(JSON.stringify(r).length > max, 'the test reply is over the bound');
    const out = encodePoolsReply(r, max);
    assert.ok(Buffer.byteLength(out) <= max, `${Buffer.byteLength(out)} bytes`);
    const back = JSON.parse(out) as PoolsReply & { ok: true };
    assert.equal(back.vms.filter((v) => v.state !== 'terminated').length, 20);
    const kept = back.vms.filter((v) => v.state === 'terminated');
    assert.equal(back.omitted?.terminatedVms, 5_000 - kept.length);
    assert.equal(back.omitted?.functions, 0);
    const oldestKept = Math.min(...kept.map((v) => v.terminatedAt!));
    const allTerminated = r.vms.filter((v) => v.state === 'terminated').map((v) => v.terminatedAt!);
    assert.equal(
      allTerminated.filter((t) => t < oldestKept).length,
      back.omitted?.terminatedVms,
      'the left-out ones are exactly the oldest',
    );
    assert.ok(Buffer.byteLength(out) > max - 2_000, 'no more was left out than needed');
  });

  test('then function instances, idle before busy; with only live VMs over the bound, an error naming the bound', () => {
    const functions = [
      ...Array.from({ length: 400 }, (_, i) => fn(i, 'busy')),
      ...Array.from({ length: 400 }, (_, i) => fn(400 + i, 'idle')),
    ];
    const out = JSON.parse(encodePoolsReply(reply(2, 10, functions), 48 * 1024)) as PoolsReply & { ok: true };
    assert.equal(out.omitted?.terminatedVms, 10);
    assert.ok(out.omitted.functions > 0);
    const omittedFns = out.omitted.functions;
    assert.equal(out.functions.length, 800 - omittedFns);
    assert.equal(
      out.functions.filter((f) => f.state === 'busy').length,
      Math.min(400, 800 - omittedFns),
      'idle instances are left out before busy ones',
    );
    const tooMany = JSON.parse(encodePoolsReply(reply(500, 0), 8 * 1024)) as PoolsReply;
    assert.equal(tooMany.ok, false);
    assert.match(!tooMany.ok ? tooMany.error : '', /8192 bytes .*pools\.replyMaxBytes/);
  });
});
