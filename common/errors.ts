/**
 * Error classes of SERFLOW. Each sets `name`, which is also the Temporal ApplicationFailure `type`
 * it is converted to at the activity boundary, so the workflow can list the non-retryable ones.
 */

/** An input tensor has the wrong shape, the wrong number of elements, or non-finite values. Not retryable. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
}

/** The query names a model that no manifest describes. Not retryable. */
export class UnknownModelError extends Error {
  override readonly name = 'UnknownModelError';
}

/** The query names a stage the model does not have, or a stage this worker does not serve. Not retryable. */
export class UnknownStageError extends Error {
  override readonly name = 'UnknownStageError';
}

/** A claim-checked activation is missing from the object store (expired or deleted). Not retryable. */
export class MissingActivationError extends Error {
  override readonly name = 'MissingActivationError';
}

/** A stage model produced outputs that do not match its manifest (e.g. no activation). A retry cannot fix it. */
export class ModelOutputError extends Error {
  override readonly name = 'ModelOutputError';
}

/**
 * No worker took a stage within its queue timeout (a pool with no ready VM and no overflow, a serverless gateway
 * that is down): the query ends with this instead of waiting forever. Raised by the workflow, so only its type
 * travels (workflows/inference.ts).
 */
export const STAGE_UNAVAILABLE_ERROR = 'StageUnavailableError';

/** The query's deadline (`queries.deadlineMs`) passed before it finished: the client's name for the timeout. */
export const QUERY_DEADLINE_EXCEEDED = 'QueryDeadlineExceeded';

/** The configuration (file or environment) is invalid; the message names the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Failure types a retry cannot fix: the workflow fails the query at once on these. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidInputError',
  'UnknownModelError',
  'UnknownStageError',
  'MissingActivationError',
  'ModelOutputError',
] as const;

const NON_RETRYABLE_TYPES: ReadonlySet<string> = new Set(NON_RETRYABLE_ERROR_TYPES);

/**
 * Whether `err` is one of our errors a retry cannot fix (bad input, unknown model or stage, ...): matched by `name`,
 * the failure type. Pure, so both activities/failures.ts and the workflow sandbox (workflows/inference.ts) use it.
 */
export function isNonRetryableError(err: unknown): err is Error {
  return err instanceof Error && NON_RETRYABLE_TYPES.has(err.name);
}
