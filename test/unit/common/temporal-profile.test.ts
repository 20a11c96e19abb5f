/**
 * common/temporal-profile.ts: Temporal's client config (`@temporalio/envconfig`: a TOML profile overlaid by the
 * TEMPORAL_* variables) read and validated, with errors naming the variable or the profile key and file; and its
 * place in loadConfig's layers (below the SERFLOW config file, the environment and flags).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../../common/config';
import { ConfigError } from '../../../common/errors';
import { describeTemporalSecurity, loadTemporalProfile, temporalConfigFile } from '../../../common/temporal-profile';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serflow-temporal-profile-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const API_KEY = 'key-that-must-not-be-printed';
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const ca = file('ca.pem', 'CA BYTES');
const cert = file('client.pem', 'CERT BYTES');
const key = file('client.key', 'KEY BYTES');
const toml = file(
  'temporal.toml',
  [
    '[profile.default]',
    'address = "default-host:7233"',
    '',
    '[profile.prod]',
    'address = "prod.example:7233"',
    'namespace = "prod-ns"',
    `api_key = "${API_KEY}"`,
    '[profile.prod.tls]',
    `server_ca_cert_path = "${ca}"`,
    `client_cert_path = "${cert}"`,
    `client_key_path = "${key}"`,
    'server_name = "temporal.internal"',
    '[profile.prod.grpc_meta]',
    'x-team = "serving"',
    '',
    '[profile.missing-cert.tls]',
    `client_cert_path = "${path.join(dir, 'gone.pem')}"`,
    `client_key_path = "${key}"`,
    '',
    '[profile.cert-only.tls]',
    `client_cert_path = "${cert}"`,
    '',
    '[profile.numeric]',
    'api_key = 5',
    '',
  ].join('\n'),
);
/** A home with no Temporal config file: nothing of the machine's own config leaks in. */
const home = fs.mkdtempSync(path.join(dir, 'home-'));
const base = { HOME: home };

const rejectsWith = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(API_KEY), `no secret in ${err.message}`);
    return true;
  });

