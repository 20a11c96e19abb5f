/** deploy/aws/lambda-report.ts: the REPORT line of Lambda's tail log → the invocation's billing facts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatReportLine,
  LambdaReportError,
  parseLogResult,
  parseReportLine,
} from '../../../../deploy/aws/lambda-report';

/** A cold start's tail as Lambda writes it (tab-separated fields), after the function's own log lines. */
const COLD_TAIL = [
  'START RequestId: 6bc28136-xmpl-4365-b021-0ce6b2e64ab0 Version: $LATEST',
  '2026-12-02T04:00:00.000Z\t6bc28136\tINFO\tloading stage 1',
  'END RequestId: 6bc28136-xmpl-4365-b021-0ce6b2e64ab0',
  'REPORT RequestId: 6bc28136-xmpl-4365-b021-0ce6b2e64ab0\tDuration: 12.34 ms\tBilled Duration: 263 ms\tMemory Size: 512 MB\tMax Memory Used: 88 MB\tInit Duration: 250.21 ms\t',
  '',
].join('\n');

describe('parseReportLine', () => {
  test('a cold start: Duration, Billed Duration, Memory Size, Max Memory Used and Init Duration', () => {
    assert.deepEqual(parseReportLine(COLD_TAIL), {
      requestId: '6bc28136-xmpl-4365-b021-0ce6b2e64ab0',
      durationMs: 12.34,
      billedDurationMs: 263,
      memorySizeMb: 512,
      maxMemoryUsedMb: 88,
      initDurationMs: 250.21,
    });
  });

  test('a warm invocation has no Init Duration', () => {
    const r = parseReportLine(
      'REPORT RequestId: abc\tDuration: 3.05 ms\tBilled Duration: 4 ms\tMemory Size: 1024 MB\tMax Memory Used: 90 MB\n',
    );
    assert.equal(r.initDurationMs, undefined);
    assert.equal('initDurationMs' in r, false);
    assert.equal(r.durationMs, 3.05, 'Duration, not Billed Duration');
    assert.equal(r.memorySizeMb, 1024);
  });

  test('base64 LogResult is decoded first', () => {
    assert.equal(parseLogResult(Buffer.from(COLD_TAIL).toString('base64')).initDurationMs, 250.21);
  });

  test('no REPORT line, or none at all: LambdaReportError saying so', () => {
    assert.throws(() => parseReportLine('START RequestId: x\nEND RequestId: x\n'), {
      name: 'LambdaReportError',
      message: /no REPORT line/,
    });
    assert.throws(() => parseLogResult(undefined), {
      name: 'LambdaReportError',
      message: /no LogResult.*LogType Tail/,
    });
  });

  test('a REPORT line without a field the bill needs names the missing fields', () => {
    assert.throws(
      () => parseReportLine('REPORT RequestId: x\tDuration: 1 ms\tMax Memory Used: 1 MB'),
      (err: Error) => err instanceof LambdaReportError && /lacks billedDurationMs, memorySizeMb/.test(err.message),
    );
  });

  test('formatReportLine writes what parseReportLine reads (cold and warm)', () => {
    const cold = {
      requestId: 'r1',
      durationMs: 7.25,
      billedDurationMs: 108,
      memorySizeMb: 512,
      maxMemoryUsedMb: 70,
      initDurationMs: 100.5,
    };
    assert.deepEqual(parseReportLine(formatReportLine(cold)), cold);
    const { initDurationMs: _, ...warm } = cold;
    assert.deepEqual(parseReportLine(formatReportLine(warm)), warm);
  });
});
