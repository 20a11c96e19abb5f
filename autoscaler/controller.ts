/**
 * The live controller loop: every tick, read the intake window and the pools, run the policy (pure), then
 * actuate: scale the VM pools through the actuator, publish the routing plan, record the decision. It holds no
 * maths; the policy does. The same policy code runs in the simulator and in table-driven tests.
 */
import { DECISION_RECORD_VERSION, type DecisionRecord } from '../common/control-events';
import { isRejectedPlan, ROUTING_PLAN_VERSION, type RoutingPlan, type StoredPlan } from '../common/routing';
import type { RoutingStore } from '../infra/routing-store';
import type { PoolActuator } from './actuator';
import type { DecisionRecorder } from './decision-recorder';
import type { StageEventIntake } from './intake';
import type { Decision, Observation, Policy } from './types';

export interface ControllerDeps<C, S> {
  model: string;
  stages: number;
  policy: Policy<C, S>;
  config: C;
  intake: StageEventIntake;
  routing: RoutingStore;
  /** Reads and scales the VM pools. */
  actuator: PoolActuator;
  /** Keeps every tick's decision record. */
  recorder: DecisionRecorder;
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
    ...(decision.fused && decision.fused.length > 0 ? { fused: decision.fused.map((r) => ({ ...r })) } : {}),
    source: `autoscaler:${policy}`,
    updatedAt: now,
  };
}

/** What a plan routes (stages, fused runs) and who wrote it: equal keys need no re-publishing. */
function planKey(plan: StoredPlan | null): string {
  if (!plan) return '';
  if (isRejectedPlan(plan)) return `rejected: ${plan.rejected}`;
  return JSON.stringify({ stages: plan.stages, fused: plan.fused ?? [], source: plan.source });
}

export function createController<C, S>(deps: ControllerDeps<C, S>): Controller {
  const { model, stages, policy, config, intake, routing, actuator, recorder } = deps;
  const log = deps.log ?? (() => undefined);
  let state = policy.initialState(config);
  let lastWallTickAt: number | undefined;
  let lastRecord: DecisionRecord | undefined;

  return {
    get lastRecord() {
      return lastRecord;
    },
    async tick(now, wallNow = now) {
      const window = intake.snapshot();
      const pools = await actuator.pools(model, stages);
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
      // A rejected stored value pins nothing: the decision's plan replaces it.
      const pinned = current !== null && !isRejectedPlan(current) && current.source.startsWith('static:');
      if (pinned) actions.push(`not actuating: static plan ${current.source} pinned by an operator`);
      if (decision.valid && !pinned) {
        const wanted = [
          ...decision.stages,
          ...(decision.wholeModelVms !== undefined ? [{ stage: 0, desiredVms: decision.wholeModelVms }] : []),
        ];
        for (const d of wanted) {
          const pool = pools.find((p) => p.stage === d.stage);
          const current = (pool?.vmsReady ?? 0) + (pool?.vmsBooting ?? 0);
          if (d.desiredVms !== current) {
            await actuator.scaleTo(model, d.stage, d.desiredVms);
            actions.push(`${d.stage === 0 ? 'whole model' : `stage ${d.stage}`}: VMs ${current} -> ${d.desiredVms}`);
          }
        }
        const plan = planFromDecision(model, decision, policy.name, now);
        // Compared with the STORED plan, not with what this controller last wrote: a plan cleared or overwritten
        // by anyone else (`serflow route clear`) is replaced at the next tick, so control comes back here.
        if (planKey(plan) !== planKey(current)) {
          await routing.put(plan);
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
      await recorder.record(record);
      // The window is decided on: its events may go (a crash before here redelivers them).
      intake.commit();
      if (actions.length) log(`${policy.name}: ${actions.join('; ')} (${decision.reason})`);
      // Bad, late or repeated input is reported, never fatal: the window is decided on what did arrive.
      const odd = [
        window.malformed
          ? `${window.malformed} malformed stage events terminated (${window.malformedErrors.join('; ')}` +
            `${window.malformed > window.malformedErrors.length ? '; ...' : ''})`
          : '',
        window.pullErrors ? `${window.pullErrors} failed pulls` : '',
        window.late ? `${window.late} late events (redelivered) not counted` : '',
        window.duplicates ? `${window.duplicates} duplicate deliveries dropped` : '',
      ].filter(Boolean);
      if (odd.length) log(`intake: ${odd.join(', ')} this window`);
      lastRecord = record;
      return record;
    },
  };
}
