/**
 * Temporal's own client configuration, read with `@temporalio/envconfig` (part of the configuration, like
 * config.ts: it reads files). A TOML profile — the file `TEMPORAL_CONFIG_FILE`, else
 * `$XDG_CONFIG_HOME/temporalio/temporal.toml` (`~/.config/...`); the profile `TEMPORAL_PROFILE`, else `default` —
 * overlaid by the standard variables:
 *
 * - `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`;
 * - `TEMPORAL_API_KEY` (turns TLS on);
 * - `TEMPORAL_TLS` (`true`/`1`, `false`/`0`), `TEMPORAL_TLS_SERVER_NAME` (SNI and the name the certificate must
 *   carry), `TEMPORAL_TLS_SERVER_CA_CERT_PATH` / `_DATA`, `TEMPORAL_TLS_CLIENT_CERT_PATH` / `_DATA` and
 *   `TEMPORAL_TLS_CLIENT_KEY_PATH` / `_DATA` (mutual TLS);
 * - `TEMPORAL_GRPC_META_<NAME>`: extra gRPC headers.
 *
 * Secrets (the API key, key material) stay in the environment and the files: processes the embedded stack starts
 * inherit them, nothing puts them on a command line, in a log line or in the state file. Errors name the variable
 * or the profile key and file that is wrong, never a secret's value.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { ConfigError } from './errors';

/** Profile envconfig reads when `TEMPORAL_PROFILE` is unset. */
export const DEFAULT_TEMPORAL_PROFILE = 'default';

/** The TOML file envconfig reads: `TEMPORAL_CONFIG_FILE`, else the per-user default (undefined without a home). */
export function temporalConfigFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CONFIG_FILE) return env.TEMPORAL_CONFIG_FILE;
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  const dir = xdg ?? (env.HOME ? path.join(env.HOME, '.config') : undefined);
  return dir ? path.join(dir, 'temporalio', 'temporal.toml') : undefined;
}

/** The TLS files of a profile: envconfig's field, its TOML key and its variable. */
const TLS_FILES = [
  { field: 'serverCACert', key: 'server_ca_cert', variable: 'TEMPORAL_TLS_SERVER_CA_CERT' },
  { field: 'clientCert', key: 'client_cert', variable: 'TEMPORAL_TLS_CLIENT_CERT' },
  { field: 'clientKey', key: 'client_key', variable: 'TEMPORAL_TLS_CLIENT_KEY' },
] as const;

const BOOLEAN_VALUES = ['true', '1', 'false', '0'];

export interface LoadTemporalProfileOptions {
  /**
   * Only the TOML profile, without the TEMPORAL_* overlay (config.ts reads TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE
   * in its own environment layer). @default false
   */
  fileOnly?: boolean;
}

/**
 * The Temporal client profile the environment selects, validated: a `TEMPORAL_CONFIG_FILE` or `TEMPORAL_PROFILE`
 * that does not exist, a TLS file that does not exist, a client certificate without its key, a malformed value
 * each throw ConfigError naming the variable or the key and file.
 */
export function loadTemporalProfile(
  env: NodeJS.ProcessEnv = process.env,
  options: LoadTemporalProfileOptions = {},
): ClientConfigProfile {
  const file = temporalConfigFile(env);
  if (env.TEMPORAL_CONFIG_FILE && !isFile(env.TEMPORAL_CONFIG_FILE)) {
    throw new ConfigError(`TEMPORAL_CONFIG_FILE: no such file ${JSON.stringify(env.TEMPORAL_CONFIG_FILE)}`);
  }
  const profileName = env.TEMPORAL_PROFILE || DEFAULT_TEMPORAL_PROFILE;
  const where = `profile "${profileName}" of ${file ?? 'the Temporal config file'}`;
  if (!options.fileOnly && env.TEMPORAL_TLS !== undefined && !BOOLEAN_VALUES.includes(env.TEMPORAL_TLS)) {
    throw new ConfigError(`TEMPORAL_TLS: expected true, false, 1 or 0, got ${JSON.stringify(env.TEMPORAL_TLS)}`);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      profile: env.TEMPORAL_PROFILE || undefined,
      disableEnv: options.fileOnly ?? false,
      overrideEnvVars: env as Record<string, string>,
    });
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if (/^Profile '.*' not found/.test(message)) {
      const exists = file !== undefined && isFile(file);
      throw new ConfigError(
        `TEMPORAL_PROFILE: no profile ${JSON.stringify(profileName)} in ${file ?? 'the Temporal config file'}` +
          (exists ? '' : ' (the file does not exist)'),
        { cause: err },
      );
    }
    // Only the first line: a TOML syntax error quotes the offending line, which may hold an API key.
    throw new ConfigError(`Temporal client config (${where}): ${message.split('\n')[0]}`);
  }
  for (const key of ['address', 'namespace', 'apiKey'] as const) {
    const value: unknown = profile[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      const toml = key === 'apiKey' ? 'api_key' : key;
      throw new ConfigError(`Temporal client config (${where}): ${toml} must be a non-empty string`);
    }
  }
  const tls = profile.tls;
  if (tls) {
    for (const f of TLS_FILES) {
      const source: ConfigDataSource | undefined = tls[f.field];
      if (!source || !('path' in source)) continue;
      if (typeof source.path !== 'string' || !isFile(source.path)) {
        const fromEnv = !options.fileOnly && env[`${f.variable}_PATH`] === source.path;
        const named = fromEnv ? `${f.variable}_PATH` : `${f.key}_path of ${where}`;
        throw new ConfigError(`${named}: no such file ${JSON.stringify(source.path)}`);
      }
    }
    if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
      throw new ConfigError(
        `Temporal mutual TLS needs both a client certificate and its key ` +
          `(TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or client_cert_path and ` +
          `client_key_path in ${where}); got only the ${tls.clientCert ? 'certificate' : 'key'}`,
      );
    }
    if (tls.serverName !== undefined && (typeof tls.serverName !== 'string' || tls.serverName === '')) {
      throw new ConfigError(`Temporal client config (${where}): tls.server_name must be a non-empty string`);
    }
  }
  return profile;
}

/** What a profile asks of the connection, for log lines: `TLS, client certificate, API key` (never a value). */
export function describeTemporalSecurity(profile: ClientConfigProfile): string {
  const parts: string[] = [];
  const tlsOn = profile.tls ? profile.tls.disabled !== true : profile.apiKey !== undefined;
  parts.push(tlsOn ? 'TLS' : 'no TLS');
  if (tlsOn && profile.tls?.serverCACert) parts.push('own CA');
  if (tlsOn && profile.tls?.clientCert) parts.push('client certificate');
  if (tlsOn && profile.tls?.serverName) parts.push(`server name ${profile.tls.serverName}`);
  if (profile.apiKey !== undefined) parts.push('API key');
  return parts.join(', ');
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
