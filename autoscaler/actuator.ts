/**
 * Actuation of the control plane: how the controller reads and changes the VM pools, kept behind one small
 * interface so the controller neither knows how capacity is provided (the cloud agent's pool API, or any
 * implementation of infra/providers.ts) nor needs it to be tested (test/helpers/controller-fakes.ts).
 */
import type { NatsConnection } from 'nats';
import { callPoolsApi } from '../infra/pools-api';
import type { VmInstance } from '../infra/providers';
import type { PoolObservation } from './types';

export interface PoolActuator {
  /**
   * Current capacity of every pool of `model`: stage 0 (the whole-model pool, VMs that run every stage) then
   * stages 1..`stages`, one entry each, empty pools included.
   */
  pools(model: string, stages: number): Promise<PoolObservation[]>;
  /** Ask for `vms` VMs (booting + ready) in pool `stage` of `model` (0: the whole-model pool). */
  scaleTo(model: string, stage: number, vms: number): Promise<void>;
}

/** Pure: the pools of `model` (stages 0..`stages`) in a list of VMs; terminated VMs count nowhere. */
export function poolsOf(vms: readonly VmInstance[], model: string, stages: number): PoolObservation[] {
  return Array.from({ length: stages + 1 }, (_, stage) => {
    const mine = vms.filter((v) => v.model === model && v.stage === stage);
    const count = (state: VmInstance['state']) => mine.filter((v) => v.state === state).length;
    return { stage, vmsReady: count('ready'), vmsBooting: count('booting'), vmsDraining: count('draining') };
  });
}

/**
 * The actuator over the cloud agent's pool API (NATS request/reply). A call the agent refuses or does not answer
 * rejects (NoPoolAgentError when nobody answers); the controller's caller decides whether to retry.
 */
export function createPoolsApiActuator(nc: NatsConnection): PoolActuator {
  return {
    async pools(model, stages) {
      const { vms } = await callPoolsApi(nc, { op: 'list' });
      return poolsOf(vms, model, stages);
    },
    async scaleTo(model, stage, vms) {
      await callPoolsApi(nc, { op: 'scale', model, stage, vms });
    },
  };
}
