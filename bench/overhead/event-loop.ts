/** The stack workers' event-loop delay while the pipeline runs, from their liveness records (NATS KV). */
import type { NatsConnection } from 'nats';
import { listWorkers } from '../../infra/worker-status';
import { round } from './round';

export interface LoopDelay {
  samples: number;
  stageMaxP99Ms: number | null;
  stageMaxMaxMs: number | null;
  workflowMaxP99Ms: number | null;
  workflowMaxMaxMs: number | null;
}

/** Polls the worker records (refreshed every heartbeat) until stopped; keeps the worst event-loop delay seen. */
export function sampleEventLoop(nc: NatsConnection, everyMs: number): { stop(): Promise<LoopDelay> } {
  const acc = { samples: 0, stageP99: -Infinity, stageMax: -Infinity, wfP99: -Infinity, wfMax: -Infinity };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        for (const w of await listWorkers(nc)) {
          if (w.role === 'stage') {
            acc.stageP99 = Math.max(acc.stageP99, w.eventLoopDelayMs.p99);
            acc.stageMax = Math.max(acc.stageMax, w.eventLoopDelayMs.max);
          } else {
            acc.wfP99 = Math.max(acc.wfP99, w.eventLoopDelayMs.p99);
            acc.wfMax = Math.max(acc.wfMax, w.eventLoopDelayMs.max);
          }
        }
        acc.samples++;
      } catch {
        // a missed sample is fine
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return {
        samples: acc.samples,
        stageMaxP99Ms: round(acc.stageP99),
        stageMaxMaxMs: round(acc.stageMax),
        workflowMaxP99Ms: round(acc.wfP99),
        workflowMaxMaxMs: round(acc.wfMax),
      };
    },
  };
}
