/**
 * infra/temporal.ts: the connection options every SERFLOW process uses (client Connection and worker
 * NativeConnection), built with envconfig from the TEMPORAL_* variables / a TOML profile for a configured server,
 * and plaintext for the embedded dev server.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { compileConfig } from '../../../common/config';
import { ConfigError } from '../../../common/errors';
import {
  describeTemporalConnection,
  temporalConnectionOptions,
  workerTemporalTarget,
  type TemporalTarget,
} from '../../../infra/temporal';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-temporal-conn-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const API_KEY = 'api-key-not-for-logs';
const ca = write('ca.pem', 'CA BYTES');
const cert = write('client.pem', 'CERT BYTES');
const key = write('client.key', 'KEY BYTES');
const home = fs.mkdtempSync(path.join(dir, 'home-'));
const external: TemporalTarget = { address: 'temporal.example:7233', embedded: false };
const bytes = (s: string) => Uint8Array.from(Buffer.from(s));

describe('temporalConnectionOptions', () => {
  test('nothing configured: the address alone (plaintext)', () => {
    assert.deepEqual(temporalConnectionOptions(external, { HOME: home }), { address: 'temporal.example:7233' });
  });

  test('an API key turns TLS on (system roots)', () => {
    assert.deepEqual(temporalConnectionOptions(external, { HOME: home, TEMPORAL_API_KEY: API_KEY }), {
      address: 'temporal.example:7233',
      tls: true,
      apiKey: API_KEY,
    });
  });

  test('mutual TLS from the variables: client pair, server CA and server name, the files read', () => {
    const o = temporalConnectionOptions(external, {
      HOME: home,
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_GRPC_META_X_TEAM: 'serving',
    });
    assert.deepEqual(o, {
      address: 'temporal.example:7233',
      tls: {
        serverNameOverride: 'temporal.internal',
        serverRootCACertificate: bytes('CA BYTES'),
        clientCertPair: { crt: bytes('CERT BYTES'), key: bytes('KEY BYTES') },
      },
      metadata: { 'x-team': 'serving' },
    });
  });

  test('a TOML profile: its TLS and key, the target address over the profile address', () => {
    const toml = write(
      'temporal.toml',
      [
        '[profile.cloud]',
        'address = "profile-host:7233"',
        `api_key = "${API_KEY}"`,
        '[profile.cloud.tls]',
        `server_ca_cert_path = "${ca}"`,
        `client_cert_path = "${cert}"`,
        `client_key_path = "${key}"`,
        '',
      ].join('\n'),
    );
    const env = { HOME: home, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' };
    const o = temporalConnectionOptions(external, env);
    assert.equal(o.address, 'temporal.example:7233');
    assert.equal(o.apiKey, API_KEY);
    assert.deepEqual(o.tls, {
      serverNameOverride: undefined,
      serverRootCACertificate: bytes('CA BYTES'),
      clientCertPair: { crt: bytes('CERT BYTES'), key: bytes('KEY BYTES') },
    });
    // TEMPORAL_TLS=false over the profile: plaintext, the key still sent.
    assert.equal(temporalConnectionOptions(external, { ...env, TEMPORAL_TLS: 'false' }).tls, false);
    const described = describeTemporalConnection(external, env);
    assert.equal(described, 'temporal.example:7233 (TLS, own CA, client certificate, API key)');
    assert.ok(!described.includes(API_KEY));
  });

  test('the embedded dev server is reached without TLS or key, whatever the variables say', () => {
    const env = { HOME: home, TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'true' };
    const embedded = { address: '127.0.0.1:7233', embedded: true };
    assert.deepEqual(temporalConnectionOptions(embedded, env), { address: '127.0.0.1:7233' });
    assert.equal(describeTemporalConnection(embedded, env), '127.0.0.1:7233 (embedded, no TLS)');
  });

  test('a worker is on the embedded server exactly when no address is configured', () => {
    assert.deepEqual(workerTemporalTarget('127.0.0.1:1', compileConfig({})), {
      address: '127.0.0.1:1',
      embedded: true,
    });
    assert.deepEqual(workerTemporalTarget('t:7233', compileConfig({ temporal: { address: 't:7233' } })), {
      address: 't:7233',
      embedded: false,
    });
  });

  test('a missing file fails before any connection, naming the variable', () => {
    assert.throws(
      () =>
        temporalConnectionOptions(external, { HOME: home, TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === 'TEMPORAL_TLS_SERVER_CA_CERT_PATH: no such file "/nonexistent/ca.pem"',
    );
  });
});