describe('loadTemporalProfile', () => {
  test('nothing configured: an empty profile (no TLS, no key)', () => {
    assert.deepEqual(loadTemporalProfile(base), {});
    assert.equal(temporalConfigFile(base), path.join(home, '.config', 'temporalio', 'temporal.toml'));
  });

  test('the TEMPORAL_* variables: address, namespace, API key, TLS files and server name', () => {
    const p = loadTemporalProfile({
      ...base,
      TEMPORAL_ADDRESS: 'cloud.example:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'sni.example',
    });
    assert.equal(p.address, 'cloud.example:7233');
    assert.equal(p.namespace, 'ns.acct');
    assert.equal(p.apiKey, API_KEY);
    assert.deepEqual(p.tls, { serverName: 'sni.example', serverCACert: { path: ca } });
    assert.equal(describeTemporalSecurity(p), 'TLS, own CA, server name sni.example, API key');
  });

  test('a TOML profile chosen by TEMPORAL_PROFILE, the variables over it', () => {
    const env = { ...base, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' };
    const p = loadTemporalProfile(env);
    assert.equal(p.address, 'prod.example:7233');
    assert.equal(p.namespace, 'prod-ns');
    assert.deepEqual(p.tls, {
      serverName: 'temporal.internal',
      serverCACert: { path: ca },
      clientCert: { path: cert },
      clientKey: { path: key },
    });
    assert.deepEqual(p.grpcMeta, { 'x-team': 'serving' });
    const over = loadTemporalProfile({ ...env, TEMPORAL_NAMESPACE: 'env-ns', TEMPORAL_TLS: 'false' });
    assert.equal(over.namespace, 'env-ns');
    assert.equal(over.tls?.disabled, true);
    // fileOnly: the profile as written, without the variables (config.ts reads those in its own layer).
    assert.equal(
      loadTemporalProfile({ ...env, TEMPORAL_NAMESPACE: 'env-ns' }, { fileOnly: true }).namespace,
      'prod-ns',
    );
  });

  test('the default profile of the default file is read without TEMPORAL_PROFILE', () => {
    const xdg = fs.mkdtempSync(path.join(dir, 'xdg-'));
    fs.mkdirSync(path.join(xdg, 'temporalio'));
    fs.copyFileSync(toml, path.join(xdg, 'temporalio', 'temporal.toml'));
    assert.equal(loadTemporalProfile({ ...base, XDG_CONFIG_HOME: xdg }).address, 'default-host:7233');
  });

  test('bad values: each error names the variable, or the key, profile and file', () => {
    const env = { ...base, TEMPORAL_CONFIG_FILE: toml };
    rejectsWith(
      () => loadTemporalProfile({ ...base, TEMPORAL_CONFIG_FILE: path.join(dir, 'nope.toml') }),
      /^TEMPORAL_CONFIG_FILE: no such file ".*nope\.toml"$/,
    );
    rejectsWith(
      () => loadTemporalProfile({ ...env, TEMPORAL_PROFILE: 'staging' }),
      new RegExp(`^TEMPORAL_PROFILE: no profile "staging" in ${toml}$`),
    );
    rejectsWith(
      () => loadTemporalProfile({ ...base, TEMPORAL_PROFILE: 'prod' }),
      /^TEMPORAL_PROFILE: no profile "prod" in .*temporal\.toml \(the file does not exist\)$/,
    );
    rejectsWith(
      () =>
        loadTemporalProfile({
          ...base,
          TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'no-cert.pem'),
          TEMPORAL_TLS_CLIENT_KEY_PATH: key,
        }),
      /^TEMPORAL_TLS_CLIENT_CERT_PATH: no such file ".*no-cert\.pem"$/,
    );
    rejectsWith(
      () => loadTemporalProfile({ ...base, TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'no-ca.pem') }),
      /^TEMPORAL_TLS_SERVER_CA_CERT_PATH: no such file/,
    );
    rejectsWith(
      () => loadTemporalProfile({ ...env, TEMPORAL_PROFILE: 'missing-cert' }),
      new RegExp(`^client_cert_path of profile "missing-cert" of ${toml}: no such file ".*gone\\.pem"$`),
    );
    rejectsWith(
      () => loadTemporalProfile({ ...env, TEMPORAL_PROFILE: 'cert-only' }),
      /needs both a client certificate and its key .*got only the certificate$/,
    );
    rejectsWith(() => loadTemporalProfile({ ...base, TEMPORAL_TLS_CLIENT_KEY_PATH: key }), /got only the key$/);
    rejectsWith(() => loadTemporalProfile({ ...base, TEMPORAL_TLS: 'yes' }), /^TEMPORAL_TLS: expected true, false/);
    rejectsWith(
      () => loadTemporalProfile({ ...env, TEMPORAL_PROFILE: 'numeric' }),
      /profile "numeric" of .*: api_key must be a non-empty string$/,
    );
    // A TOML syntax error is reported by its first line only: the line it quotes could hold a key.
    const broken = file('broken.toml', `[profile.default]\napi_key = "${API_KEY}\n`);
    rejectsWith(() => loadTemporalProfile({ ...base, TEMPORAL_CONFIG_FILE: broken }), /^Temporal client config/);
  });
});

describe('loadConfig layers the Temporal profile under SERFLOW’s own settings', () => {
  const env = { ...base, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' };

  test('the profile gives the address and namespace', () => {
    const c = loadConfig({}, env);
    assert.equal(c.temporal.address, 'prod.example:7233');
    assert.equal(c.temporal.namespace, 'prod-ns');
    assert.ok(!JSON.stringify(c).includes(API_KEY), 'the API key is not copied into the configuration');
  });

  test('the SERFLOW config file, then TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, then flags win over it', () => {
    const fromFile = { SERFLOW_CONFIG_JSON: JSON.stringify({ temporal: { namespace: 'file-ns' } }) };
    assert.equal(loadConfig({}, { ...env, ...fromFile }).temporal.namespace, 'file-ns');
    assert.equal(loadConfig({}, { ...env, ...fromFile }).temporal.address, 'prod.example:7233');
    assert.equal(loadConfig({}, { ...env, TEMPORAL_NAMESPACE: 'env-ns' }).temporal.namespace, 'env-ns');
    assert.equal(loadConfig({ temporal: { address: 'flag:7233' } }, env).temporal.address, 'flag:7233');
  });

  test('no profile and no address: none configured (the embedded dev server)', () => {
    assert.equal(loadConfig({}, base).temporal.address, undefined);
  });

  test('a profile that does not exist fails the configuration, naming TEMPORAL_PROFILE', () => {
    rejectsWith(() => loadConfig({}, { ...env, TEMPORAL_PROFILE: 'nope' }), /^TEMPORAL_PROFILE: no profile "nope"/);
  });
});
