/** Public surface of the SERFLOW client SDK (the package's entry point: `require('serflow')`). */
export { SerflowClient, InferenceFailedError, NoStackError, resolveAddresses } from './serflow-client';
export type { ConnectOptions, InferOptions, InferenceHandle } from './serflow-client';
export type { InferenceResult, StageRecord, InferenceOptions, TensorRef } from '../common/contracts';
export { StackUnreachableError } from '../infra/stack-state';
export { ConfigError, QUERY_DEADLINE_EXCEEDED, STAGE_UNAVAILABLE_ERROR } from '../common/errors';
export { loadConfig } from '../common/config';
export type { SerflowConfig, SerflowConfigInput } from '../common/config';
