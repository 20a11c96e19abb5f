/**
 * The fault suite's short subset (the whole suite is `npm run faults`): a stage VM killed and nats-server killed and
 * started again, each under steady load on a stack of its own. Nothing may be lost, answered twice or hung, every
 * executed stage has one event, and the ledger is within 0.1 % of ground truth (VM lives from /proc, invocations
 * from the instances' own logs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario, type FaultLoad } from '../../bench/faults/run';
import { scenarioByName } from '../../bench/faults/scenarios';
import { LEDGER_TOLERANCE } from '../../bench/faults/truth';

/** The suite's own load (30 s, fault at 10 s): the ledger's 0.1 % is measured on the same VM seconds as there. */
const LOAD: FaultLoad = { rate: 4, durationS: 30, faultAtS: 10, threshold: 0.99 };

for (const name of ['stage-vm', 'nats-server']) {
  test(`fault: ${name}`, async () => {
    const r = await runScenario(scenarioByName(name), LOAD);
    const t = r.tally;
    const where = `${name} (${r.injected}; logs ${r.keptDir ?? 'removed'})`;
    assert.equal(t.intended, LOAD.rate * LOAD.durationS, `${where}: every due query was meant`);
    assert.equal(t.started, t.intended, `${where}: every query started`);
    assert.equal(t.lost, 0, `${where}: lost`);
    assert.equal(t.hung, 0, `${where}: hung`);
    assert.equal(t.answeredTwice, 0, `${where}: answered twice`);
    assert.equal(t.wrongAnswers, 0, `${where}: answers differ from the model run directly`);
    assert.equal(t.failedUnnamed, 0, `${where}: failures without a named error`);
    assert.equal(t.duplicateEvents, 0, `${where}: duplicate stage events`);
    assert.equal(t.missingEvents, 0, `${where}: missing stage events`);
    assert.ok(r.ledger.vm.vms >= 4, `${where}: the VMs of stages 1-4 were watched`);
    assert.deepEqual(r.ledger.vm.unmatched, [], `${where}: every VM that ran was billed and no other`);
    assert.ok(
      Math.abs(r.ledger.vm.diffShare) <= LEDGER_TOLERANCE,
      `${where}: VM seconds billed ${r.ledger.vm.ledgerSeconds} vs lived ${r.ledger.vm.truthSeconds}`,
    );
    assert.ok(r.ledger.faas.truthInvocations > 0, `${where}: functions served stages 3-4`);
    assert.equal(r.ledger.faas.ledgerInvocations, r.ledger.faas.truthInvocations, `${where}: invocations billed`);
    assert.equal(r.pass, true, `${where}: the scenario's verdict`);
  });
}
