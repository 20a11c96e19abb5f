/**
 * The serverless path of a stage, as a Temporal activity: `runStage` (the same activity name as on the VM pools)
 * polled on `<model>.stage-<k>.faas` and forwarded to a function invocation on the serverless platform; and of a
 * fused run (routing.ts `FusedRun`): `runStages` (the whole-model VMs' activity name) polled on
 * `<model>.all-stages.faas` and forwarded to ONE invocation of the run's fused function.
 *
 * A gateway worker holds no model: it only relays. Its Temporal Workers, one per faas queue, are made in
 * workers/faas-gateway-worker.ts. Whether a call runs, starts an instance or is throttled is the platform's
 * decision, as on Lambda.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { DEFAULT_FAAS_BILLING_GRANULARITY_MS } from '../common/config';
import type { StageCallContext, StageInput, StageOutput, StageRunInput, StageRunOutput } from '../common/contracts';
import { UnknownStageError } from '../common/errors';
import type { FunctionInvocation, FunctionRef, ServerlessPlatform } from '../infra/providers';
import { failureFromReply, toApplicationFailure, type FailureReply } from './failures';
import { withHeartbeats } from './heartbeat';
import { activityCallContext } from './stage-activities';

export interface FaasGatewayDeps {
  platform: ServerlessPlatform;
  /** Billed duration is rounded up to this. @default DEFAULT_FAAS_BILLING_GRANULARITY_MS (1 ms, Lambda) */
  billingGranularityMs?: number;
}

/**
 * Billed duration of an invocation, ms: init (cold starts) + handler duration, rounded up to the granularity.
 * Example: init 1 180.4 + duration 3.2 at 1 ms → 1 184; duration 3.2 warm at 100 ms → 100.
 */
export function billedDurationMs(
  inv: Pick<FunctionInvocation, 'initMs' | 'durationMs'>,
  granularityMs: number,
): number {
  return Math.ceil((inv.initMs + inv.durationMs) / granularityMs) * granularityMs;
}

/**
 * Whether `err` carries a handler failure the instance reported (the platform's FunctionInvocationError, recognised
 * by its fields: the gateway stands below the platform and cannot import its classes).
 */
function isReportedFailure(err: unknown): err is Error & FailureReply {
  if (!(err instanceof Error) || err instanceof ApplicationFailure) return false;
  const fields = err as Error & { type?: unknown; nonRetryable?: unknown };
  return typeof fields.type === 'string' && typeof fields.nonRetryable === 'boolean';
}

/**
 * Convert a platform failure to what Temporal sees:
 * - a handler failure the instance reported → its own type, message and retryability (bad input: non-retryable);
 * - otherwise activities/failures.ts's one rule: our non-retryable input errors (unknown model/stage) →
 *   non-retryable; anything else (throttled, instance lost, start failed, platform closed) → retryable, typed by
 *   the error's name. Throttling must stay retryable: the retry policy backs off and the query is not lost.
 */
export function toGatewayFailure(err: unknown): ApplicationFailure {
  return isReportedFailure(err) ? failureFromReply(err) : toApplicationFailure(err);
}

/**
 * The gateway activities:
 * - `runStage` invokes the stage's function and returns its output with the serverless facts;
 * - `runStages` invokes the fused function of stages `input.stage`..`input.runLast` ONCE and returns every stage's
 *   output. The facts of that one invocation go on each output (backend, worker = instance, coldStart), except its
 *   billed duration, which goes on the last output only: summed over a query's records, billed ms stay one per
 *   invocation. Heartbeats are the run's attempt's, once, at the top (the workflow records them on the last stage).
 */
export function createFaasGatewayActivities(deps: FaasGatewayDeps) {
  const granularity = deps.billingGranularityMs ?? DEFAULT_FAAS_BILLING_GRANULARITY_MS;
  /** One invocation, with the gateway's heartbeat count of the attempt (its activity is the one that heartbeats). */
  const invoke = async (fn: FunctionRef, input: StageInput, call: StageCallContext) => {
    try {
      return await withHeartbeats(async (beats) => {
        const inv = await deps.platform.invoke(fn, input, call);
        return { inv, heartbeats: beats.reached() };
      });
    } catch (err) {
      throw toGatewayFailure(err);
    }
  };
  const faasFacts = (inv: FunctionInvocation) =>
    ({ backend: 'faas', worker: inv.instanceId, coldStart: inv.coldStart, instanceId: inv.instanceId }) as const;
  return {
    runStage: async (input: StageInput): Promise<StageOutput> => {
      const call = activityCallContext(input.queryId);
      const { inv, heartbeats } = await invoke({ model: input.model, stage: input.stage }, input, call);
      return { ...inv.output, ...faasFacts(inv), billedMs: billedDurationMs(inv, granularity), heartbeats };
    },
    runStages: async (input: StageRunInput): Promise<StageRunOutput> => {
      const call = activityCallContext(input.queryId);
      if (!Number.isInteger(input.runLast)) {
        throw toGatewayFailure(
          new UnknownStageError(
            `query ${input.queryId}: runStages on ${call.taskQueue} needs runLast, the run's last stage (an integer), got ${JSON.stringify(input.runLast)}`,
          ),
        );
      }
      // The platform checks the run against the model (a lastStage equal to stage is the stage's own function).
      const fn: FunctionRef = { model: input.model, stage: input.stage, lastStage: input.runLast };
      const { inv, heartbeats } = await invoke(fn, input, call);
      const outputs = inv.stages ?? [inv.output];
      const last = outputs.length - 1;
      const billedMs = billedDurationMs(inv, granularity);
      return {
        stages: outputs.map((o, i) => ({ ...o, ...faasFacts(inv), ...(i === last ? { billedMs } : {}) })),
        heartbeats,
      };
    },
  };
}
