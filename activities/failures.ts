/**
 * The one conversion between SERFLOW's errors and Temporal failures, wherever a stage's error leaves the code
 * that threw it: the stage and model-lookup activities throw ApplicationFailures, a serverless function instance
 * replies with a failure description, and the faas gateway turns that reply back into an ApplicationFailure.
 *
 * Retryability is decided here: the error types a retry cannot fix (`isNonRetryableError` over
 * NON_RETRYABLE_ERROR_TYPES in common/errors.ts, matched by `name`, which is the failure type) are non-retryable;
 * everything else is retryable. The one other conversion is `rejected()` in workflows/inference.ts (see there).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { isNonRetryableError } from '../common/errors';

export { isNonRetryableError };

/** A failure as a reply carries it (no class, no stack): `type` is the error's name or the ApplicationFailure type. */
export interface FailureReply {
  type: string;
  message: string;
  nonRetryable: boolean;
}

/**
 * `err` as an ApplicationFailure typed by the error's name (cause kept), non-retryable when a retry cannot fix it.
 * An ApplicationFailure is returned as it is; a thrown non-Error becomes a retryable failure without a type.
 */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof Error)) return ApplicationFailure.create({ message: String(err), nonRetryable: false });
  return ApplicationFailure.create({
    type: err.name,
    message: err.message,
    nonRetryable: isNonRetryableError(err),
    cause: err,
  });
}

/**
 * What an activity rethrows for `err`: our non-retryable errors as non-retryable ApplicationFailures, anything else
 * unchanged. Temporal converts the rest itself (retryable, typed by name, with the error's own stack), so an
 * infrastructure hiccup is left to the retry policy exactly as if the activity had not caught it.
 */
export function activityError(err: unknown): unknown {
  return isNonRetryableError(err) ? toApplicationFailure(err) : err;
}

/**
 * `err` as a reply describes it: an ApplicationFailure keeps its type and retryability; any other Error is typed by
 * its name and non-retryable when a retry cannot fix it; a thrown non-Error is a retryable `Error`.
 */
export function describeFailure(err: unknown): FailureReply {
  if (err instanceof ApplicationFailure) {
    return { type: err.type ?? 'Error', message: err.message, nonRetryable: err.nonRetryable === true };
  }
  if (err instanceof Error) return { type: err.name, message: err.message, nonRetryable: isNonRetryableError(err) };
  return { type: 'Error', message: String(err), nonRetryable: false };
}

/**
 * A reply's failure back as an ApplicationFailure with the reported type, message and retryability. The
 * retryability is taken as reported (the replier applied `describeFailure`), not recomputed; there is no cause,
 * because the original error stayed in the process that replied.
 */
export function failureFromReply(reply: FailureReply): ApplicationFailure {
  return ApplicationFailure.create({ type: reply.type, message: reply.message, nonRetryable: reply.nonRetryable });
}
