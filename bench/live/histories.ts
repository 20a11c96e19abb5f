/**
 * The Temporal actions each query of a live run caused, counted from its workflow history
 * (billing/history-actions.ts) while the run's stack is still up. A history that cannot be read (the workflow
 * never started, or the server did not answer) is undefined, so the caller can say how it filled the gap.
 */
import type { ActionCounts } from '../../billing/actions';
import { actionsFromHistory } from '../../billing/history-actions';
import type { SerflowClient } from '../../client';

/** Histories read at once: enough to hide the round trips, few enough not to load the dev server. */
export const HISTORY_FETCH_CONCURRENCY = 8;

/** Actions of each workflow in `workflowIds` (same order), or undefined where its history could not be read. */
export async function actionsFromHistories(
  client: SerflowClient,
  workflowIds: readonly string[],
  concurrency = HISTORY_FETCH_CONCURRENCY,
): Promise<Array<ActionCounts | undefined>> {
  const out = new Array<ActionCounts | undefined>(workflowIds.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    while (next < workflowIds.length) {
      const i = next++;
      try {
        const history = await client.temporal.workflow.getHandle(workflowIds[i] as string).fetchHistory();
        out[i] = actionsFromHistory(history);
      } catch {
        out[i] = undefined;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, workflowIds.length)) }, worker));
  return out;
}
