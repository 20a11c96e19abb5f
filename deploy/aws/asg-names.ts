/**
 * Which Auto Scaling group is which VM pool (config `aws.autoScaling`): an explicit name per pool, else the pool's
 * name pattern; and back, from a group's name to its pool, so a restarted provider adopts the groups it finds.
 */
import type { SerflowConfig } from '../../common/config';
import { WHOLE_MODEL_STAGE } from '../../common/naming';

type AutoScalingSettings = SerflowConfig['aws']['autoScaling'];

export interface PoolKey {
  model: string;
  /** 1..K, or WHOLE_MODEL_STAGE (0) for the whole-model pool. */
  stage: number;
}

/** `{stage}` of the whole-model pool in names and in `groups` keys. */
export const WHOLE_MODEL_NAME_PART = 'all';

function stagePart(stage: number): string {
  return stage === WHOLE_MODEL_STAGE ? WHOLE_MODEL_NAME_PART : String(stage);
}

/** Refuse a pool that cannot be named: an empty model, or a stage that is not 0 (whole model) or a positive integer. */
export function checkPool(model: string, stage: number): void {
  if (typeof model !== 'string' || model.length === 0) throw new Error(`VM pool: model must be a non-empty name`);
  if (!Number.isInteger(stage) || stage < 0) {
    throw new Error(`VM pool of ${model}: stage must be 0 (whole model) or a positive integer, got ${stage}`);
  }
}

function fill(pattern: string, model: string, stage: number): string {
  return pattern.replaceAll('{model}', model).replaceAll('{stage}', stagePart(stage));
}

/** The group of pool (model, stage). */
export function groupNameOf(s: AutoScalingSettings, model: string, stage: number): string {
  checkPool(model, stage);
  const explicit = s.groups[`${model}/${stagePart(stage)}`];
  if (explicit !== undefined) return explicit;
  return fill(stage === WHOLE_MODEL_STAGE ? s.wholeModelGroupNamePattern : s.groupNamePattern, model, stage);
}

/** The launch template of pool (model, stage) (`{stage}` is `all` for the whole-model pool). */
export function launchTemplateNameOf(s: AutoScalingSettings, model: string, stage: number): string {
  checkPool(model, stage);
  return fill(s.launchTemplateNamePattern, model, stage);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pattern as a regular expression capturing `model` (and `stage` when it has one). */
function patternRegExp(pattern: string, stage: 'number' | 'all'): RegExp {
  const stageGroup = stage === 'number' ? '(?<stage>[1-9][0-9]*)' : WHOLE_MODEL_NAME_PART;
  const parts = pattern.split(/(\{model\}|\{stage\})/).map((p) => {
    if (p === '{model}') return '(?<model>.+)';
    if (p === '{stage}') return stageGroup;
    return escapeRegExp(p);
  });
  return new RegExp(`^${parts.join('')}$`);
}

/**
 * The pool a group serves, or undefined if the name is no pool's. Explicit names first; then the whole-model
 * pattern, then the stage pattern (so `serflow-m-all` is m's whole-model pool, not a stage pool of model `m-al`).
 * A model captured by a pattern must itself map back to that same name (an explicit name elsewhere wins).
 */
export function poolOfGroup(s: AutoScalingSettings, groupName: string): PoolKey | undefined {
  for (const [key, name] of Object.entries(s.groups)) {
    if (name !== groupName) continue;
    const cut = key.lastIndexOf('/');
    const part = key.slice(cut + 1);
    return { model: key.slice(0, cut), stage: part === WHOLE_MODEL_NAME_PART ? WHOLE_MODEL_STAGE : Number(part) };
  }
  const whole = patternRegExp(s.wholeModelGroupNamePattern, 'all').exec(groupName);
  const candidates: PoolKey[] = [];
  if (whole?.groups?.model) candidates.push({ model: whole.groups.model, stage: WHOLE_MODEL_STAGE });
  const staged = patternRegExp(s.groupNamePattern, 'number').exec(groupName);
  if (staged?.groups?.model && staged.groups.stage) {
    candidates.push({ model: staged.groups.model, stage: Number(staged.groups.stage) });
  }
  return candidates.find((p) => groupNameOf(s, p.model, p.stage) === groupName);
}
