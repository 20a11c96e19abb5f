/**
 * The faults the suite injects, one per scenario, each into a stack under steady load. A scenario names the
 * component and does what an operator would see happen to it: kill -9, or (servers) kill -9 and start again on the
 * same port and store after an outage.
 */
import { INFERENCE_TASK_QUEUE } from '../../common/naming';
import { callPoolsApi } from '../../infra/pools-api';
import type { NatsConnection } from 'nats';
import { argValue, findProcesses } from './proc-watch';

export interface FaultTarget {
  /** The suite's NATS connection (the pools API). */
  nats(): NatsConnection;
  /** Current pid of a worker process of the stack, by its name. */
  stackPid(name: string): number | undefined;
  /** Kill the client process outright, then start a client again that re-submits what it had open. */
  killClient(): Promise<string>;
  /** Kill -9 a server and start it again on its port and store after `outageMs`. */
  restartServer(which: 'nats' | 'temporal', outageMs: number): Promise<string>;
  model: string;
}

export interface FaultScenario {
  name: string;
  /** What is done, in words, for the report. */
  fault: string;
  inject(target: FaultTarget): Promise<string>;
}

/** How long a restarted server stays away. */
export const SERVER_OUTAGE_MS = 3_000;

const kill9 = (pid: number) => process.kill(pid, 'SIGKILL');

async function killStackProcess(t: FaultTarget, name: string): Promise<string> {
  const pid = t.stackPid(name);
  if (!pid) throw new Error(`fault: the stack runs no process named ${name}`);
  kill9(pid);
  return `kill -9 ${name} (pid ${pid})`;
}

export const SCENARIOS: readonly FaultScenario[] = [
  {
    name: 'stage-vm',
    fault: 'kill -9 a ready stage VM (stage 2) with queries in flight',
    async inject(t) {
      const { vms } = await callPoolsApi(t.nats(), { op: 'list' });
      const vm = vms.find((v) => v.model === t.model && v.stage === 2 && v.state === 'ready' && v.pid);
      if (!vm?.pid) throw new Error('fault: no ready stage-2 VM to kill');
      kill9(vm.pid);
      return `kill -9 VM ${vm.id} (pid ${vm.pid})`;
    },
  },
  {
    name: 'function-instance',
    fault: 'kill -9 a function instance, busy if one is',
    async inject(t) {
      const { functions } = await callPoolsApi(t.nats(), { op: 'list' });
      const mine = functions.filter((f) => f.model === t.model);
      const pick = mine.find((f) => f.state === 'busy') ?? mine.find((f) => f.state === 'idle');
      if (!pick) throw new Error('fault: no function instance to kill');
      const proc = findProcesses((a) => argValue(a, '--instance-id') === pick.instanceId)[0];
      if (!proc) throw new Error(`fault: no process runs function instance ${pick.instanceId}`);
      kill9(proc.pid);
      return `kill -9 function instance ${pick.instanceId} (${pick.state}, pid ${proc.pid})`;
    },
  },
  { name: 'cloud-agent', fault: 'kill -9 the cloud agent', inject: (t) => killStackProcess(t, 'cloud-agent') },
  {
    name: 'autoscaler',
    fault: 'kill -9 the autoscaler',
    inject: (t) => killStackProcess(t, `autoscaler-${t.model}`),
  },
  {
    name: 'workflow-worker',
    fault: 'kill -9 the workflow worker',
    inject: (t) => killStackProcess(t, `worker-${INFERENCE_TASK_QUEUE}`),
  },
  {
    name: 'client',
    fault: 'kill -9 the client; a new client re-submits its open queries under their ids',
    inject: (t) => t.killClient(),
  },
  {
    name: 'nats-server',
    fault: `kill -9 nats-server, start it again after ${SERVER_OUTAGE_MS / 1000} s (same port and store)`,
    inject: (t) => t.restartServer('nats', SERVER_OUTAGE_MS),
  },
  {
    name: 'temporal-server',
    fault: `kill -9 the Temporal server, start it again after ${SERVER_OUTAGE_MS / 1000} s (same port and database)`,
    inject: (t) => t.restartServer('temporal', SERVER_OUTAGE_MS),
  },
];

export function scenarioByName(name: string): FaultScenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s)
    throw new Error(
      `unknown fault scenario ${JSON.stringify(name)}; known: ${SCENARIOS.map((x) => x.name).join(', ')}`,
    );
  return s;
}
