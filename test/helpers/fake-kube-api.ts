/**
 * A local stand-in for the Kubernetes API server, for the Kubernetes VM provider's contract tests: the endpoints the
 * provider calls (a Deployment's scale subresource: GET/PUT/PATCH; pods: list by label selector, merge-patch,
 * delete), plus a simulated Deployment/ReplicaSet controller that creates pods when replicas grow (Pending, then
 * scheduled and Running, then Ready) and deletes pods when they shrink, in Kubernetes' own order
 * (pkg/controller/controller_utils.go ActivePodsWithRanks: unscheduled, Pending, not ready, lower
 * pod-deletion-cost, more recently ready, newer first), each deleted pod terminating through a grace period.
 * Written independently of the provider's own ranking helper, so the tests check it against this model.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeDeployment {
  name: string;
  labels: Record<string, string>;
  replicas: number;
  resourceVersion: number;
}

export interface FakePod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
  };
  spec: { nodeName?: string };
  status: {
    phase: string;
    conditions?: { type: string; status: string; lastTransitionTime: string }[];
  };
  /** The deployment that owns it (a test convenience; real pods have ownerReferences). */
  owner: string;
}

export interface FakeKubeApiOptions {
  namespace: string;
  /** Bearer token required on every call. */
  token: string;
  /** A new pod is scheduled (and Running) this long after its creation. @default 50 */
  scheduleMs?: number;
  /** ...and Ready this long after its creation. @default 150 */
  readyMs?: number;
  /** A deleted pod is gone this long after its deletion (its termination grace, cut short). @default 300 */
  graceMs?: number;
  /** terminationGracePeriodSeconds the pods report as their deletion grace. @default 30 */
  graceSeconds?: number;
}

/** One canned answer to the next request whose method and path match (the path without its query). */
export interface Injection {
  method: string;
  path: string | RegExp;
  status: number;
  body: string;
}

export interface FakeKubeApi {
  url: string;
  deployments: Map<string, FakeDeployment>;
  pods: Map<string, FakePod>;
  /** Extra raw items appended to every pod list (malformed pods). */
  extraListItems: unknown[];
  /** `METHOD path` of every request served, in order. */
  requests: string[];
  addDeployment(name: string, labels: Record<string, string>, replicas?: number): void;
  inject(i: Injection): void;
  /** Set a pod's Ready condition to False (a readiness probe that starts failing). */
  setReady(name: string, ready: boolean): void;
  close(): Promise<void>;
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function readyTime(p: FakePod): number | undefined {
  const c = p.status.conditions?.find((x) => x.type === 'Ready' && x.status === 'True');
  return c ? Date.parse(c.lastTransitionTime) : undefined;
}

/** ActivePodsWithRanks.Less, the parts a test can tell apart: negative when `a` is deleted before `b`. */
function deletionOrder(a: FakePod, b: FakePod): number {
  const scheduled = (p: FakePod) => (p.spec.nodeName ? 1 : 0);
  if (scheduled(a) !== scheduled(b)) return scheduled(a) - scheduled(b);
  const phase = (p: FakePod) => PHASE_ORDINAL[p.status.phase] ?? 0;
  if (phase(a) !== phase(b)) return phase(a) - phase(b);
  const ready = (p: FakePod) => (readyTime(p) !== undefined ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  const cost = (p: FakePod) => Number(p.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? 0);
  if (cost(a) !== cost(b)) return cost(a) - cost(b);
  const ra = readyTime(a);
  const rb = readyTime(b);
  if (ra !== undefined && rb !== undefined && ra !== rb) return rb - ra; // ready for less time first
  return Date.parse(b.metadata.creationTimestamp) - Date.parse(a.metadata.creationTimestamp); // newer first
}

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

export async function startFakeKubeApi(o: FakeKubeApiOptions): Promise<FakeKubeApi> {
  const scheduleMs = o.scheduleMs ?? 50;
  const readyMs = o.readyMs ?? 150;
  const graceMs = o.graceMs ?? 300;
  const graceSeconds = o.graceSeconds ?? 30;
  const deployments = new Map<string, FakeDeployment>();
  const pods = new Map<string, FakePod>();
  const injections: Injection[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const requests: string[] = [];
  const extraListItems: unknown[] = [];
  let seq = 0;
  // Creation timestamps have second precision in Kubernetes; here milliseconds, so "newer" is never a tie.
  const iso = (ms = Date.now()) => new Date(ms).toISOString();

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  function deletePod(p: FakePod): void {
    if (p.metadata.deletionTimestamp) return;
    p.metadata.deletionTimestamp = iso(Date.now() + graceSeconds * 1000);
    p.metadata.deletionGracePeriodSeconds = graceSeconds;
    later(graceMs, () => {
      pods.delete(p.metadata.name);
      reconcile();
    });
  }

  /** The Deployment + ReplicaSet controllers: make each deployment's live pods match its replicas. */
  function reconcile(): void {
    for (const d of deployments.values()) {
      const live = [...pods.values()].filter((p) => p.owner === d.name && !p.metadata.deletionTimestamp);
      for (let i = live.length; i < d.replicas; i++) {
        const name = `${d.name}-5d8f9c7b6f-${(++seq).toString(36).padStart(5, 'x')}`;
        const pod: FakePod = {
          metadata: {
            name,
            namespace: o.namespace,
            uid: `uid-${seq}`,
            labels: { ...d.labels },
            creationTimestamp: iso(),
          },
          spec: {},
          status: { phase: 'Pending' },
          owner: d.name,
        };
        pods.set(name, pod);
        later(scheduleMs, () => {
          if (!pods.has(name)) return;
          pod.spec.nodeName = 'node-1';
          pod.status.phase = 'Running';
        });
        later(readyMs, () => {
          if (pods.has(name) && !pod.metadata.deletionTimestamp) {
            pod.status.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: iso() }];
          }
        });
      }
      if (live.length > d.replicas) {
        for (const p of [...live].sort(deletionOrder).slice(0, live.length - d.replicas)) deletePod(p);
      }
    }
  }

  function matchesSelector(p: FakePod, selector: string): boolean {
    return selector
      .split(',')
      .filter(Boolean)
      .every((term) => {
        const [k, v] = term.split('=');
        return p.metadata.labels[k!] === v;
      });
  }

  const scaleOf = (d: FakeDeployment) => ({
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: d.name, namespace: o.namespace, resourceVersion: String(d.resourceVersion) },
    spec: d.replicas === 0 ? {} : { replicas: d.replicas }, // omitempty, as the real API
    status: { replicas: [...pods.values()].filter((p) => p.owner === d.name).length, selector: 'x' },
  });

