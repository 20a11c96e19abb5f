/**
 * The early-exit rule, shared by the workflow and every tool that replays it (tests, benchmarks):
 * a query exits at the first stage whose max softmax is >= threshold; if none is confident, the answer
 * is the most confident exit seen (ties: the earliest), while the query has still run every stage.
 * Pure and sandbox-safe.
 */

export interface ExitCandidate {
  stage: number;
  label: number;
  confidence: number;
}

/** Whether a query leaves after this stage. */
export function shouldExit(confidence: number, threshold: number, stage: number, lastStage: number): boolean {
  return confidence >= threshold || stage >= lastStage;
}

/** The exit that answers the query: the first confident one, else the most confident (earliest on ties). */
export function mostConfident<T extends ExitCandidate>(exits: readonly T[], threshold: number): T | undefined {
  const confident = exits.find((e) => e.confidence >= threshold);
  if (confident) return confident;
  let best: T | undefined;
  for (const e of exits) if (!best || e.confidence > best.confidence) best = e;
  return best;
}
