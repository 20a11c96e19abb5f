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
  /**
   * `pid`: the process `serflow down` signals. In a detached stack a worker's is its supervisor's
   * (supervisor-main.ts), which forwards the signal and exits once the worker has; `restarts` (how often a crashed
   * worker was started again) and `workerPid` then come from its supervision file (`readSupervision`).
   */
  processes: {
    name: string;
    pid: number;
    logFile: string;
    role: 'temporal' | 'nats' | 'worker';
    restarts?: number;
    workerPid?: number;
  }[];
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

/** What the supervisor of a detached stack's worker process records about it (`<dataDir>/supervision/<name>.json`). */
export interface SupervisionRecord {
  v: 1;
  name: string;
  /** The supervisor: the pid in the state file. */
  supervisorPid: number;
  /** The worker it runs now (null while it waits to restart one). */
  workerPid: number | null;
  /** How often it started the worker again after an unexpected exit. */
  restarts: number;
  /** The last unexpected exit: code or signal, and when (ISO time). */
  lastExit?: { code: number | string; at: string };
}

export function supervisionFilePath(dataDir: string, name: string): string {
  return path.join(dataDir, 'supervision', `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

/** Write `record` atomically (a reader never sees half of it). */
export function writeSupervision(dataDir: string, record: SupervisionRecord): void {
  const file = supervisionFilePath(dataDir, record.name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  fs.renameSync(tmp, file);
}

/** The supervision record of process `name`, or null when there is none (or it is unreadable). */
export function readSupervision(dataDir: string, name: string): SupervisionRecord | null {
  try {
    const r = JSON.parse(fs.readFileSync(supervisionFilePath(dataDir, name), 'utf8')) as SupervisionRecord;
    return r && r.v === 1 && Number.isInteger(r.supervisorPid) && Number.isInteger(r.restarts) ? r : null;
  } catch {
    return null;
  }
}

/**
 * The recorded processes with what their supervisors know (detached stacks): restarts and the worker's pid, from
 * the supervision file of the same supervisor pid (a file left by an earlier stack in the data dir is ignored).
 */
export function withSupervision(info: StackInfo): StackInfo['processes'] {
  return info.processes.map((p) => {
    if (p.role !== 'worker') return p;
    const r = readSupervision(info.dataDir, p.name);
    if (!r || r.supervisorPid !== p.pid) return p;
    return {
      ...p,
      ...(r.restarts > 0 ? { restarts: r.restarts } : {}),
      ...(r.workerPid !== null ? { workerPid: r.workerPid } : {}),
    };
  });
}

/** No Temporal or NATS address is configured and no `serflow up` stack is recorded. */
export class NoStackError extends Error {
  override readonly name = 'NoStackError';
}

/**
 * A Temporal or NATS address is known but its server cannot be reached (stopped, wrong address, network,
 * credentials).
 */
export class StackUnreachableError extends Error {
  override readonly name = 'StackUnreachableError';
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
