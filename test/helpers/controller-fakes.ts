/**
 * In-memory stand-ins for what the autoscaler controller reads and writes, so its loop runs on virtual time
 * without NATS or a cloud agent: a pool actuator that records every call, an intake window the test fills, a
 * routing store and a decision recorder. Each fake keeps what happened to it for the test to assert on.
 */
import type { PoolActuator } from '../../autoscaler/actuator';
import type { DecisionRecorder } from '../../autoscaler/decision-recorder';
import type { StageEventIntake } from '../../autoscaler/intake';
import type { PoolObservation, StageObservation } from '../../autoscaler/types';
import type { DecisionRecord } from '../../common/control-events';
import type { RoutingPlan, StoredPlan } from '../../common/routing';
import type { RoutingStore } from '../../infra/routing-store';

export interface ScaleCall {
  model: string;
  stage: number;
  vms: number;
}

/**
 * Pools as the cloud agent would report them, per stage: a scale request books the difference as booting VMs
 * (or removes booting, then ready, ones), as the local provider does, so the next tick sees the pool it asked for.
 * `failScale` / `failPools` make the next calls reject, as a busy or absent pool API does.
 */
export interface FakeActuator extends PoolActuator {
  readonly scaleCalls: ScaleCall[];
  /** Set a pool to `ready` + `booting` VMs (e.g. booted VMs becoming ready). */
  setPool(stage: number, ready: number, booting?: number): void;
  failScale?: (call: ScaleCall) => Error | undefined;
  failPools?: Error;
}

export function createFakeActuator(): FakeActuator {
  const pools = new Map<number, { ready: number; booting: number }>();
  const actuator: FakeActuator = {
    scaleCalls: [],
    setPool(stage, ready, booting = 0) {
      pools.set(stage, { ready, booting });
    },
    async pools(_model, stages): Promise<PoolObservation[]> {
      if (actuator.failPools) throw actuator.failPools;
      return Array.from({ length: stages + 1 }, (_, stage) => {
        const p = pools.get(stage) ?? { ready: 0, booting: 0 };
        return { stage, vmsReady: p.ready, vmsBooting: p.booting, vmsDraining: 0 };
      });
    },
    async scaleTo(model, stage, vms) {
      const call = { model, stage, vms };
      actuator.scaleCalls.push(call);
      const failure = actuator.failScale?.(call);
      if (failure) throw failure;
      const p = pools.get(stage) ?? { ready: 0, booting: 0 };
      const ready = Math.min(p.ready, vms);
      pools.set(stage, { ready, booting: vms - ready });
    },
  };
  return actuator;
}

/** The intake window: the test sets the next tick's per-stage counts; `commits` counts decided windows. */
export interface FakeIntake extends StageEventIntake {
  window: StageObservation[];
  /** Bad input the next window reports (terminated malformed events, failed pulls). */
  malformed: number;
  pullErrors: number;
  readonly commits: number;
}

export function createFakeIntake(): FakeIntake {
  let commits = 0;
  return {
    window: [],
    malformed: 0,
    pullErrors: 0,
    get commits() {
      return commits;
    },
    snapshot() {
      return {
        observation: this.window,
        events: this.window.reduce((n, s) => n + s.arrivals, 0),
        malformed: this.malformed,
        malformedErrors: Array.from({ length: this.malformed }, (_, i) => `#${i + 1} fake: malformed`),
        pullErrors: this.pullErrors,
        late: 0,
        duplicates: 0,
      };
    },
    commit() {
      commits++;
    },
    close: async () => undefined,
  };
}

/** Per-stage arrivals of one window, nothing else counted (stage numbers from 1). */
export function windowOf(arrivals: number[]): StageObservation[] {
  return arrivals.map((a, i) => ({ stage: i + 1, arrivals: a, exits: 0, vmExecutions: 0, faasExecutions: 0 }));
}

/** The routing bucket as a map; `puts` lists every plan written, in order. */
export interface FakeRoutingStore extends RoutingStore {
  readonly puts: RoutingPlan[];
  /** Store a value readers reject (as the real store reads a bad value with no good plan before it). */
  plantRejected(model: string, reason: string): void;
}

export function createFakeRoutingStore(initial: RoutingPlan[] = []): FakeRoutingStore {
  const plans = new Map<string, StoredPlan>(initial.map((p) => [p.model, p]));
  const puts: RoutingPlan[] = [];
  return {
    puts,
    get: async (model) => plans.get(model) ?? null,
    async put(plan) {
      puts.push(plan);
      plans.set(plan.model, plan);
    },
    async clear(model) {
      plans.delete(model);
    },
    rejected: 0,
    plantRejected(model, reason) {
      plans.set(model, { model, rejected: reason });
    },
    close: () => undefined,
  };
}

export interface FakeRecorder extends DecisionRecorder {
  readonly records: DecisionRecord[];
}

export function createFakeRecorder(): FakeRecorder {
  const records: DecisionRecord[] = [];
  return {
    records,
    async record(r) {
      records.push(r);
    },
  };
}
