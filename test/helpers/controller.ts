/**
 * A live autoscaler running in the test process (`runAutoscaler` with an `until` promise), so a test can stop it,
 * and a recorder of its decision records.
 */
import type { NatsConnection } from 'nats';
import type { DecisionRecord } from '../../common/control-events';
import { runAutoscaler } from '../../autoscaler/service';
import { CONTROL_SUBJECT_PREFIX } from '../../common/naming';
import type { PolicyName } from '../../autoscaler/types';
import type { TestStack } from './test-stack';

export interface RunningController {
  log: string[];
  stop(): Promise<void>;
}

export function startController(t: TestStack, model: string, policy: PolicyName): RunningController {
  let resolve!: () => void;
  const until = new Promise<void>((r) => (resolve = r));
  const log: string[] = [];
  let failure: Error | undefined;
  const done = runAutoscaler({
    config: t.config,
    natsUrl: t.stack.info.natsUrl,
    model,
    policy,
    until,
    log: (line) => log.push(`${new Date().toISOString()} ${line}`),
  }).catch((err: Error) => void (failure = err));
  return {
    log,
    async stop() {
      resolve();
      await done;
      if (failure) throw failure;
    },
  };
}

/**
 * Every decision record the autoscaler of `model` publishes from now on (core NATS subscription), appended in
 * order to `records`.
 */
export function recordDecisions(
  nc: NatsConnection,
  model: string,
  records: DecisionRecord[] = [],
): { records: DecisionRecord[]; stop(): void } {
  const sub = nc.subscribe(`${CONTROL_SUBJECT_PREFIX}.decision.${model}`);
  void (async () => {
    for await (const m of sub) records.push(m.json<DecisionRecord>());
  })();
  return { records, stop: () => sub.unsubscribe() };
}
