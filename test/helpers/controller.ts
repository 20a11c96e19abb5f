/** A live autoscaler running in the test process (`runAutoscaler` with an `until` promise), so a test can stop it. */
import { runAutoscaler } from '../../autoscaler/main';
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
