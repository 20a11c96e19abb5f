/**
 * Where the controller writes what it decided: every record on the control stream (the run's history, read by
 * the live bench) and the latest per model in a KV bucket (what `serflow plan` shows). Behind an interface so
 * the controller is tested without NATS (test/helpers/controller-fakes.ts).
 */
import type { NatsConnection } from 'nats';
import type { DecisionRecord } from '../common/control-events';
import { AUTOSCALER_BUCKET, CONTROL_SUBJECT_PREFIX } from '../common/naming';

export interface DecisionRecorder {
  record(record: DecisionRecord): Promise<void>;
}

export function createNatsDecisionRecorder(nc: NatsConnection): DecisionRecorder {
  const js = nc.jetstream();
  return {
    async record(record) {
      const json = JSON.stringify(record);
      await js.publish(`${CONTROL_SUBJECT_PREFIX}.decision.${record.model}`, json);
      await (await js.views.kv(AUTOSCALER_BUCKET)).put(record.model, json);
    },
  };
}
