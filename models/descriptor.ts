/**
 * The model descriptor of a query (`ModelDescriptor`, common/contracts.ts), built in one place for both who
 * resolve it: the client, which sends it with the query so the workflow needs no model lookup, and the workflow
 * worker's `describeModel` local activity, which resolves it for queries that come without one. Pure: the caller
 * brings the manifest, its config and the routing plan it has (each keeps its own cache of those).
 */
import type { SerflowConfig } from '../common/config';
import type { InferenceQuery, ModelDescriptor } from '../common/contracts';
import { checkQueryRanges } from '../common/descriptor-checks';
import {
  allServerlessPlan,
  allVmPlan,
  isRejectedPlan,
  validateRoutingPlan,
  type RoutingPlan,
  type StoredPlan,
} from '../common/routing';
import { queryInputDims, type ModelManifest } from './manifest';

/**
 * Attempts of a serverless stage. Throttling (account concurrency reached) is retried with backoff capped at 2 s
 * (workflows/activity-options.ts): 100 attempts ride out ~3 minutes of sustained throttling before a query fails.
 */
export const FAAS_STAGE_MAX_ATTEMPTS = 100;

/** The config sections a descriptor is built from. */
export type DescriptorConfig = Pick<SerflowConfig, 'activations' | 'stages' | 'faas' | 'timeScale'>;

/**
 * The descriptor of `manifest`'s model: its shape from the manifest, stage timeouts and attempts from `config`,
 * and `plan` if it fits the model (else every stage on VMs, see `usablePlan`).
 */
export function buildModelDescriptor(
  manifest: ModelManifest,
  config: DescriptorConfig,
  plan: StoredPlan | null,
): ModelDescriptor {
  const stages = manifest.stages.length;
  return {
    model: manifest.name,
    stages,
    defaultThreshold: manifest.defaultThreshold,
    inputDims: queryInputDims(manifest),
    inlineActivationMaxBytes: config.activations.inlineMaxBytes,
    stageTimeoutMs: config.stages.timeoutMs,
    stageMaxAttempts: config.stages.maxAttempts,
    stageHeartbeatTimeoutMs: config.stages.heartbeatTimeoutMs,
    // Cold starts pass `timeScale` times faster here than in cloud time, so their extra allowance does too.
    faasStageTimeoutMs: config.stages.timeoutMs + config.faas.coldStartExtraMs / config.timeScale,
    faasStageMaxAttempts: FAAS_STAGE_MAX_ATTEMPTS,
    stageQueueTimeoutMs: config.stages.queueTimeoutMs,
    routing: usablePlan(plan, manifest.name, stages),
  };
}

/**
 * The descriptor for one query, after the checks that need the model but not the tensor data (threshold and
 * stage cap); throws our typed errors (UnknownStageError, InvalidInputError).
 */
export function describeQuery(
  query: Pick<InferenceQuery, 'model' | 'maxStage' | 'threshold'>,
  manifest: ModelManifest,
  config: DescriptorConfig,
  plan: StoredPlan | null,
): ModelDescriptor {
  checkQueryRanges(query, manifest.stages.length);
  return buildModelDescriptor(manifest, config, plan);
}

/**
 * The published plan if it fits the model; every stage on VMs when none is published (the foundation's default).
 * A broken value (written by hand or by a faulty controller) must neither fail queries nor strand them on VM pools
 * that may have no VM: it is reported, and queries run every stage serverless (the routing store already keeps the
 * last good plan in force where it saw one).
 */
export function usablePlan(plan: StoredPlan | null, model: string, stages: number): RoutingPlan {
  if (!plan) return allVmPlan(model, stages);
  const why = isRejectedPlan(plan) ? plan.rejected : fitProblem(plan, stages);
  if (why === undefined) return plan as RoutingPlan;
  console.warn(`routing plan of ${model} not used (every stage serverless): ${why}`);
  return allServerlessPlan(model, stages, 'default:all-serverless (the stored plan was rejected)');
}

function fitProblem(plan: RoutingPlan, stages: number): string | undefined {
  try {
    validateRoutingPlan(plan, stages);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
