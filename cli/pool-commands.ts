/** `serflow pools`, `pools scale`, `pools drain`: what capacity each stage has, and changing it by hand. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { SerflowConfig } from '../common/config';
import { callPoolsApi, type PoolsReply, type PoolsRequest } from '../infra/pools-api';
import { listWorkers, type WorkerRecord } from '../infra/worker-status';
import { withStackNats } from './stack-connection';

type PoolsOk = Extract<PoolsReply, { ok: true }>;

export interface PoolsView extends PoolsOk {
  /** Live worker records (in-flight work, completed count) keyed by worker id (= VM id for VMs). */
  workers: Record<string, Pick<WorkerRecord, 'inFlight' | 'completed' | 'state'>>;
}

function formatPools(v: PoolsView): string {
  const lines: string[] = [];
  for (const { model, stages } of v.models) {
    lines.push(`model ${model}`);
    // Stage 0 is the whole-model pool (VMs running every stage, e.g. LIBRA's); shown only when it has VMs.
    const wholeModel = v.vms.some((x) => x.model === model && x.stage === 0 && x.state !== 'terminated');
    for (let stage = wholeModel ? 0 : 1; stage <= stages; stage++) {
      const vms = v.vms.filter((x) => x.model === model && x.stage === stage && x.state !== 'terminated');
      const fns = v.functions.filter((f) => f.model === model && f.stage === stage);
      const count = (s: string) => vms.filter((x) => x.state === s).length;
      const inFlight = vms.reduce((n, x) => n + (v.workers[x.id]?.inFlight ?? 0), 0);
      lines.push(
        `  ${stage === 0 ? 'all stages' : `stage ${stage}`}: VMs ready ${count('ready')}, booting ${count('booting')}, draining ${count('draining')}` +
          ` | in-flight on VMs ${inFlight} | functions warm ${fns.filter((f) => f.state === 'idle').length}, busy ${fns.filter((f) => f.state === 'busy').length}, starting ${fns.filter((f) => f.state === 'starting').length}`,
      );
      for (const x of vms) {
        const age = ((Date.now() - x.launchedAt) / 1000).toFixed(0);
        lines.push(
          `      ${x.id}  ${x.state.padEnd(8)} ${x.instanceType}  up ${age} s  done ${v.workers[x.id]?.completed ?? 0}`,
        );
      }
    }
  }
  return lines.join('\n');
}

async function poolsCall(config: SerflowConfig, request: PoolsRequest): Promise<PoolsView> {
  return withStackNats(config, 'serflow-pools', async (nc) => {
    const reply = await callPoolsApi(nc, request, 60_000);
    const workers = Object.fromEntries(
      (await listWorkers(nc)).map((w) => [w.id, { inFlight: w.inFlight, completed: w.completed, state: w.state }]),
    );
    return { ...reply, workers };
  });
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number >= 0, got ${JSON.stringify(value)}`);
  return n;
}

export function registerPoolCommands(program: Command, config: () => SerflowConfig): void {
  const print = (v: PoolsView, json?: boolean) => console.log(json ? JSON.stringify(v) : formatPools(v));
  const pools = program
    .command('pools')
    .description('every stage pool: VMs (booting/ready/draining), warm function instances, in-flight work')
    .option('--json', 'one JSON object')
    .action(async (o: { json?: boolean }) => print(await poolsCall(config(), { op: 'list' }), o.json));
  pools
    .command('scale')
    .description('launch or drain VMs until a stage pool has N (new VMs serve after the boot delay)')
    .requiredOption('--stage <k>', 'stage (0: the whole-model pool, VMs that run every stage)', nonNegativeInt)
    .requiredOption('--vms <n>', 'VMs wanted', nonNegativeInt)
    .option('--model <name>', 'model (default: the default model)')
    .option('--json', 'one JSON object')
    .action(async (o: { stage: number; vms: number; model?: string; json?: boolean }) => {
      const c = config();
      // The cloud agent refuses it too (its own configuration); checked here first for a clear local error.
      if (o.vms > c.pools.maxVmsPerPool) {
        throw new InvalidArgumentError(
          `--vms ${o.vms} is above the most VMs one pool may have (pools.maxVmsPerPool = ${c.pools.maxVmsPerPool})`,
        );
      }
      print(await poolsCall(c, { op: 'scale', model: o.model ?? c.defaultModel, stage: o.stage, vms: o.vms }), o.json);
    });
  pools
    .command('drain')
    .description('stop routing work to a VM (or every VM of a stage) and terminate it once its work is done')
    .option('--vm <id>', 'one VM')
    .option('--stage <k>', 'every VM of this stage pool', nonNegativeInt)
    .option('--model <name>', 'model (default: the default model)')
    .option('--json', 'one JSON object')
    .action(async (o: { vm?: string; stage?: number; model?: string; json?: boolean }) => {
      const c = config();
      if (!o.vm && o.stage === undefined) throw new InvalidArgumentError('pools drain needs --vm ID or --stage K');
      print(await poolsCall(c, { op: 'drain', vmId: o.vm, model: o.model ?? c.defaultModel, stage: o.stage }), o.json);
    });
}
