/** Public surface of the billing module: prices, the ledger, the event readers and the publisher. */
export {
  faasBilledGbSeconds,
  faasBilledMs,
  faasInvocationCostUsd,
  tCipPerSecond,
  UnknownInstanceTypeError,
  vmBilledSeconds,
  vmCloudSeconds,
  vmCostUsd,
  vmPricePerHourUsd,
} from './prices';
export { computeLedger, unionLengthMs } from './ledger';
export {
  DEFAULT_READ_TIMEOUT_MS,
  readBillingEvents,
  readStageEvents,
  readStream,
  StreamNotFoundError,
  StreamReadTimeoutError,
} from './reader';
export { createBillingPublisher } from './publisher';

export type { FaasInvocation, Prices, VmLife } from './prices';
export type { BackendBill, FaasSummary, Ledger, LedgerInput, BilledQuery, StageBill, VmBill, BilledVmState } from './ledger';
export type { MalformedMessage, ReadStreamOptions, StreamRead } from './reader';
export type { BillingFact, BillingPublisher } from './publisher';
