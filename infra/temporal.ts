/** Temporal connection helpers shared by workers, the client and the embedded stack. */
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../common/naming';
import { retryUntil } from './retry';

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

/** Connect a worker-side NativeConnection, waiting up to `timeoutMs` for the server. */
export function connectWorkerConnection(address: string, timeoutMs = 30_000): Promise<NativeConnection> {
  return retryUntil(`Temporal at ${address}`, timeoutMs, () => NativeConnection.connect({ address }));
}

/** Connect a client Connection, waiting up to `timeoutMs` for the server to answer. */
export function connectClientConnection(address: string, timeoutMs = 30_000): Promise<Connection> {
  return retryUntil(`Temporal at ${address}`, timeoutMs, async () => {
    const connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.workflowService.getSystemInfo({});
    return connection;
  });
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
