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
import { freePort, spawnManaged, stopPid, type ManagedProcess } from '../../deploy/local/processes';
import { resolveTool, TOOLS } from '../../deploy/local/tools';
import { connectNats, ensureNatsResources } from '../../infra/nats';
import { retryUntil } from '../../infra/retry';
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
      assert.equal(nc.info?.tls_required, true, 'the server requires TLS');
      await ensureNatsResources(nc, compileConfig({ homeDir: dir }));
      const kv = await nc.jetstream().views.kv('tls-check');
      await kv.put('k', 'v');
      assert.equal((await kv.get('k'))?.string(), 'v');
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

  test('without the CA, or without the password, the connection is refused', async () => {
    await assert.rejects(connectNats(url, 'nats-tls-no-ca', 3_000, { NATS_USER: USER, NATS_PASSWORD: PASSWORD }));
    await assert.rejects(connectNats(url, 'nats-tls-no-pass', 3_000, { NATS_CA: ca }), /Authorization|auth/i);
  });
});
