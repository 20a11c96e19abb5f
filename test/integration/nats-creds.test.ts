/**
 * SERFLOW's NATS connection with a credentials file (`NATS_CREDS`) against a real nats-server that requires TLS and
 * decentralized JWT auth: an operator, a system account and a JetStream-enabled account are minted here
 * (@nats-io/jwt, @nats-io/nkeys), preloaded into the server's memory resolver, and a user of that account gets a
 * .creds file. Publish/subscribe and JetStream work over it; a user of an account the server does not know, a
 * file that is not a credentials file, or a missing CA are refused with an error that names what is wrong.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
} from '@nats-io/jwt';
import { StringCodec } from 'nats';
import { freePort, spawnManaged, stopPid, tailLog, type ManagedProcess } from '../../deploy/local/processes';
import { resolveTool, TOOLS } from '../../deploy/local/tools';
import { connectNats } from '../../infra/nats';
import { NatsAuthError } from '../../infra/nats-auth';
import { retryUntil } from '../../infra/retry';
import { assertJetStreamOverTls } from '../helpers/nats-jetstream-check';
import { makeCertificates } from '../helpers/tls-certs';

/** An account and a user of it, written as a .creds file. */
async function accountWithUser(
  operator: ReturnType<typeof createOperator>,
  name: string,
  credsFile: string,
  jetstream: boolean,
): Promise<{ publicKey: string; jwt: string }> {
  const account = createAccount();
  // Unset account limits mean 0 (no connections at all): -1 is "no limit". JetStream is on with a storage limit.
  const limits = {
    ...{ subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
    ...(jetstream ? { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } : {}),
  };
  const jwt = await encodeAccount(name, account, { limits }, { signer: operator });
  const user = createUser();
  const userJwt = await encodeUser(`${name}-user`, user, account);
  fs.writeFileSync(credsFile, fmtCreds(userJwt, user), { mode: 0o600 });
  return { publicKey: account.getPublicKey(), jwt };
}

describe('NATS with TLS and a credentials file (operator / account / user JWTs)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-nats-creds-'));
  const creds = path.join(dir, 'serving.creds');
  /** A user whose account this server never heard of (same operator). */
  const strangerCreds = path.join(dir, 'stranger.creds');
  /** A user of an account signed by another operator. */
  const foreignCreds = path.join(dir, 'foreign.creds');
  let server: ManagedProcess;
  let url: string;
  let ca: string;

  before(async () => {
    const certs = makeCertificates(dir);
    ca = certs.ca;
    const operator = createOperator();
    const operatorJwt = await encodeOperator('serflow-test-operator', operator);
    const sys = await accountWithUser(operator, 'SYS', path.join(dir, 'sys.creds'), false);
    const serving = await accountWithUser(operator, 'SERVING', creds, true);
    await accountWithUser(operator, 'STRANGER', strangerCreds, true); // not preloaded
    await accountWithUser(createOperator(), 'FOREIGN', foreignCreds, true);
    const port = await freePort();
    const conf = path.join(dir, 'server.conf');
    fs.writeFileSync(
      conf,
      [
        `listen: "127.0.0.1:${port}"`,
        `operator: "${operatorJwt}"`,
        `system_account: "${sys.publicKey}"`,
        'resolver: MEMORY',
        'resolver_preload: {',
        `  ${sys.publicKey}: "${sys.jwt}"`,
        `  ${serving.publicKey}: "${serving.jwt}"`,
        '}',
        `jetstream: { store_dir: "${path.join(dir, 'js')}" }`,
        `tls: { cert_file: "${certs.cert}", key_file: "${certs.key}" }`,
        '',
      ].join('\n'),
    );
    server = spawnManaged({
      name: 'nats-creds',
      command: resolveTool(TOOLS.natsServer),
      args: ['-c', conf],
      logDir: dir,
    });
    url = `nats://127.0.0.1:${port}`;
    const env = { NATS_CREDS: creds, NATS_CA: ca };
    const nc = await retryUntil(`JWT nats-server (log: ${server.logFile})`, 15_000, () =>
      connectNats(url, 'nats-creds-probe', 1_000, env),
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${tailLog(server.logFile)}`);
    });
    await nc.close();
  });

  after(async () => {
    if (server) await stopPid(server.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('NATS_CREDS + NATS_CA: connected over TLS; publish/subscribe and JetStream work', async () => {
    const nc = await connectNats(url, 'nats-creds-env', 5_000, { NATS_CREDS: creds, NATS_CA: ca });
    try {
      assert.equal(nc.info?.auth_required, true, 'the server requires auth');
      const sc = StringCodec();
      const sub = nc.subscribe('serflow.creds.check', { max: 1 });
      const got = (async () => {
        for await (const m of sub) return sc.decode(m.data);
      })();
      nc.publish('serflow.creds.check', sc.encode('hello'));
      assert.equal(await got, 'hello');
      await assertJetStreamOverTls(nc, dir, 'creds-check');
    } finally {
      await nc.close();
    }
  });

  test('a user of an account the server does not know, or of another operator, is refused', async () => {
    for (const file of [strangerCreds, foreignCreds]) {
      await assert.rejects(connectNats(url, 'nats-creds-wrong', 3_000, { NATS_CREDS: file, NATS_CA: ca }), (err) => {
        assert.match((err as Error).message, /^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*authorization/i);
        assert.ok(!(err as Error).message.includes('SUA'), 'no seed in the message');
        return true;
      });
    }
  });

  test('no credentials, or no CA: refused', async () => {
    await assert.rejects(connectNats(url, 'nats-creds-none', 3_000, { NATS_CA: ca }), /authorization/i);
    await assert.rejects(connectNats(url, 'nats-creds-no-ca', 3_000, { NATS_CREDS: creds }));
  });

  test('a file that is not a credentials file, or none there: an error naming NATS_CREDS', async () => {
    const notCreds = path.join(dir, 'not.creds');
    fs.writeFileSync(notCreds, 'user=alice\n');
    await assert.rejects(
      connectNats(url, 'nats-creds-bad', 3_000, { NATS_CREDS: notCreds, NATS_CA: ca }),
      (err) =>
        err instanceof NatsAuthError && /^NATS_CREDS: .*not\.creds.* is not a NATS credentials file/.test(err.message),
    );
    await assert.rejects(
      connectNats(url, 'nats-creds-missing', 3_000, { NATS_CREDS: path.join(dir, 'gone.creds'), NATS_CA: ca }),
      (err) => err instanceof NatsAuthError && /^NATS_CREDS: no such file/.test(err.message),
    );
  });
});
