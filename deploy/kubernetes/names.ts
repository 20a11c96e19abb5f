/**
 * Names and labels shared by the manifests (manifests.ts) and the VM provider (deployment-provider.ts), so the
 * Deployments the manifests create are the ones the provider scales and the pods it lists.
 */
import type { KubernetesConfig } from '../../common/cloud-config';
import { WHOLE_MODEL_STAGE } from '../../common/naming';

/** Labels every SERFLOW object carries (Kubernetes' recommended `app.kubernetes.io/*` keys). */
export const APP_LABEL = 'app.kubernetes.io/name';
export const APP_NAME = 'serflow';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** The component of a stage pool's pods: the provider lists pods with this label. */
export const STAGE_WORKER_COMPONENT = 'stage-worker';
/** Model and stage of a stage pool's pods: how the provider maps a pod to its pool. */
export const MODEL_LABEL = 'serflow.io/model';
export const STAGE_LABEL = 'serflow.io/stage';

/** Label selector of every stage pool's pods, of every model. */
export const STAGE_PODS_SELECTOR = `${APP_LABEL}=${APP_NAME},${COMPONENT_LABEL}=${STAGE_WORKER_COMPONENT}`;

/**
 * The annotation the ReplicaSet controller reads to choose which pods go first on a scale-down (lower first, among
 * pods equally ready); int32 as a decimal string.
 */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
/** The lowest cost Kubernetes accepts: the pod being drained goes before any other ready pod. */
export const DRAIN_DELETION_COST = String(-(2 ** 31));

/** A name or a label value Kubernetes would refuse. */
export class KubernetesNameError extends Error {
  override readonly name = 'KubernetesNameError';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Longest Deployment name whose pods' names (`<deployment>-<10-char hash>-<5 chars>`) still fit a 63-character
 * DNS label, the pod's hostname.
 */
export const MAX_DEPLOYMENT_NAME = 63 - 17;

/** `stage` as the `{stage}` of the name pattern and the stage label: `all` for the whole-model pool. */
export function stageToken(stage: number): string {
  return stage === WHOLE_MODEL_STAGE ? 'all' : String(stage);
}

/** The stage a label value names, or undefined when it names none. */
export function stageFromToken(token: string | undefined): number | undefined {
  if (token === 'all') return WHOLE_MODEL_STAGE;
  return token !== undefined && /^[1-9][0-9]{0,5}$/.test(token) ? Number(token) : undefined;
}

/** Name of the Deployment of pool (`model`, `stage`): `kubernetes.deploymentName` filled in, checked. */
export function deploymentName(config: KubernetesConfig, model: string, stage: number): string {
  const name = config.deploymentName.replaceAll('{model}', model).replaceAll('{stage}', stageToken(stage));
  if (!DNS_LABEL.test(name) || name.length > MAX_DEPLOYMENT_NAME) {
    throw new KubernetesNameError(
      `kubernetes.deploymentName ${JSON.stringify(config.deploymentName)} gives ${JSON.stringify(name)} for model ` +
        `${model} stage ${stageToken(stage)}: a Deployment name here must be lowercase letters, digits and -, ` +
        `at most ${MAX_DEPLOYMENT_NAME} characters (its pods' names must fit 63)`,
    );
  }
  return name;
}

/** `namespace` checked as a namespace name (a DNS-1123 label, at most 63 characters). */
export function namespaceName(namespace: string): string {
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
    throw new KubernetesNameError(
      `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label (lowercase letters, digits and -, at most 63)`,
    );
  }
  return namespace;
}

/** `model` as a label value (at most 63 of letters, digits, `-_.`, alphanumeric at both ends), checked. */
export function modelLabelValue(model: string): string {
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(model)) {
    throw new KubernetesNameError(
      `model ${JSON.stringify(model)} cannot be a Kubernetes label value (at most 63 letters, digits, -, _ or ., ` +
        'starting and ending with a letter or digit)',
    );
  }
  return model;
}
