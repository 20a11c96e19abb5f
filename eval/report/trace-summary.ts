/** The `trace` block of a comparison report, the same for `sim` and `bench`. Pure. */
import { traceStats, type Trace } from '../workload/traces';
import type { ComparisonReport } from './types';

/** `trace` as replayed (already windowed and scaled), with the rate factor and window start that made it. */
export function traceSummary(trace: Trace, rateFactor: number, startS: number): ComparisonReport['trace'] {
  const stats = traceStats(trace);
  return {
    name: trace.name,
    source: trace.source,
    rateFactor,
    startS,
    durationS: trace.durationS,
    queries: stats.queries,
    meanRate: stats.meanRate,
    peakRate: stats.peakRate,
  };
}
