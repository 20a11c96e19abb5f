/** Read every stage event in the JetStream stream (an ordered consumer from the start), for assertions. */
import type { NatsConnection } from 'nats';
import { parseStageEvent, type StageEvent } from '../../common/events';
import { STAGE_EVENTS_STREAM } from '../../common/naming';

export async function readAllStageEvents(nc: NatsConnection): Promise<StageEvent[]> {
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(STAGE_EVENTS_STREAM);
  const out: StageEvent[] = [];
  if (state.messages === 0) return out;
  const consumer = await nc.jetstream().consumers.get(STAGE_EVENTS_STREAM); // ordered, from the first message
  // Read up to the last sequence that existed when we looked; later events are not part of this snapshot.
  while (out.length < state.messages) {
    const m = await consumer.next({ expires: 5_000 });
    if (!m) throw new Error(`stage events: got ${out.length} of ${state.messages} before timing out`);
    out.push(parseStageEvent(m.json()));
    if (m.seq >= state.last_seq) break;
  }
  return out;
}

/** Events grouped by query id. */
export function byQuery(events: StageEvent[]): Map<string, StageEvent[]> {
  const map = new Map<string, StageEvent[]>();
  for (const e of events) map.set(e.queryId, [...(map.get(e.queryId) ?? []), e]);
  for (const list of map.values()) list.sort((a, b) => a.stage - b.stage);
  return map;
}
