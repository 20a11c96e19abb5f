/** infra/nats-auth.ts: credentials and TLS from the environment, and credentials split out of a NATS URL. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { NatsAuthError, natsAuthFromEnv, splitNatsUrl } from '../../../infra/nats-auth';

describe('splitNatsUrl', () => {
  test('user and password go to NATS_USER / NATS_PASSWORD, the URL keeps only the host', () => {
    assert.deepEqual(splitNatsUrl('nats://alice:s%40cret@nats.example:4222'), {
      url: 'nats://nats.example:4222',
      env: { NATS_USER: 'alice', NATS_PASSWORD: 's@cret' },
    });
  });
  test('a bare user part is a token', () => {
    assert.deepEqual(splitNatsUrl('nats://t0ken@127.0.0.1:4222'), {
      url: 'nats://127.0.0.1:4222',
      env: { NATS_TOKEN: 't0ken' },
    });
  });
  test('a URL without credentials is unchanged', () => {
    assert.deepEqual(splitNatsUrl('nats://127.0.0.1:4222'), { url: 'nats://127.0.0.1:4222', env: {} });
  });
});

describe('natsAuthFromEnv', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-nats-auth-'));
  const ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(ca, 'not read here');

  test('nothing set: no options', () => {
    assert.deepEqual(natsAuthFromEnv({}), {});
  });
  test('user, password and a CA', () => {
    assert.deepEqual(natsAuthFromEnv({ NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_CA: ca }), {
      user: 'u',
      pass: 'p',
      tls: { caFile: ca },
    });
  });
  test('a token', () => {
    assert.deepEqual(natsAuthFromEnv({ NATS_TOKEN: 't' }), { token: 't' });
  });
  const bad: Array<{ what: string; env: NodeJS.ProcessEnv; message: RegExp }> = [
    {
      what: 'a missing credentials file',
      env: { NATS_CREDS: '/nope.creds' },
      message: /^NATS_CREDS: no such file "\/nope\.creds"$/,
    },
    {
      what: 'a file that is not a credentials file',
      env: { NATS_CREDS: ca },
      message: /^NATS_CREDS: ".*ca\.pem" is not a NATS credentials file/,
    },
    { what: 'a missing CA file', env: { NATS_CA: '/nope.pem' }, message: /^NATS_CA: no such file/ },
    {
      what: 'a certificate without its key',
      env: { NATS_CERT: ca },
      message: /^NATS_CERT and NATS_KEY: a client certificate needs both$/,
    },
    {
      what: 'a password without a user',
      env: { NATS_PASSWORD: 'p' },
      message: /^NATS_PASSWORD is set without NATS_USER$/,
    },
  ];
  for (const c of bad) {
    test(`refuses ${c.what}, naming the variable`, () => {
      assert.throws(
        () => natsAuthFromEnv(c.env),
        (err: unknown) => err instanceof NatsAuthError && c.message.test(err.message),
      );
    });
  }
});
