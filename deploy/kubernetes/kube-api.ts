/**
 * The few calls the Kubernetes VM provider makes to the API server, over node:http(s) with the service account's
 * token and CA. Every response body is validated with a zod schema before it is used, so a proxy's HTML error page
 * or an object of the wrong kind is a named error, never a crash deeper in the provider.
 *
 * Why not `@kubernetes/client-node`: its 2.x needs undici 8 (Node >= 22.19; this project runs on Node 20), and 1.x
 * is ESM-only with types that our `module: commonjs` / `moduleResolution: node` build cannot resolve. We need four
 * endpoints (scale get/put/patch, pods list/patch/delete); node:https takes the CA bundle directly.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import type { z } from 'zod';
import type { KubernetesConfig } from '../../common/cloud-config';
import { formatIssues } from '../../common/zod-issues';

/** The API server refused a call (4xx/5xx): its HTTP status and Kubernetes' `Status.reason`, when it sent one. */
export class KubernetesApiError extends Error {
  override readonly name = 'KubernetesApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The API server (or whatever answered in its place) sent a body that is not the object the call expects. */
export class KubernetesResponseError extends Error {
  override readonly name = 'KubernetesResponseError';
}

/** No way to reach the API server: not in a pod and no `kubernetes.apiServer`, or the token or CA is unreadable. */
export class KubernetesCredentialsError extends Error {
  override readonly name = 'KubernetesCredentialsError';
}

/** Where the API server is and how to authenticate to it. */
export interface KubeApiTarget {
  /** e.g. `https://10.96.0.1:443`, no trailing slash. */
  baseUrl: string;
  /** File holding the bearer token (re-read as the kubelet rotates it); unset: no Authorization header. */
  tokenFile?: string;
  /** PEM CA bundle the server's certificate must chain to; unset: the system's roots (or plain http). */
  ca?: Buffer;
}

/**
 * The token is re-read this often: the kubelet rotates projected service account tokens (about hourly, valid
 * longer), so a cached token must not outlive a rotation by much, and a read per request would be wasted I/O.
 */
export const TOKEN_REREAD_MS = 60_000;

/** Where to reach the API server from `config`: `apiServer` when set, else in-cluster (service env + account). */
export function resolveKubeApiTarget(config: KubernetesConfig, env: NodeJS.ProcessEnv = process.env): KubeApiTarget {
  const dir = config.serviceAccountDir;
  const tokenFile = path.join(dir, 'token');
  const caFile = path.join(dir, 'ca.crt');
  if (config.apiServer) {
    return {
      baseUrl: config.apiServer.replace(/\/+$/, ''),
      tokenFile: fs.existsSync(tokenFile) ? tokenFile : undefined,
      ca: config.apiServer.startsWith('https:') && fs.existsSync(caFile) ? fs.readFileSync(caFile) : undefined,
    };
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubernetesCredentialsError(
      'kubernetes.apiServer is unset and this process is not in a pod (KUBERNETES_SERVICE_HOST/PORT unset): ' +
        'set kubernetes.apiServer (e.g. http://127.0.0.1:8001 behind `kubectl proxy`)',
    );
  }
  let ca: Buffer;
  try {
    ca = fs.readFileSync(caFile);
    fs.accessSync(tokenFile, fs.constants.R_OK);
  } catch (err) {
    throw new KubernetesCredentialsError(
      `in-cluster credentials unreadable in kubernetes.serviceAccountDir (${dir}): ${(err as Error).message}; ` +
        'is automountServiceAccountToken off for this pod?',
      { cause: err },
    );
  }
  const hostPart = host.includes(':') ? `[${host}]` : host; // an IPv6 service address
  return { baseUrl: `https://${hostPart}:${port}`, tokenFile, ca };
}

export interface KubeRequest {
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute API path with query, e.g. `/api/v1/namespaces/serflow/pods?labelSelector=...`. */
  path: string;
  body?: unknown;
  /** @default application/json; PATCH: application/merge-patch+json */
  contentType?: string;
}

export interface KubeApi {
  /** Call the API server and return its JSON body validated by `schema`; named errors otherwise (above). */
  request<S extends z.ZodType>(req: KubeRequest, schema: S): Promise<z.output<S>>;
  close(): void;
}

/** Body bytes kept for an error message: enough for a Status message, not a whole HTML page. */
const ERROR_BODY_CHARS = 300;

/** A client of the API server at `target`; each call fails after `timeoutMs`. */
export function createKubeApi(target: KubeApiTarget, timeoutMs: number): KubeApi {
  const url = new URL(target.baseUrl);
  const secure = url.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true, ca: target.ca }) : new http.Agent({ keepAlive: true });
  let token: { value: string; readAt: number } | undefined;

  function bearer(): string | undefined {
    if (!target.tokenFile) return undefined;
    if (!token || Date.now() - token.readAt > TOKEN_REREAD_MS) {
      try {
        token = { value: fs.readFileSync(target.tokenFile, 'utf8').trim(), readAt: Date.now() };
      } catch (err) {
        throw new KubernetesCredentialsError(`service account token ${target.tokenFile}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    return token.value;
  }

  function send(req: KubeRequest): Promise<{ status: number; text: string }> {
    const what = `${req.method} ${req.path}`;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    const auth = bearer();
    if (auth) headers.authorization = `Bearer ${auth}`;
    if (body !== undefined) {
      headers['content-type'] =
        req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const basePath = url.pathname.replace(/\/+$/, '');
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port || (secure ? 443 : 80),
          path: basePath + req.path,
          method: req.method,
          headers,
          agent,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) =>
            reject(new KubernetesApiError(`${what}: ${err.message}`, 0, undefined, { cause: err })),
          );
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on('error', (err) =>
        reject(new KubernetesApiError(`${what} to ${target.baseUrl}: ${err.message}`, 0, undefined, { cause: err })),
      );
      request.end(body);
    });
  }

  return {
    async request(req, schema) {
      const what = `${req.method} ${req.path}`;
      const { status, text } = await send(req);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (status < 200 || status >= 300) {
        const st = json as { message?: unknown; reason?: unknown } | undefined;
        const message = typeof st?.message === 'string' ? st.message : text.slice(0, ERROR_BODY_CHARS);
        const reason = typeof st?.reason === 'string' ? st.reason : undefined;
        throw new KubernetesApiError(
          `${what}: HTTP ${status}${reason ? ` ${reason}` : ''}: ${message}`,
          status,
          reason,
        );
      }
      if (json === undefined) {
        throw new KubernetesResponseError(
          `${what}: HTTP ${status} body is not JSON: ${text.slice(0, ERROR_BODY_CHARS)}`,
        );
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        throw new KubernetesResponseError(`${what}: unexpected response: ${formatIssues(parsed.error, json)}`);
      }
      return parsed.data;
    },
    close() {
      agent.destroy();
    },
  };
}
