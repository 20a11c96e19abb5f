/**
 * Temporal over mutual TLS with the connection options SERFLOW builds from the TEMPORAL_* variables and a TOML
 * profile (infra/temporal.ts, @temporalio/envconfig). `temporal server start-dev` has no TLS flags, so a real dev
 * server is put behind a TLS terminator started here (Node's tls server: the harness CA's server certificate, ALPN
 * h2, a client certificate required), which forwards the decrypted gRPC stream to the server's loopback port, as an
 * ingress in front of a Temporal frontend does. Both SDK connections (the client's Connection, grpc-js; the workers'
 * NativeConnection, the Rust core) reach the server through it; without the client certificate or without the CA
 * they are refused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_NAMESPACE } from '../../common/config';
import { stopPid } from '../../deploy/local/processes';
import { startTemporalDevServer, type StartedTemporalDevServer } from '../../deploy/local/temporal-server';
import { temporalConnectionOptions, type TemporalTarget } from '../../infra/temporal';
import { makeCertificates, type TestCertificates } from '../helpers/tls-certs';

/** The name the server certificate carries besides 127.0.0.1: reached through TEMPORAL_TLS_SERVER_NAME (SNI). */
const SERVER_NAME = 'temporal.serflow.test';

describe('Temporal over mutual TLS from TEMPORAL_* settings and a profile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-temporal-tls-'));
  let certs: TestCertificates;
  let server: StartedTemporalDevServer | undefined;
  let terminator: tls.Server;
  const sockets = new Set<net.Socket>();
  let target: TemporalTarget;
  /** Handshakes the terminator refused (no or unknown client certificate). */
  let refused = 0;

  before(async () => {
    certs = makeCertificates(dir, [SERVER_NAME]);
    server = await startTemporalDevServer({
      port: 0,
      uiPort: 0,
      dbFile: path.join(dir, 'temporal.sqlite'),
      namespace: DEFAULT_NAMESPACE,
      dynamicConfig: {},
      logDir: dir,
      readyTimeoutMs: 60_000,
    });
    const upstream = server.port;
    terminator = tls.createServer(
      {
        key: fs.readFileSync(certs.key),
        cert: fs.readFileSync(certs.cert),
        ca: fs.readFileSync(certs.ca),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (secure) => {
        const plain = net.connect(upstream, '127.0.0.1');
        for (const s of [secure, plain]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        secure.pipe(plain).pipe(secure);
      },
    );
    terminator.on('tlsClientError', () => refused++);
    await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
    target = { address: `127.0.0.1:${(terminator.address() as net.AddressInfo).port}`, embedded: false };
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => terminator?.close(resolve));
    if (server) await stopPid(server.process.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const mtlsEnv = (): NodeJS.ProcessEnv => ({
    HOME: dir,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
  });

  test('the client Connection and the worker NativeConnection, from TEMPORAL_* variables', async () => {
    const options = temporalConnectionOptions(target, mtlsEnv());
    assert.equal(typeof options.tls, 'object', 'TLS is on');
    const client = await Connection.connect({ ...options, connectTimeout: 10_000 });
    try {
      const info = await client.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion, 'the server answered through TLS');
      const ns = await client.workflowService.describeNamespace({ namespace: DEFAULT_NAMESPACE });
      assert.equal(ns.namespaceInfo?.name, DEFAULT_NAMESPACE);
    } finally {
      await client.close();
    }
    const native = await NativeConnection.connect(options);
    try {
      const info = await native.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion, 'the Rust core answered through TLS');
    } finally {
      await native.close();
    }
  });

  test('the same from a TOML profile chosen by TEMPORAL_PROFILE', async () => {
    const toml = path.join(dir, 'temporal.toml');
    fs.writeFileSync(
      toml,
      [
        '[profile.tls-test.tls]',
        `server_ca_cert_path = "${certs.ca}"`,
        `client_cert_path = "${certs.clientCert}"`,
        `client_key_path = "${certs.clientKey}"`,
        `server_name = "${SERVER_NAME}"`,
        '',
      ].join('\n'),
    );
    const env = { HOME: dir, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'tls-test' };
    const client = await Connection.connect({ ...temporalConnectionOptions(target, env), connectTimeout: 10_000 });
    try {
      assert.ok((await client.workflowService.getSystemInfo({})).serverVersion);
    } finally {
      await client.close();
    }
  });

  test('without the client certificate, or without the CA, the connection is refused', async () => {
    const before = refused;
    const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noClientCert } = mtlsEnv();
    await assert.rejects(
      Connection.connect({ ...temporalConnectionOptions(target, noClientCert), connectTimeout: 3_000 }),
    );
    assert.ok(refused > before, 'the terminator refused the handshake without a client certificate');
    const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: _ca, ...noCa } = mtlsEnv();
    await assert.rejects(NativeConnection.connect(temporalConnectionOptions(target, noCa)));
  });
});
