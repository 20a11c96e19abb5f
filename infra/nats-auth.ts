/**
 * How this process authenticates to NATS: from the standard environment variables of the NATS tools, never from
 * a command line, so a secret is in no process listing, log line or state file. Children of the embedded stack
 * inherit the environment; a URL with credentials in it (`nats://user:pass@host`) is split so only its host part
 * travels on command lines and in the state file (`splitNatsUrl`).
 *
 * - `NATS_CREDS`: a credentials file (user JWT and NKey seed, as `nsc` writes it);
 * - `NATS_TOKEN`, or `NATS_USER` with `NATS_PASSWORD`;
 * - `NATS_CA`, `NATS_CERT`, `NATS_KEY`: TLS (a CA bundle to trust; a client certificate and key for mutual TLS).
 */
import * as fs from 'node:fs';
import { credsAuthenticator, type ConnectionOptions } from 'nats';

export class NatsAuthError extends Error {
  override readonly name = 'NatsAuthError';
}

const FILE_VARIABLES = ['NATS_CREDS', 'NATS_CA', 'NATS_CERT', 'NATS_KEY'] as const;

/** The connection options the environment asks for; throws NatsAuthError naming a variable that is wrong. */
export function natsAuthFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ConnectionOptions> {
  for (const name of FILE_VARIABLES) {
    const file = env[name];
    if (file && !fs.existsSync(file)) throw new NatsAuthError(`${name}: no such file ${JSON.stringify(file)}`);
  }
  if ((env.NATS_CERT && !env.NATS_KEY) || (env.NATS_KEY && !env.NATS_CERT)) {
    throw new NatsAuthError('NATS_CERT and NATS_KEY: a client certificate needs both');
  }
  if (env.NATS_PASSWORD && !env.NATS_USER) throw new NatsAuthError('NATS_PASSWORD is set without NATS_USER');
  const options: Partial<ConnectionOptions> = {};
  if (env.NATS_CREDS) options.authenticator = credsAuthenticator(readCredsFile(env.NATS_CREDS));
  if (env.NATS_TOKEN) options.token = env.NATS_TOKEN;
  if (env.NATS_USER) {
    options.user = env.NATS_USER;
    if (env.NATS_PASSWORD) options.pass = env.NATS_PASSWORD;
  }
  if (env.NATS_CA || env.NATS_CERT) {
    options.tls = {
      ...(env.NATS_CA ? { caFile: env.NATS_CA } : {}),
      ...(env.NATS_CERT ? { certFile: env.NATS_CERT, keyFile: env.NATS_KEY } : {}),
    };
  }
  return options;
}

/**
 * A NATS URL without its credentials, and the credentials as the environment variables `natsAuthFromEnv` reads:
 * `nats://user:pass@host:4222` → `nats://host:4222` and NATS_USER/NATS_PASSWORD; `nats://token@host` → NATS_TOKEN.
 */
export function splitNatsUrl(url: string): { url: string; env: Record<string, string> } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, env: {} };
  }
  if (!parsed.username && !parsed.password) return { url, env: {} };
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  const bare = parsed.toString().replace(/\/$/, '');
  return { url: bare, env: pass ? { NATS_USER: user, NATS_PASSWORD: pass } : { NATS_TOKEN: user } };
}

/** A user JWT block and an NKey seed block, as `nsc` writes a .creds file. */
const CREDS_JWT = /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
const CREDS_SEED = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*SU[A-Z2-7]+/;

/**
 * The credentials file's bytes, checked for its two blocks here: nats.js would only fail at the server's challenge,
 * with a message that names neither the variable nor the file.
 */
function readCredsFile(file: string): Uint8Array {
  const bytes = fs.readFileSync(file);
  const text = bytes.toString('utf8');
  if (!CREDS_JWT.test(text) || !CREDS_SEED.test(text)) {
    throw new NatsAuthError(
      `NATS_CREDS: ${JSON.stringify(file)} is not a NATS credentials file ` +
        '(expected a "BEGIN NATS USER JWT" and a "BEGIN USER NKEY SEED" block, as nsc writes them)',
    );
  }
  return bytes;
}
