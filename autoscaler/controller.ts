/**
 * The live controller loop: every tick, read the intake window and the pools, run the policy (pure), then
 * actuate: scale the VM pools through the pool API, publish the routing plan, record the decision. It holds no
 * maths; the policy does. The same policy code runs in the simulator and in table-driven tests.
 */
import type { NatsConnection } from 'nats';
import { AUTOSCALER_BUCKET, CONTROL_SUBJECT_PREFIX } from '../common/naming';
import { ROUTING_PLAN_VERSION, type RoutingPlan } from '../common/routing';
import { callPoolsApi } from '../infra/pools-api';
import type { RoutingStore } from '../infra/routing-store';
import type { StageEventIntake } from './intake';
import type { Decision, Observation, Policy, PoolObservation } from './types';

/** Schema version of decision records (stream `SERFLOW_CONTROL`, KV `serflow-autoscaler`). */
export const DECISION_RECORD_VERSION = 1;

/** What one tick decided and why; `serflow plan` shows the latest. */
export interface DecisionRecord {
  v: typeof DECISION_RECORD_VERSION;
  type: 'autoscaler.decision';
  model: string;
  policy: string;
  /** Policy clock (cloud time) of the decision. */
  at: number;
  /** Wall-clock epoch ms of the decision. */
  wallAt: number;
  observation: Observation;
  decision: Decision;
  /** What the controller did about it. */
  actions: string[];
}

export interface ControllerDeps<C, S> {
  nc: NatsConnection;
  model: string;
  stages: number;
  policy: Policy<C, S>;
  config: C;
  intake: StageEventIntake;
  routing: RoutingStore;
  log?: (line: string) => void;
}

export interface Controller {
  /**
   * One control step. `now` is the policy's clock (cloud time); `wallNow` measures the window the counts cover,
   * so rates are per real second. @param wallNow defaults to `now`
   */
  tick(now: number, wallNow?: number): Promise<DecisionRecord>;
  readonly lastRecord: DecisionRecord | undefined;
}

/** Plan the workflow will read from a valid decision. */
export function planFromDecision(model: string, decision: Decision, policy: string, now: number): RoutingPlan {
  return {
    v: ROUTING_PLAN_VERSION,
    model,
    stages: decision.stages.map((s) => ({
      stage: s.stage,
      vmShare: s.vmShare,
      ...(s.overflowAfterMs !== undefined ? { overflowAfterMs: s.overflowAfterMs } : {}),
    })),
    source: `autoscaler:${policy}`,
    updatedAt: now,
  };
}

export function createController<C, S>(deps: ControllerDeps<C, S>): Controller {
  const { nc, model, stages, policy, config, intake, routing } = deps;
  const log = deps.log ?? (() => undefined);
  const js = nc.jetstream();
  let state = policy.initialState(config);
  let lastWallTickAt: number | undefined;
  let lastPlan = '';
  let lastRecord: DecisionRecord | undefined;

  async function observePools(): Promise<PoolObservation[]> {
    const { vms } = await callPoolsApi(nc, { op: 'list' });
    // Stage 0 is the whole-model pool (VMs that run every stage).
    return Array.from({ length: stages + 1 }, (_, i) => {
      const mine = vms.filter((v) => v.model === model && v.stage === i);
      const count = (s: string) => mine.filter((v) => v.state === s).length;
      return { stage: i, vmsReady: count('ready'), vmsBooting: count('booting'), vmsDraining: count('draining') };
    });
  }

  return {
    get lastRecord() {
      return lastRecord;
    },
    async tick(now, wallNow = now) {
      const window = intake.snapshot();
      const pools = await observePools();
      const observation: Observation = {
        now,
        model,
        windowMs: lastWallTickAt === undefined ? 0 : wallNow - lastWallTickAt,
        stages: window.observation,
        pools,
      };
      lastWallTickAt = wallNow;
      const result = policy.decide(observation, config, state, now);
      state = result.state;
      const { decision } = result;
      const actions: string[] = [];
      // An operator's static plan (`serflow route set`) pins routing and pools until `serflow route clear`.
      const current = await routing.get(model);
      const pinned = current?.source.startsWith('static:') ?? false;
      if (pinned) actions.push(`not actuating: static plan ${current!.source} pinned by an operator`);
      if (decision.valid && !pinned) {
        const wanted = [
          ...decision.stages,
          ...(decision.wholeModelVms !== undefined ? [{ stage: 0, desiredVms: decision.wholeModelVms }] : []),
        ];
        for (const d of wanted) {
          const pool = pools.find((p) => p.stage === d.stage);
          const current = (pool?.vmsReady ?? 0) + (pool?.vmsBooting ?? 0);
          if (d.desiredVms !== current) {
            await callPoolsApi(nc, { op: 'scale', model, stage: d.stage, vms: d.desiredVms });
            actions.push(`${d.stage === 0 ? 'whole model' : `stage ${d.stage}`}: VMs ${current} -> ${d.desiredVms}`);
          }
        }
        const plan = planFromDecision(model, decision, policy.name, now);
        const key = JSON.stringify(plan.stages);
        if (key !== lastPlan) {
          await routing.put(plan);
          lastPlan = key;
          actions.push(`plan: ${plan.stages.map((s) => `${s.stage}:${s.vmShare.toFixed(2)}`).join(' ')}`);
        }
      }
      const record: DecisionRecord = {
        v: DECISION_RECORD_VERSION,
        type: 'autoscaler.decision',
        model,
        policy: policy.name,
        at: now,
        wallAt: wallNow,
        observation,
        decision,
        actions,
      };
      await js.publish(`${CONTROL_SUBJECT_PREFIX}.decision.${model}`, JSON.stringify(record));
      await (await js.views.kv(AUTOSCALER_BUCKET)).put(model, JSON.stringify(record));
      // The window is decided on: its events may go (a crash before here redelivers them).
      intake.commit();
      if (actions.length) log(`${policy.name}: ${actions.join('; ')} (${decision.reason})`);
      lastRecord = record;
      return record;
    },
  };
}
