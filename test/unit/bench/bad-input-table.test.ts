/** The bad-input table's rule for a named error, and its Markdown and text forms. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isNamed, type BadInputRow } from '../../../bench/faults/bad-inputs';
import { badInputMarkdown, badInputText, summarizeBadInputs } from '../../../bench/faults/bad-input-table';

describe('isNamed', () => {
  const cases: [string, { errorClass: string; message: string }, string[], boolean][] = [
    [
      'a specific class naming the field',
      { errorClass: 'ConfigError', message: 'stages.timeoutMs: too small' },
      ['stages.timeoutMs'],
      true,
    ],
    ['a specific class not naming it', { errorClass: 'ConfigError', message: 'invalid' }, ['stages.timeoutMs'], false],
    [
      'a plain Error naming it',
      { errorClass: 'Error', message: 'stages.timeoutMs: too small' },
      ['stages.timeoutMs'],
      false,
    ],
    ['a TypeError', { errorClass: 'TypeError', message: 'dims.join is not a function' }, ['dims'], false],
    [
      'a crash inside a specific class',
      { errorClass: 'exit 1', message: 'TypeError: x\n    at f (a.js:1)' },
      ['x'],
      false,
    ],
    ['silent acceptance', { errorClass: 'accepted', message: '' }, [''], false],
    [
      'a CLI exit naming the flag',
      { errorClass: 'exit 1', message: "option '--samples <n>' argument '-5' is invalid" },
      ['--samples'],
      true,
    ],
  ];
  for (const [what, outcome, names, want] of cases) {
    test(`${what}: ${want ? 'named' : 'not named'}`, () => assert.equal(isNamed(outcome, names), want));
  }
});

describe('the table', () => {
  const rows: BadInputRow[] = [
    { input: 'config', case: 'a | pipe', sent: '{"a": 1}', error: 'ConfigError: a: bad', named: true },
    {
      input: 'SDK query',
      case: 'NaN',
      sent: 'input[5] = NaN',
      error: 'TypeError: x',
      named: false,
      lostOrStopped: 'worker stopped',
    },
  ];

  test('the summary counts named rows and names the classes where something was lost', () => {
    assert.equal(
      summarizeBadInputs(rows),
      '2 bad inputs in 2 input classes: 1 named, 1 not named; something lost or stopped after: SDK query',
    );
  });

  test('Markdown: one row per input, pipes escaped, the header first', () => {
    const md = badInputMarkdown(rows);
    const lines = md.trim().split('\n');
    assert.equal(lines[0], '## Bad inputs');
    assert.equal(lines[4], '| input | case | sent | error | named | lost or stopped |');
    assert.equal(lines[6], '| config | a \\| pipe | {"a": 1} | ConfigError: a: bad | yes | - |');
    assert.equal(lines[7], '| SDK query | NaN | input\\[5\\] = NaN | TypeError: x | NO | worker stopped |');
  });

  test('text: aligned columns and the summary last', () => {
    const text = badInputText(rows).split('\n');
    assert.match(text[0]!, /^input {6}case {6}named {2}error {16}lost or stopped/);
    assert.match(text.at(-1)!, /^2 bad inputs/);
  });
});
