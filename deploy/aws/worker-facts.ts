/**
 * What the workers on the instances say about themselves, as the provider needs it: `vm.ready` (the worker polls its
 * queue: the VM serves) and `vm.stopped` (the worker has drained and shut down: its lifecycle action may complete).
 * Both are the billing facts the stage worker publishes anyway (workers/stage-worker.ts), followed on their
 * subjects, so no second channel is needed; a fact that does not parse is ignored (the ledger reports it).
 */
import type { NatsConnection } from 'nats';
import { billingEventSubject, parseBillingEvent } from '../../common/billing-events';
import { listWorkers } from '../../infra/worker-status';

export interface WorkerFact {
  type: 'vm.ready' | 'vm.stopped';
  vmId: string;
  /** Wall epoch ms the worker reported. */
  at: number;
}

/** Where the provider hears from the workers; a fake of it drives the provider's unit tests. */
export interface WorkerFactSource {
  /** Call `onFact` for every fact from now on; returns the function that stops it. */
  follow(onFact: (fact: WorkerFact) => void): () => void;
  /**
   * Ids of the workers polling now (their liveness records in the workers bucket say `running`): how a restarted
   * provider, which missed their `vm.ready`, learns which instances serve.
   */
  running(): Promise<ReadonlySet<string>>;
}

export function natsWorkerFacts(nc: NatsConnection): WorkerFactSource {
  return {
    follow(onFact) {
      const subs = (['vm.ready', 'vm.stopped'] as const).map((type) => {
        const sub = nc.subscribe(billingEventSubject(type));
        void (async () => {
          for await (const m of sub) {
            try {
              const e = parseBillingEvent(m.json());
              if (e.type === 'vm.ready' || e.type === 'vm.stopped') onFact({ type: e.type, vmId: e.vmId, at: e.at });
            } catch {
              // not ours to judge: the ledger reports malformed billing events
            }
          }
        })();
        return sub;
      });
      return () => subs.forEach((s) => s.unsubscribe());
    },
    async running() {
      const records = await listWorkers(nc);
      return new Set(records.filter((r) => r.role === 'stage' && r.state === 'running').map((r) => r.id));
    },
  };
}
