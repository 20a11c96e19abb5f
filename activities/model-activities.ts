/**
 * Model lookup, run as a local activity in the workflow worker, for queries that arrive without a model
 * descriptor (histories recorded before clients sent one, queries started by other SDKs): the workflow cannot read
 * manifests itself, so it asks once per query and the answer is recorded in history (replays see the same model
 * shape). The descriptor is built by the same code the client uses (models/descriptor.ts).
 */
import type { InferenceQuery, ModelDescriptor } from '../common/contracts';
import type { StoredPlan } from '../common/routing';
import { describeQuery, type DescriptorConfig } from '../models/descriptor';
import type { ModelManifest } from '../models/manifest';
import { activityError } from './failures';

export { FAAS_STAGE_MAX_ATTEMPTS } from '../models/descriptor';

export interface ModelActivityDeps {
  /** Returns the manifest of a model, or throws UnknownModelError. */
  manifest(name: string): ModelManifest;
  config: DescriptorConfig;
  /** The published routing plan of a model, or null (then every stage runs on its VM pool). */
  routingPlan?(model: string): Promise<StoredPlan | null>;
}

export function createModelActivities(deps: ModelActivityDeps) {
  return {
    async describeModel(query: InferenceQuery): Promise<ModelDescriptor> {
      try {
        const plan = (await deps.routingPlan?.(query.model)) ?? null;
        return describeQuery(query, deps.manifest(query.model), deps.config, plan);
      } catch (err) {
        // Unknown model or stage and a bad threshold fail the query at once; anything else (a manifest file or KV
        // error) is left to the local activity's retry policy.
        throw activityError(err);
      }
    },
  };
}
