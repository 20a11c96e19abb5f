/**
 * Which AWS Lambda function runs a stage (or a fused run) and with how much memory, from config `aws.lambda`: the
 * name pattern filled in, unless `functions` names the function itself. Pure: used by the platform adapter to
 * invoke and by the package command to describe the functions to create.
 */
import type { LambdaConfig } from '../../common/cloud-config';
import { ConfigError } from '../../common/errors';
import type { FunctionRef } from '../../infra/providers';
import { isFused, lastStageOf } from '../local/function-pool';

/** What Lambda accepts as a function name (an ARN or partial ARN is not produced here). */
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The key of `fn` in `aws.lambda.functions`: `"2"`, or `"1-4"` for a fused run. */
export function lambdaFunctionKey(fn: FunctionRef): string {
  return isFused(fn) ? `${fn.stage}-${lastStageOf(fn)}` : `${fn.stage}`;
}

/**
 * The Lambda function name of `fn`. Throws ConfigError when the name made from the pattern is not a valid Lambda
 * function name (a model name with a dot, a name over 64 characters): the pattern or an override must change.
 */
export function lambdaFunctionName(fn: FunctionRef, lambda: LambdaConfig): string {
  const key = lambdaFunctionKey(fn);
  const override = lambda.functions[key]?.name;
  if (override) return override;
  const name = isFused(fn)
    ? lambda.fusedFunctionName
        .replaceAll('{model}', fn.model)
        .replaceAll('{first}', String(fn.stage))
        .replaceAll('{last}', String(lastStageOf(fn)))
    : lambda.functionName.replaceAll('{model}', fn.model).replaceAll('{stage}', String(fn.stage));
  if (!FUNCTION_NAME.test(name)) {
    const field = isFused(fn) ? 'aws.lambda.fusedFunctionName' : 'aws.lambda.functionName';
    throw new ConfigError(
      `${field} makes ${JSON.stringify(name)} for ${fn.model} ${key}, not a Lambda function name (1-64 of A-Z a-z 0-9 _ -); ` +
        `change the pattern or set aws.lambda.functions["${key}"].name`,
    );
  }
  return name;
}

/**
 * Memory of `fn`'s function, MB: its override, else for a fused run the largest of its stages' (each its override
 * or the default), as the local platform sizes a fused function; else `aws.lambda.memoryMb`.
 */
export function lambdaMemoryMb(fn: FunctionRef, lambda: LambdaConfig): number {
  const own = lambda.functions[lambdaFunctionKey(fn)]?.memoryMb;
  if (own !== undefined) return own;
  let memoryMb = 0;
  for (let k = fn.stage; k <= lastStageOf(fn); k++) {
    memoryMb = Math.max(memoryMb, lambda.functions[String(k)]?.memoryMb ?? lambda.memoryMb);
  }
  return memoryMb;
}
