/** Publishes stage outcome events to JetStream, once per executed stage (deduplicated by message id). */
import type { NatsConnection } from 'nats';
import type { StageEvent } from '../common/events';
import { stageEventSubject } from '../common/naming';

export interface StageEventPublisher {
  publish(event: StageEvent): Promise<void>;
}

/** Message id of a stage event: one per (workflow run, stage), so a retried attempt cannot add a second event. */
export function stageEventMsgId(e: Pick<StageEvent, 'workflowId' | 'runId' | 'stage'>): string {
  return `${e.workflowId}:${e.runId}:${e.stage}`;
}

export function createStageEventPublisher(nc: NatsConnection): StageEventPublisher {
  const js = nc.jetstream();
  return {
    async publish(event) {
      const kind = event.type === 'stage.exited' ? 'exited' : event.type === 'stage.continued' ? 'continued' : 'failed';
      await js.publish(stageEventSubject(event.model, event.stage, kind), JSON.stringify(event), {
        msgID: stageEventMsgId(event),
      });
    },
  };
}
