/** The state file `serflow up --detach` writes so later commands (`down`, `status`, `infer`) find the stack. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SerflowConfig } from '../common/config';

/** What is running, as recorded in the state file and shown by `serflow status`. */
export interface StackInfo {
  temporalAddress: string;
  temporalUiUrl: string | null;
  namespace: string;
  natsUrl: string;
  /** Whether this stack started the servers (false: external ones from TEMPORAL_ADDRESS / NATS_URL). */
  embeddedTemporal: boolean;
  embeddedNats: boolean;
  dataDir: string;
  models: string[];
  /** `restarts`: how often a crashed worker process was started again (attached stacks only). */
  processes: { name: string; pid: number; logFile: string; role: 'temporal' | 'nats' | 'worker'; restarts?: number }[];
  startedAt: string;
}

export function stateFilePath(homeDir: string): string {
  return path.join(homeDir, 'state.json');
}

export function writeStateFile(homeDir: string, info: StackInfo): void {
  fs.mkdirSync(homeDir, { recursive: true });
  fs.writeFileSync(stateFilePath(homeDir), `${JSON.stringify({ v: 1, ...info }, null, 2)}\n`);
}

/** The recorded stack, or null when none is recorded. */
export function readStateFile(homeDir: string): StackInfo | null {
  const file = stateFilePath(homeDir);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as StackInfo;
}

export function removeStateFile(homeDir: string): void {
  fs.rmSync(stateFilePath(homeDir), { force: true });
}

/** No Temporal or NATS address is configured and no `serflow up` stack is recorded. */
export class NoStackError extends Error {
  override readonly name = 'NoStackError';
}

/** Where a stack's servers are. */
export interface StackAddresses {
  temporalAddress?: string;
  /**
   * The address is the embedded dev server of a `serflow up` stack (plaintext: the TEMPORAL_* TLS settings and API
   * key are for a configured server). @default false
   */
  temporalEmbedded?: boolean;
  natsUrl?: string;
  namespace: string;
}

/**
 * Where the servers are, each address from the first that has it: `explicit` (SDK options, CLI flags), then the
 * config (TEMPORAL_ADDRESS / NATS_URL), then the `serflow up --detach` state file.
 */
export function discoverStack(config: SerflowConfig, explicit: Partial<StackAddresses> = {}): StackAddresses {
  const state = readStateFile(config.homeDir);
  const fromState = explicit.temporalAddress === undefined && config.temporal.address === undefined;
  return {
    temporalAddress: explicit.temporalAddress ?? config.temporal.address ?? state?.temporalAddress,
    temporalEmbedded: explicit.temporalEmbedded ?? (fromState && state?.embeddedTemporal === true),
    natsUrl: explicit.natsUrl ?? config.nats.url ?? state?.natsUrl,
    namespace: explicit.namespace ?? state?.namespace ?? config.temporal.namespace,
  };
}

/** The discovered Temporal address, or NoStackError saying how to get one. */
export function requireTemporalAddress(addresses: StackAddresses): string {
  if (addresses.temporalAddress) return addresses.temporalAddress;
  throw new NoStackError('no Temporal address: start the stack with `serflow up --detach`, or set TEMPORAL_ADDRESS');
}

/** The discovered NATS URL, or NoStackError saying how to get one. */
export function requireNatsUrl(addresses: StackAddresses): string {
  if (addresses.natsUrl) return addresses.natsUrl;
  throw new NoStackError('no NATS address: start the stack with `serflow up --detach`, or set NATS_URL');
}
