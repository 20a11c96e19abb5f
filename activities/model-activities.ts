/**
 * Model lookup, run as a local activity in the workflow worker: the workflow cannot read manifests itself,
 * so it asks once per query and the answer is recorded in history (replays see the same model shape).
 */
import type { InferenceQuery, ModelDescriptor } from '../common/contracts';
import type { SerflowConfig } from '../common/config';
import { InvalidInputError, UnknownStageError } from '../common/errors';
import { queryInputDims, type ModelManifest } from '../models/manifest';
import { allVmPlan, validateRoutingPlan, type RoutingPlan } from '../common/routing';
import { activityError } from './failures';

export interface ModelActivityDeps {
  /** Returns the manifest of a model, or throws UnknownModelError. */
  manifest(name: string): ModelManifest;
  config: Pick<SerflowConfig, 'activations' | 'stages' | 'faas' | 'timeScale'>;
  /** The published routing plan of a model, or null (then every stage runs on its VM pool). */
  routingPlan?(model: string): Promise<RoutingPlan | null>;
}

/**
 * Attempts of a serverless stage. Throttling (account concurrency reached) is retried with backoff capped at 2 s
 * (workflows/activity-options.ts): 100 attempts ride out ~3 minutes of sustained throttling before a query fails.
 */
export const FAAS_STAGE_MAX_ATTEMPTS = 100;

/** Checks of a query that need the model but not the tensor data; throws our typed errors. */
export function describeQuery(
  query: InferenceQuery,
  deps: ModelActivityDeps,
  plan: RoutingPlan | null = null,
): ModelDescriptor {
  const manifest = deps.manifest(query.model);
  const stages = manifest.stages.length;
  if (
    query.maxStage !== undefined &&
    !(Number.isInteger(query.maxStage) && query.maxStage >= 1 && query.maxStage <= stages)
  ) {
    throw new UnknownStageError(
      `maxStage ${query.maxStage} is out of range: model ${query.model} has stages 1..${stages}`,
    );
  }
  if (query.threshold !== undefined && !(query.threshold > 0 && query.threshold <= 1)) {
    throw new InvalidInputError(`threshold ${query.threshold} is out of range (0, 1]`);
  }
  return {
    model: manifest.name,
    stages,
    defaultThreshold: manifest.defaultThreshold,
    inputDims: queryInputDims(manifest),
    inlineActivationMaxBytes: deps.config.activations.inlineMaxBytes,
    stageTimeoutMs: deps.config.stages.timeoutMs,
    stageMaxAttempts: deps.config.stages.maxAttempts,
    stageHeartbeatTimeoutMs: deps.config.stages.heartbeatTimeoutMs,
    faasStageTimeoutMs: deps.config.stages.timeoutMs + deps.config.faas.coldStartExtraMs / deps.config.timeScale,
    faasStageMaxAttempts: FAAS_STAGE_MAX_ATTEMPTS,
    routing: usablePlan(plan, manifest.name, stages),
  };
}

/**
 * The published plan if it fits the model; otherwise every stage on VMs. A broken plan (published by hand or
 * by a faulty controller) must not fail queries: it is reported and ignored.
 */
function usablePlan(plan: RoutingPlan | null, model: string, stages: number): RoutingPlan {
  if (!plan) return allVmPlan(model, stages);
  try {
    return validateRoutingPlan(plan, stages);
  } catch (err) {
    console.warn(`routing plan of ${model} ignored (all stages on VMs): ${(err as Error).message}`);
    return allVmPlan(model, stages);
  }
}

export function createModelActivities(deps: ModelActivityDeps) {
  return {
    async describeModel(query: InferenceQuery): Promise<ModelDescriptor> {
      try {
        return describeQuery(query, deps, (await deps.routingPlan?.(query.model)) ?? null);
      } catch (err) {
        // Unknown model or stage and a bad threshold fail the query at once; anything else (a manifest file or KV
        // error) is left to the local activity's retry policy.
        throw activityError(err);
      }
    },
  };
}
