/** `serflow route set` / `route show`: the static routing plan of a model (per stage: VMs or serverless). */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { SerflowConfig } from '../common/config';
import {
  allVmPlan,
  isRejectedPlan,
  PLAN_SPEC_FORMS,
  planFromSpec,
  validateRoutingPlan,
  type RoutingPlan,
} from '../common/routing';
import { createRoutingStore } from '../infra/routing-store';
import { usablePlan } from '../models/descriptor';
import { loadManifest } from '../models/manifest';
import { withStackNats } from './stack-connection';
import { callPoolsApi } from '../infra/pools-api';

function formatPlan(plan: RoutingPlan, published: boolean): string {
  return [
    `model ${plan.model}: ${published ? `plan from ${plan.source}, set ${new Date(plan.updatedAt).toISOString()}` : 'no plan published: every stage on its VM pool'}`,
    ...plan.stages.map(
      (r) =>
        `  stage ${r.stage}: ${r.vmShare === 1 ? 'VM' : r.vmShare === 0 ? 'serverless' : `${(r.vmShare * 100).toFixed(0)} % VM, rest serverless`}` +
        (r.overflowAfterMs !== undefined
          ? `; overflow to serverless after ${r.overflowAfterMs} ms waiting for a VM`
          : ''),
    ),
    ...(plan.fused ?? []).map(
      (run) =>
        `  stages ${run.first}-${run.last}: one activity (fused), on a whole-model VM or one function, by stage ${run.first}'s route`,
    ),
  ].join('\n');
}

/**
 * Overflow given to VM-routed stages whose pool was empty when a static plan was set: their executions wait this
 * long for a VM, then run serverless, so nothing stalls while the launched VM boots.
 */
export const STATIC_PLAN_BOOT_OVERFLOW_MS = 1_000;

export function registerRouteCommands(program: Command, config: () => SerflowConfig): void {
  const route = program.command('route').description('per-stage routing between VM pools and serverless functions');
  route
    .command('set')
    .description(
      `publish a static plan (pins routing: a running autoscaler stops actuating until \`route clear\`): ${PLAN_SPEC_FORMS}`,
    )
    .argument('<plan>', PLAN_SPEC_FORMS)
    .option('--model <name>', 'model (default: the default model)')
    .option('--overflow-ms <ms>', 'send a VM-routed stage serverless when no VM starts it within this long', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number of ms, got ${JSON.stringify(v)}`);
      return n;
    })
    .option('--json', 'print the plan as JSON')
    .action(async (spec: string, o: { model?: string; overflowMs?: number; json?: boolean }) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      const stages = loadManifest(model, c.modelsDir).stages.length;
      const plan = validateRoutingPlan(planFromSpec(spec, model, stages, Date.now(), o.overflowMs), stages);
      const notes: string[] = [];
      await withStackNats(c, 'serflow-route', async (nc) => {
        // A stage routed to VMs needs a VM: launch one where the pool is empty (it serves after its boot delay),
        // and until then let its executions overflow to serverless rather than wait for it.
        const { vms } = await callPoolsApi(nc, { op: 'list' });
        const live = vms.filter((v) => v.model === model && v.state !== 'draining' && v.state !== 'terminated');
        const inRun = (stage: number) => (plan.fused ?? []).some((run) => stage > run.first && stage <= run.last);
        for (const r of plan.stages) {
          if (r.vmShare === 0 || inRun(r.stage)) continue;
          // A fused run on VMs runs on the whole-model pool only (its VMs hold every stage); a single stage runs on
          // its own pool or a whole-model VM (which polls every stage's queue).
          const fused = (plan.fused ?? []).some((run) => run.first === r.stage);
          if (live.some((v) => v.stage === 0 || (!fused && v.stage === r.stage))) continue;
          const pool = fused ? 0 : r.stage;
          await callPoolsApi(nc, { op: 'scale', model, stage: pool, vms: 1 });
          r.overflowAfterMs ??= STATIC_PLAN_BOOT_OVERFLOW_MS;
          notes.push(
            `${fused ? `the fused run from stage ${r.stage} had no whole-model VM` : `stage ${r.stage} had no VM`}: ` +
              `launched one; overflow to serverless after ${r.overflowAfterMs} ms`,
          );
        }
        await (await createRoutingStore(nc)).put(plan);
      });
      console.log(o.json ? JSON.stringify(plan) : [formatPlan(plan, true), ...notes].join('\n'));
    });
  route
    .command('clear')
    .description('remove the static plan: a running autoscaler takes over routing and pools again')
    .option('--model <name>', 'model (default: the default model)')
    .option('--json', 'one JSON object')
    .action(async (o: { model?: string; json?: boolean }) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      await withStackNats(c, 'serflow-route', async (nc) => (await createRoutingStore(nc)).clear(model));
      console.log(o.json ? JSON.stringify({ model, cleared: true }) : `plan of ${model} cleared`);
    });
  route
    .command('show')
    .description('the plan queries of a model start with now')
    .option('--model <name>', 'model (default: the default model)')
    .option('--json', 'print the plan as JSON')
    .action(async (o: { model?: string; json?: boolean }) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      const stages = loadManifest(model, c.modelsDir).stages.length;
      const published = await withStackNats(c, 'serflow-route', async (nc) =>
        (await createRoutingStore(nc)).get(model),
      );
      if (isRejectedPlan(published)) {
        // What queries start with: every stage serverless (models/descriptor.ts `usablePlan`).
        const plan = usablePlan(published, model, stages);
        console.log(
          o.json
            ? JSON.stringify({ ...plan, rejected: published.rejected })
            : `the stored plan of ${model} is rejected: ${published.rejected}\n` +
                `queries start with every stage serverless until a valid plan is published\n${formatPlan(plan, false)}`,
        );
        return;
      }
      const plan = published ?? allVmPlan(model, stages);
      console.log(o.json ? JSON.stringify(plan) : formatPlan(plan, published !== null));
    });
}
