import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeVms, filterVms, type VmInstance, type VmState } from '../../../infra/providers';

const vm = (id: string, model: string, stage: number, state: VmState): VmInstance => ({
  id,
  model,
  stage,
  state,
  instanceType: 't',
  launchedAt: 0,
});

const VMS = [
  vm('a', 'm', 1, 'ready'),
  vm('b', 'm', 1, 'booting'),
  vm('c', 'm', 1, 'draining'),
  vm('d', 'm', 1, 'terminated'),
  vm('e', 'm', 2, 'ready'),
  vm('f', 'n', 1, 'ready'),
];
const ids = (list: VmInstance[]) => list.map((v) => v.id).join('');

describe('filterVms / activeVms (every provider lists and sizes its pools with these)', () => {
  test('no filter selects every VM, in order', () => assert.equal(ids(filterVms(VMS)), 'abcdef'));
  test('a model alone selects all its stages', () => assert.equal(ids(filterVms(VMS, { model: 'm' })), 'abcde'));
  test('a stage alone selects it in every model', () => assert.equal(ids(filterVms(VMS, { stage: 1 })), 'abcdf'));
  test('stage 0 (the whole-model pool) is a stage like any other, not "no filter"', () =>
    assert.equal(ids(filterVms(VMS, { stage: 0 })), ''));
  test('a pool counts its booting and ready VMs only', () => assert.equal(ids(activeVms(VMS, 'm', 1)), 'ab'));
});