  function handle(method: string, url: URL, body: unknown): { code: number; body: string } {
    const ns = o.namespace;
    const scale = url.pathname.match(new RegExp(`^/apis/apps/v1/namespaces/${ns}/deployments/([^/]+)/scale$`));
    if (scale) {
      const d = deployments.get(decodeURIComponent(scale[1]!));
      if (!d) return { code: 404, body: status(404, 'NotFound', `deployments.apps "${scale[1]}" not found`) };
      if (method === 'GET') return { code: 200, body: JSON.stringify(scaleOf(d)) };
      const b = body as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
      const replicas = b?.spec?.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        return { code: 422, body: status(422, 'Invalid', `spec.replicas: Invalid value: ${JSON.stringify(replicas)}`) };
      }
      if (method === 'PUT') {
        const rv = b.metadata?.resourceVersion;
        if (rv !== undefined && rv !== String(d.resourceVersion)) {
          return {
            code: 409,
            body: status(
              409,
              'Conflict',
              'the object has been modified; please apply your changes to the latest version and try again',
            ),
          };
        }
      } else if (method !== 'PATCH') {
        return { code: 405, body: status(405, 'MethodNotAllowed', method) };
      }
      d.replicas = replicas;
      d.resourceVersion++;
      reconcile();
      return { code: 200, body: JSON.stringify(scaleOf(d)) };
    }
    if (url.pathname === `/api/v1/namespaces/${ns}/pods` && method === 'GET') {
      const selector = url.searchParams.get('labelSelector') ?? '';
      const items = [...pods.values()].filter((p) => matchesSelector(p, selector)).map(({ owner: _o, ...p }) => p);
      return {
        code: 200,
        body: JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [...items, ...extraListItems] }),
      };
    }
    const pod = url.pathname.match(new RegExp(`^/api/v1/namespaces/${ns}/pods/([^/]+)$`));
    if (pod) {
      const p = pods.get(decodeURIComponent(pod[1]!));
      if (!p) return { code: 404, body: status(404, 'NotFound', `pods "${pod[1]}" not found`) };
      if (method === 'PATCH') {
        const annotations = (body as { metadata?: { annotations?: Record<string, string> } })?.metadata?.annotations;
        p.metadata.annotations = { ...p.metadata.annotations, ...annotations };
      } else if (method === 'DELETE') {
        deletePod(p);
        reconcile();
      }
      const { owner: _o, ...out } = p;
      return { code: 200, body: JSON.stringify(out) };
    }
    return { code: 404, body: status(404, 'NotFound', `no route ${method} ${url.pathname}`) };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const method = req.method ?? 'GET';
      requests.push(`${method} ${url.pathname}`);
      const send = (code: number, text: string) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (req.headers.authorization !== `Bearer ${o.token}`)
        return send(401, status(401, 'Unauthorized', 'Unauthorized'));
      const i = injections.findIndex(
        (x) =>
          x.method === method && (typeof x.path === 'string' ? x.path === url.pathname : x.path.test(url.pathname)),
      );
      if (i >= 0) {
        const [hit] = injections.splice(i, 1);
        return send(hit!.status, hit!.body);
      }
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        return send(400, status(400, 'BadRequest', 'body is not JSON'));
      }
      const out = handle(method, url, body);
      send(out.code, out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    deployments,
    pods,
    extraListItems,
    requests,
    addDeployment(name, labels, replicas = 0) {
      deployments.set(name, { name, labels, replicas, resourceVersion: 1 });
      reconcile();
    },
    inject(i) {
      injections.push(i);
    },
    setReady(name, ready) {
      const p = pods.get(name);
      if (p) p.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: iso() }];
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
