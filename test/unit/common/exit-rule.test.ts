/** common/exit-rule.ts: when a query leaves, and which exit answers it. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mostConfident, shouldExit, type ExitCandidate } from '../../../common/exit-rule';

describe('shouldExit', () => {
  const cases: Array<{
    what: string;
    confidence: number;
    threshold: number;
    stage: number;
    lastStage: number;
    want: boolean;
  }> = [
    { what: 'a confident early stage exits', confidence: 0.99, threshold: 0.95, stage: 1, lastStage: 4, want: true },
    {
      what: 'confidence equal to the threshold exits',
      confidence: 0.95,
      threshold: 0.95,
      stage: 2,
      lastStage: 4,
      want: true,
    },
    {
      what: 'an unconfident early stage continues',
      confidence: 0.94,
      threshold: 0.95,
      stage: 1,
      lastStage: 4,
      want: false,
    },
    {
      what: 'an unconfident middle stage continues',
      confidence: 0.2,
      threshold: 0.95,
      stage: 3,
      lastStage: 4,
      want: false,
    },
    { what: 'the last stage always exits', confidence: 0.1, threshold: 0.95, stage: 4, lastStage: 4, want: true },
    {
      what: 'a lowered last stage (maxStage) always exits',
      confidence: 0.1,
      threshold: 0.95,
      stage: 2,
      lastStage: 2,
      want: true,
    },
    { what: 'a single-stage query exits at stage 1', confidence: 0, threshold: 1, stage: 1, lastStage: 1, want: true },
    {
      what: 'threshold 1 needs full confidence',
      confidence: 0.999999,
      threshold: 1,
      stage: 1,
      lastStage: 4,
      want: false,
    },
    { what: 'threshold 1 with full confidence exits', confidence: 1, threshold: 1, stage: 1, lastStage: 4, want: true },
  ];
  for (const c of cases) {
    test(`${c.what}`, () => {
      assert.equal(shouldExit(c.confidence, c.threshold, c.stage, c.lastStage), c.want);
    });
  }
});

describe('mostConfident', () => {
  const e = (stage: number, confidence: number, label = stage): ExitCandidate => ({ stage, label, confidence });

  const cases: Array<{ what: string; exits: ExitCandidate[]; threshold: number; wantStage: number | undefined }> = [
    { what: 'no exits gives undefined', exits: [], threshold: 0.9, wantStage: undefined },
    { what: 'a single confident exit is the answer', exits: [e(1, 0.95)], threshold: 0.9, wantStage: 1 },
    { what: 'a single unconfident exit is still the answer', exits: [e(1, 0.3)], threshold: 0.9, wantStage: 1 },
    {
      what: 'the first confident exit wins even if a later one is more confident',
      exits: [e(1, 0.5), e(2, 0.91), e(3, 0.99)],
      threshold: 0.9,
      wantStage: 2,
    },
    {
      what: 'an exit exactly at the threshold counts as confident',
      exits: [e(1, 0.5), e(2, 0.9), e(3, 0.97)],
      threshold: 0.9,
      wantStage: 2,
    },
    {
      what: 'with no confident exit the most confident one answers',
      exits: [e(1, 0.4), e(2, 0.7), e(3, 0.6), e(4, 0.5)],
      threshold: 0.95,
      wantStage: 2,
    },
    {
      what: 'with no confident exit a tie goes to the earliest',
      exits: [e(1, 0.3), e(2, 0.8), e(3, 0.8), e(4, 0.8)],
      threshold: 0.95,
      wantStage: 2,
    },
    {
      what: 'a later stage that is strictly more confident beats an earlier one',
      exits: [e(1, 0.8), e(2, 0.8000001)],
      threshold: 0.95,
      wantStage: 2,
    },
    {
      what: 'zero confidence everywhere gives the first exit',
      exits: [e(1, 0), e(2, 0)],
      threshold: 0.5,
      wantStage: 1,
    },
  ];
  for (const c of cases) {
    test(`${c.what}`, () => {
      assert.equal(mostConfident(c.exits, c.threshold)?.stage, c.wantStage);
    });
  }

  test('the returned candidate is the original object, extra fields included', () => {
    const exits = [
      { stage: 1, label: 4, confidence: 0.2, worker: 'a' },
      { stage: 2, label: 9, confidence: 0.6, worker: 'b' },
    ];
    const best = mostConfident(exits, 0.95);
    assert.equal(best, exits[1]);
    assert.equal(best?.worker, 'b');
  });
});
