/**
 * SERFLOW's NATS connection against a real nats-server that requires TLS and a user/password (certificates made
 * by openssl for this run): credentials and the CA come from the environment (infra/nats-auth.ts), or from the URL,
 * which is then split so only the host part would travel on a command line; JetStream works over it; without the
 * CA or the password the connection is refused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileConfig } from '../../common/config';
import { startNatsServer } from '../../deploy/local/nats-server';
import { freePort, spawnManaged, stopPid, type ManagedProcess } from '../../deploy/local/processes';
import { startStack } from '../../deploy/local/stack';
import { resolveTool, TOOLS } from '../../deploy/local/tools';
import { connectNats } from '../../infra/nats';
import { retryUntil } from '../../infra/retry';
import { readStateFile, stateFilePath, writeStateFile } from '../../infra/stack-state';
import { listeningAddresses } from '../helpers/listening';
import { assertJetStreamOverTls } from '../helpers/nats-jetstream-check';
import { makeCertificates } from '../helpers/tls-certs';

const USER = 'serflow';
const PASSWORD = 'not-on-any-command-line';

describe('NATS with TLS and credentials', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-nats-tls-'));
  let server: ManagedProcess;
  let url: string;
  let ca: string;

  before(async () => {
    const certs = makeCertificates(dir);
    ca = certs.ca;
    const port = await freePort();
    // The password is in the server's own arguments here only because the test starts the server.
    server = spawnManaged({
      name: 'nats-tls',
      command: resolveTool(TOOLS.natsServer),
      args: [
        '-js',
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '-sd',
        path.join(dir, 'js'),
        '--tls',
        '--tlscert',
        certs.cert,
        '--tlskey',
        certs.key,
        '--user',
        USER,
        '--pass',
        PASSWORD,
      ],
      logDir: dir,
    });
    url = `nats://127.0.0.1:${port}`;
    const env = { NATS_CA: ca, NATS_USER: USER, NATS_PASSWORD: PASSWORD };
    const nc = await retryUntil('TLS nats-server', 15_000, () => connectNats(url, 'nats-tls-probe', 1_000, env));
    await nc.close();
  });

  after(async () => {
    if (server) await stopPid(server.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('credentials and CA from the environment: connected over TLS, JetStream works', async () => {
    const nc = await connectNats(url, 'nats-tls-env', 5_000, { NATS_CA: ca, NATS_USER: USER, NATS_PASSWORD: PASSWORD });
    try {
      await assertJetStreamOverTls(nc, dir, 'tls-check');
    } finally {
      await nc.close();
    }
  });

  test('credentials in the URL are used and kept out of the address', async () => {
    const withCreds = url.replace('nats://', `nats://${USER}:${PASSWORD}@`);
    const nc = await connectNats(withCreds, 'nats-tls-url', 5_000, { NATS_CA: ca });
    await nc.close();
    // A failure names the host only.
    await assert.rejects(
      connectNats(withCreds.replace(PASSWORD, 'wrong'), 'nats-tls-wrong', 3_000, { NATS_CA: ca }),
      (err: unknown) => {
        assert.ok(!(err as Error).message.includes('wrong'), (err as Error).message);
        assert.match((err as Error).message, /^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: /);
        return true;
      },
    );
  });

  test('a stack on this server: no secret in its state file, progress log or server command lines', async () => {
    const temporalKey = 'temporal-api-key-not-for-files';
    const saved = { NATS_CA: process.env.NATS_CA, TEMPORAL_API_KEY: process.env.TEMPORAL_API_KEY };
    // The CA and a Temporal API key reach the stack the only way they may: in the environment.
    Object.assign(process.env, { NATS_CA: ca, TEMPORAL_API_KEY: temporalKey });
    const home = path.join(dir, 'home');
    const lines: string[] = [];
    let stack: Awaited<ReturnType<typeof startStack>> | undefined;
    try {
      const withCreds = url.replace('nats://', `nats://${USER}:${PASSWORD}@`);
      stack = await startStack({
        config: compileConfig({ homeDir: home, nats: { url: withCreds } }),
        workers: false,
        dataDir: path.join(home, 'data'),
        onProgress: (l) => lines.push(l),
      });
      writeStateFile(home, stack.info);
      const state = fs.readFileSync(stateFilePath(home), 'utf8');
      assert.equal(readStateFile(home)?.natsUrl, url, 'the state file has the bare URL');
      assert.equal(stack.info.embeddedTemporal, true);
      const temporal = stack.info.processes.find((p) => p.role === 'temporal')!;
      const cmdline = fs.readFileSync(`/proc/${temporal.pid}/cmdline`, 'utf8');
      for (const [what, text] of [
        ['state file', state],
        ['progress log', lines.join('\n')],
        ['Temporal command line', cmdline],
      ] as const) {
        for (const secret of [PASSWORD, temporalKey]) assert.ok(!text.includes(secret), `no secret in the ${what}`);
      }
      // The embedded Temporal dev server listens on loopback only (frontend, UI, metrics, HTTP, internal ports).
      const bound = listeningAddresses(temporal.pid);
      assert.ok(bound.length >= 2, `Temporal listens (${bound.join(', ')})`);
      assert.deepEqual(
        bound.filter((a) => !a.startsWith('127.0.0.1:') && !a.startsWith('::1:')),
        [],
        `Temporal binds loopback only: ${bound.join(', ')}`,
      );
    } finally {
      await stack?.stop();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test('the embedded nats-server listens on loopback only', async () => {
    const server = await startNatsServer({
      port: await freePort(),
      storeDir: path.join(dir, 'embedded-js'),
      logDir: dir,
      clientName: 'loopback-check',
      readyTimeoutMs: 15_000,
    });
    try {
      const bound = listeningAddresses(server.process.pid);
      assert.ok(bound.length >= 1, 'it listens');
      assert.deepEqual(
        bound.filter((a) => !a.startsWith('127.0.0.1:')),
        [],
        `nats-server binds loopback only: ${bound.join(', ')}`,
      );
    } finally {
      await server.nc.close();
      await stopPid(server.process.pid);
    }
  });

  test('without the CA, or without the password, the connection is refused', async () => {
    await assert.rejects(connectNats(url, 'nats-tls-no-ca', 3_000, { NATS_USER: USER, NATS_PASSWORD: PASSWORD }));
    await assert.rejects(connectNats(url, 'nats-tls-no-pass', 3_000, { NATS_CA: ca }), /Authorization|auth/i);
  });
});
