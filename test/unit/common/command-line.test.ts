/** common/command-line.ts: the command a result file records, with the configuration variables that shaped it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandLine } from '../../../common/command-line';

test('plain arguments stay as typed; others are quoted for a shell', () => {
  assert.equal(
    commandLine('serflow', ['sim', '--trace', 'wits', '--slo', '200ms'], {}),
    'serflow sim --trace wits --slo 200ms',
  );
  assert.equal(commandLine('serflow', ['sim', '--note', "it's on"], {}), `serflow sim --note 'it'\\''s on'`);
});

test('a configuration given in the environment is part of the line; other variables are not', () => {
  const env = { SERFLOW_CONFIG_JSON: '{"prices":{"vmPerHourUsd":{"c6i.large":0.002}}}', HOME: '/root' };
  assert.equal(
    commandLine('serflow', ['bench'], env),
    `SERFLOW_CONFIG_JSON='{"prices":{"vmPerHourUsd":{"c6i.large":0.002}}}' serflow bench`,
  );
  assert.equal(
    commandLine('serflow', ['bench'], { SERFLOW_CONFIG: 'my.json' }),
    'SERFLOW_CONFIG=my.json serflow bench',
  );
});
