/** `serflow plan`: the autoscaler's latest decision per stage of a model, and why. */
import type { Command } from 'commander';
import type { SerflowConfig } from '../common/config';
import { parseDecisionRecord, type DecisionRecord } from '../common/control-events';
import { AUTOSCALER_BUCKET } from '../common/naming';
import { createRoutingStore } from '../infra/routing-store';
import { withStackNats } from './stack-connection';

export function formatDecision(r: DecisionRecord): string {
  const lines = [
    `model ${r.model}: policy ${r.policy}, decided ${new Date(r.wallAt).toISOString()} (${((Date.now() - r.wallAt) / 1000).toFixed(1)} s ago)`,
    `  ${r.decision.valid ? '' : 'NO DECISION: '}${r.decision.reason}`,
  ];
  for (const d of r.decision.stages) {
    const obs = r.observation.stages.find((s) => s.stage === d.stage);
    const pool = r.observation.pools.find((p) => p.stage === d.stage);
    const rate = obs && r.observation.windowMs > 0 ? (obs.arrivals * 1000) / r.observation.windowMs : 0;
    lines.push(
      `  stage ${d.stage}: VMs ${d.desiredVms} (now ${pool?.vmsReady ?? 0} ready, ${pool?.vmsBooting ?? 0} booting)` +
        `  VM share ${(d.vmShare * 100).toFixed(0)} %` +
        (d.overflowAfterMs !== undefined ? `  overflow after ${d.overflowAfterMs.toFixed(0)} ms` : '') +
        `  | observed ${rate.toFixed(2)}/s — ${d.reason}`,
    );
  }
  for (const run of r.decision.fused ?? []) {
    lines.push(`  stages ${run.first}-${run.last}: one activity (fused)`);
  }
  if (r.actions.length) lines.push(`  actions: ${r.actions.join('; ')}`);
  return lines.join('\n');
}

/**
 * The stored record of `model`, or null when it is not a decision record (written by an older or foreign
 * writer): that is reported on stderr, naming the fields at fault, and the command goes on as if none was stored.
 */
function readRecord(json: () => unknown, model: string): DecisionRecord | null {
  try {
    return parseDecisionRecord(json(), `KV ${AUTOSCALER_BUCKET}/${model}`);
  } catch (err) {
    console.error(`ignoring the stored decision of ${model}: ${(err as Error).message}`);
    return null;
  }
}

export function registerPlanCommand(program: Command, config: () => SerflowConfig): void {
  program
    .command('plan')
    .description("the autoscaler's current decision per stage (VMs, VM share, overflow) and why")
    .option('--model <name>', 'model (default: the default model)')
    .option('--json', 'one JSON object')
    .action(async (o: { model?: string; json?: boolean }) => {
      const c = config();
      const model = o.model ?? c.defaultModel;
      await withStackNats(c, 'serflow-plan', async (nc) => {
        const kv = await nc.jetstream().views.kv(AUTOSCALER_BUCKET);
        const entry = await kv.get(model);
        const record = entry && entry.operation === 'PUT' ? readRecord(() => entry.json(), model) : null;
        const routing = await (await createRoutingStore(nc)).get(model);
        if (o.json) {
          console.log(JSON.stringify({ decision: record, routing }));
        } else if (!record) {
          console.log(
            `no autoscaler decision recorded for ${model} (is an autoscaler running? \`serflow autoscaler\`)`,
          );
        } else {
          console.log(formatDecision(record));
        }
      });
    });
}
