/** Temporal connection helpers shared by workers, the client and the embedded stack. */
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { toClientOptions } from '@temporalio/envconfig';
import type { SerflowConfig } from '../common/config';
import { SEARCH_ATTRIBUTES } from '../common/naming';
import { describeTemporalSecurity, loadTemporalProfile } from '../common/temporal-profile';
import { retryUntil } from './retry';
import { StackUnreachableError } from './stack-state';

const { IndexedValueType } = temporal.api.enums.v1;

const INDEXED_TYPE: Record<SearchAttributeType, temporal.api.enums.v1.IndexedValueType> = {
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Temporal's names for the search attribute types, as `start-dev --search-attribute NAME=TYPE` wants them. */
const CLI_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** `--search-attribute NAME=TYPE` arguments for `temporal server start-dev`. */
export function searchAttributeArgs(): string[] {
  return Object.values(SEARCH_ATTRIBUTES).flatMap((a) => ['--search-attribute', `${a.name}=${CLI_TYPE[a.type]}`]);
}

/**
 * Which Temporal server to connect to. The TLS settings, API key and gRPC headers of Temporal's client config
 * (TEMPORAL_* variables, TEMPORAL_PROFILE; common/temporal-profile.ts) apply to a configured server; the embedded dev
 * server (started by the stack when no address is configured) listens on loopback without TLS, so a connection to
 * it is plaintext whatever those settings say.
 */
export interface TemporalTarget {
  address: string;
  embedded: boolean;
}

/**
 * The target of a worker process or a stack child given `address`: the configured server when
 * `config.temporal.address` is set (the stack passes it on), else the embedded dev server the stack started.
 */
export function workerTemporalTarget(address: string, config: SerflowConfig): TemporalTarget {
  return { address, embedded: config.temporal.address === undefined };
}

/** The connection options of both the client `Connection` and the worker `NativeConnection`. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: ReturnType<typeof toClientOptions>['connectionOptions']['tls'];
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * Connection options for `target`: its address, plus (for a configured server) TLS, client certificate, server CA,
 * server name, API key and gRPC headers from Temporal's client config. Throws ConfigError naming a bad variable or
 * file. The result holds secrets: never log it (`describeTemporalConnection` says what it holds).
 */
export function temporalConnectionOptions(
  target: TemporalTarget,
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnectionOptions {
  if (target.embedded) return { address: target.address };
  const profile = loadTemporalProfile(env);
  // envconfig's own mapping: TLS on with an API key or any TLS setting, files read into the TLS config.
  const { tls } = toClientOptions(profile).connectionOptions;
  return {
    address: target.address,
    ...(tls !== undefined ? { tls } : {}),
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length ? { metadata: profile.grpcMeta } : {}),
  };
}

/** `127.0.0.1:7233 (no TLS)`, `my.tmprl.cloud:7233 (TLS, API key)`: for log lines, without any secret. */
export function describeTemporalConnection(target: TemporalTarget, env: NodeJS.ProcessEnv = process.env): string {
  const security = target.embedded ? 'embedded, no TLS' : describeTemporalSecurity(loadTemporalProfile(env));
  return `${target.address} (${security})`;
}

/** Connect a worker-side NativeConnection, waiting up to `timeoutMs` for the server. */
export function connectWorkerConnection(target: TemporalTarget, timeoutMs = 30_000): Promise<NativeConnection> {
  const options = temporalConnectionOptions(target); // a bad setting fails here, not retried
  return retryUntil(`Temporal at ${target.address}`, timeoutMs, () => NativeConnection.connect(options));
}

/**
 * Connect a client Connection, waiting up to `timeoutMs` for the server to answer; StackUnreachableError (naming the
 * address and the last error) when it does not.
 */
export async function connectClientConnection(
  target: TemporalTarget,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<Connection> {
  const options = temporalConnectionOptions(target); // a bad setting fails here, not retried
  try {
    return await retryUntil(
      `Temporal at ${target.address}`,
      timeoutMs,
      async () => {
        const connection = await Connection.connect({ ...options, connectTimeout: 2_000 });
        await connection.workflowService.getSystemInfo({});
        return connection;
      },
      signal,
    );
  } catch (err) {
    throw new StackUnreachableError((err as Error).message, { cause: (err as Error).cause ?? err });
  }
}

/**
 * Register SERFLOW's search attributes on `namespace` of an existing cluster (the embedded dev server gets
 * them as start flags). Already-registered attributes are left alone.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  await addSearchAttributes(connection, namespace, (name) => !have.has(name));
}

/**
 * Add SERFLOW's search attributes (those `wanted`, default all) to `namespace` without listing first: for servers
 * that cannot list them, like Temporal's time-skipping test server.
 */
export async function addSearchAttributes(
  connection: Connection,
  namespace: string,
  wanted: (name: string) => boolean = () => true,
): Promise<void> {
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((a) => wanted(a.name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((a) => [a.name, INDEXED_TYPE[a.type]])),
  });
}
