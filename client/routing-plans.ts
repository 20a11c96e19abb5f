/**
 * The routing plans a client sends with the queries it starts (in their descriptor): a watched copy of the NATS KV
 * routing bucket, opened on the first query, so a query pays no KV round trip, like the workflow worker's copy.
 */
import type { NatsConnection } from 'nats';
import type { StoredPlan } from '../common/routing';
import { openRoutingReader, type RoutingStore } from '../infra/routing-store';

export class RoutingPlans {
  private store?: Promise<RoutingStore | null>;

  /** `nats`: the client's connection, made on demand; absent when the client knows no NATS URL. */
  constructor(private readonly nats?: () => Promise<NatsConnection>) {}

  /**
   * The plan published for `model`, or null: none published, no routing bucket yet, or no NATS known. Null makes
   * every stage run on its VM pool, as the workflow worker's lookup does for a missing plan.
   */
  async get(model: string): Promise<StoredPlan | null> {
    if (!this.nats) return null;
    const store = await (this.store ??= this.open(this.nats));
    return store ? store.get(model) : null;
  }

  private async open(nats: () => Promise<NatsConnection>): Promise<RoutingStore | null> {
    try {
      const store = await openRoutingReader(await nats());
      // No bucket yet: look again at the next query instead of never seeing the first plan published.
      if (!store) this.store = undefined;
      return store;
    } catch (err) {
      this.store = undefined; // a failed open is not remembered: the next query tries again
      throw err;
    }
  }

  /** Stop the watch (before the connection is drained). */
  async close(): Promise<void> {
    const store = await this.store?.catch(() => null);
    store?.close();
    this.store = undefined;
  }
}
