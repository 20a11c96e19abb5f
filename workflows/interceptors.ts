/**
 * The workflow interceptors bundled with the workflow code (scripts/bundle-workflows.ts `workflowInterceptorModules`):
 * OpenTelemetry's, which continue the client's trace (`RunWorkflow`) and hand it to every activity (`StartActivity`,
 * in the Temporal headers), so one query is one trace; and SERFLOW's query metrics, which count a finished query and
 * its actions through a sink (common/query-metrics-sink.ts).
 *
 * Neither adds a command to the history (headers and sinks only), so histories recorded without them replay
 * unchanged (test/unit/workflows/replay.test.ts).
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import {
  proxySinks,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import type { QueryMetricsSinks } from '../common/query-metrics-sink';

/** The start and the result's search-attribute upsert: the actions of every query beside its activities. */
const FIXED_ACTIONS = 2;

/** Counts what one workflow schedules and reports it when the workflow ends. One instance per workflow run. */
class QueryMetricsInterceptor implements WorkflowInboundCallsInterceptor, WorkflowOutboundCallsInterceptor {
  private scheduled = 0;
  private readonly sinks = proxySinks<QueryMetricsSinks>();

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const query = input.args[0] as { model?: unknown } | undefined;
    const model = typeof query?.model === 'string' ? query.model : 'unknown';
    let outcome: 'ok' | 'failed' = 'failed';
    try {
      const result = await next(input);
      outcome = 'ok';
      return result;
    } finally {
      this.sinks.serflowMetrics.queryCompleted({ model, outcome, actions: FIXED_ACTIONS + this.scheduled });
    }
  }

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    this.scheduled++;
    return next(input);
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    this.scheduled++;
    return next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => {
  const queryMetrics = new QueryMetricsInterceptor();
  return {
    inbound: [new OpenTelemetryInboundInterceptor(), queryMetrics],
    outbound: [new OpenTelemetryOutboundInterceptor(), queryMetrics],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
