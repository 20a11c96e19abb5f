/**
 * Public surface of the billing module: prices, the ledger, orchestration actions (their kinds, their count from
 * workflow histories, the SDK's heartbeat throttle), the event readers and the publisher.
 */
export {
  faasBilledGbSeconds,
  faasBilledMs,
  faasInvocationCostUsd,
  MissingOrchestrationCostError,
  tCipPerSecond,
  UnknownInstanceTypeError,
  usdPerAction,
  vmBilledSeconds,
  vmCloudSeconds,
  vmCostUsd,
  vmPricePerHourUsd,
} from './prices';
export { computeLedger, unionLengthMs } from './ledger';
export {
  addActions,
  CURRENT_WORKFLOW_SHAPE,
  LEAST_QUERY_ACTIONS,
  modelledQueryActions,
  NO_ACTIONS,
  totalActions,
} from './actions';
export { actionsFromHistory } from './history-actions';
export { createHeartbeatThrottle, heartbeatsReachingServer, heartbeatThrottleMs } from './heartbeat-throttle';
export {
  DEFAULT_READ_TIMEOUT_MS,
  readBillingEvents,
  readStageEvents,
  readStream,
  StreamNotFoundError,
  StreamReadTimeoutError,
} from './reader';
export { createBillingPublisher } from './publisher';

export type { FaasInvocation, OrchestrationPrices, Prices, VmLife } from './prices';
export type {
  BackendBill,
  FaasSummary,
  Ledger,
  LedgerInput,
  BilledQuery,
  OrchestrationInput,
  StageBill,
  VmBill,
  BilledVmState,
} from './ledger';
export type { ActionCounts, WorkflowActionShape } from './actions';
export type { AttemptEnding, HeartbeatThrottle } from './heartbeat-throttle';
export type { MalformedMessage, ReadStreamOptions, StreamRead } from './reader';
export type { BillingFact, BillingPublisher } from './publisher';
