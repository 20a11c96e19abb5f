/** Public surface of the SERFLOW client SDK. */
export { SerflowClient, InferenceFailedError, NoStackError, resolveAddresses } from './serflow-client';
export type { ConnectOptions, InferOptions, InferenceHandle } from './serflow-client';
export type { InferenceResult, StageRecord, InferenceOptions, TensorRef } from '../common/contracts';
