/**
 * The policies behind the one `Policy` interface, by name. Each is pure: `decide(observation, config, state, now)`
 * returns the decision and the next state.
 */
import type { CompiledAutoscalerConfig } from '../config';
import type { Policy, PolicyName } from '../types';
import { faasOnlyPolicy } from './faas-only';
import { libraPolicy } from './libra';
import { serflowPolicy } from './serflow';
import { spockPolicy } from './spock';
import { vmAutoPolicy } from './vm-auto';
import { vmMaxPolicy } from './vm-max';

/** A policy of any state type (the state is opaque to its caller, which only threads it through). */
export type AnyPolicy = Policy<CompiledAutoscalerConfig, unknown>;

export const POLICIES: Readonly<Record<PolicyName, AnyPolicy>> = {
  serflow: serflowPolicy,
  libra: libraPolicy,
  'faas-only': faasOnlyPolicy,
  'vm-auto': vmAutoPolicy,
  'vm-max': vmMaxPolicy,
  spock: spockPolicy,
};

/** The policy named `name`. */
export function createPolicy(name: PolicyName): AnyPolicy {
  return POLICIES[name];
}

export { faasOnlyPolicy, libraPolicy, serflowPolicy, spockPolicy, vmAutoPolicy, vmMaxPolicy };
export { vmsForShare } from './serflow';
export { libraSizing } from './libra';
export type { SerflowState, SerflowStageState } from './serflow';
export type { LibraState } from './libra';
export type { VmAutoState, VmAutoStageState } from './vm-auto';
export type { SpockState, SpockStageState } from './spock';
export type { FaasOnlyState } from './faas-only';
export type { VmMaxState } from './vm-max';
