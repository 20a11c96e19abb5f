/**
 * SERFLOW's Prometheus metrics: one catalog (every series any process may export, with its help text and labels)
 * over one prom-client registry per process. Every process registers the whole catalog, so its names are the same
 * everywhere (a series a role never touches just has no samples), and the Grafana dashboard can be checked against
 * `METRIC_NAMES` (test/unit/infra/dashboard.test.ts).
 *
 * Cardinality stays bounded: labels are the model (configured), the stage (1..K, or 0 for a whole-model run), the
 * backend (vm | faas), a small enum (outcome, state, route), never a query, workflow or worker id.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StageEvent } from '../common/events';
import type { FunctionInstanceInfo, VmInstance } from './providers';

/**
 * Buckets of the queue-wait and service-time histograms, seconds: 1 ms to 30 s. A stage takes a few ms on a warm
 * VM; a cold start, a throttled invocation or a queue behind a booting VM takes seconds.
 */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Buckets of actions per query: 2 + n activities, n ≤ stages (4 for the default model) plus retries. */
export const ACTIONS_BUCKETS = [2, 3, 4, 5, 6, 8, 10, 15, 20];

const STAGE_LABELS = ['model', 'stage', 'backend'] as const;

/** Builds the catalog on `registry` (a fresh one in tests, the process's own otherwise). */
export function createSerflowMetrics(registry: Registry) {
  const registers = [registry];
  return {
    registry,
    stageArrivals: new Counter({
      name: 'serflow_stage_arrivals_total',
      help: 'Stage executions that reached this stage (counted from their stage events, as the autoscaler counts arrivals)',
      labelNames: STAGE_LABELS,
      registers,
    }),
    stageOutcomes: new Counter({
      name: 'serflow_stage_outcomes_total',
      help: 'Stage executions finished, by outcome: exited (the query ended here), continued, failed',
      labelNames: [...STAGE_LABELS, 'outcome'],
      registers,
    }),
    stageExits: new Counter({
      name: 'serflow_stage_exits_total',
      help: 'Queries that exited at this stage',
      labelNames: STAGE_LABELS,
      registers,
    }),
    stageQueueWait: new Histogram({
      name: 'serflow_stage_queue_wait_seconds',
      help: 'Time a stage execution waited in its task queue (scheduled to started), seconds',
      labelNames: STAGE_LABELS,
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    stageServiceTime: new Histogram({
      name: 'serflow_stage_service_seconds',
      help: 'Time a stage execution ran (started to done, inference and hand-off), seconds',
      labelNames: STAGE_LABELS,
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    queriesCompleted: new Counter({
      name: 'serflow_queries_completed_total',
      help: 'Inference workflows finished, by outcome (ok | failed)',
      labelNames: ['model', 'outcome'],
      registers,
    }),
    queryActions: new Histogram({
      name: 'serflow_query_actions',
      help: 'Billable Temporal actions per query: start, activities scheduled, local activities, upsert',
      labelNames: ['model'],
      buckets: ACTIONS_BUCKETS,
      registers,
    }),
    poolVms: new Gauge({
      name: 'serflow_pool_vms',
      help: 'VMs of a stage pool by state (booting | ready | draining); stage 0 is the whole-model pool',
      labelNames: ['model', 'stage', 'state'],
      registers,
    }),
    poolFunctions: new Gauge({
      name: 'serflow_pool_functions',
      help: 'Function instances of a stage by state (warm | busy)',
      labelNames: ['model', 'stage', 'state'],
      registers,
    }),
    functionInvocations: new Counter({
      name: 'serflow_function_invocations_total',
      help: 'Invocations a function instance served, by start (cold | warm)',
      labelNames: ['model', 'stage', 'start'],
      registers,
    }),
    vmShare: new Gauge({
      name: 'serflow_routing_vm_share',
      help: "Share of a stage's executions the autoscaler routes to VMs (the rest go serverless), 0..1",
      labelNames: ['model', 'stage'],
      registers,
    }),
    desiredVms: new Gauge({
      name: 'serflow_autoscaler_desired_vms',
      help: 'VMs the policy wants for a stage pool at its latest tick',
      labelNames: ['model', 'stage'],
      registers,
    }),
    decisions: new Counter({
      name: 'serflow_autoscaler_decisions_total',
      help: 'Autoscaler ticks, by policy and whether the policy decided (valid) or had no data',
      labelNames: ['model', 'policy', 'valid'],
      registers,
    }),
    scaleActions: new Counter({
      name: 'serflow_autoscaler_scale_actions_total',
      help: 'Pool changes the autoscaler asked for, by direction (up | down)',
      labelNames: ['model', 'stage', 'direction'],
      registers,
    }),
    costRate: new Gauge({
      name: 'serflow_cost_rate_usd_per_hour',
      help: 'Spend rate estimated at the latest autoscaler tick, USD per cloud hour, by backend (vm | faas)',
      labelNames: ['model', 'backend'],
      registers,
    }),
    httpRequests: new Counter({
      name: 'serflow_http_requests_total',
      help: 'HTTP requests to `serflow serve`, by route and status code',
      labelNames: ['route', 'code'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'serflow_http_request_duration_seconds',
      help: 'Time `serflow serve` took to answer a request, seconds',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
  };
}

export type SerflowMetrics = ReturnType<typeof createSerflowMetrics>;

/** Label values of one stage pool; the stage as a string, as Prometheus labels are. */
export function stageLabels(model: string, stage: number, backend: string): Record<string, string> {
  return { model, stage: String(stage), backend };
}

let processMetrics: SerflowMetrics | undefined;

/**
 * The metrics of this process: its one registry with the catalog and Node's default process metrics
 * (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, ...). Created on first use, so instrumented code
 * can count whether or not the process serves `/metrics`.
 */
export function metrics(): SerflowMetrics {
  if (!processMetrics) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    processMetrics = createSerflowMetrics(registry);
  }
  return processMetrics;
}

/** Every metric family the catalog registers (histograms add `_bucket`, `_sum`, `_count` series). */
export function catalogMetricNames(): string[] {
  const registry = new Registry();
  createSerflowMetrics(registry);
  collectDefaultMetrics({ register: registry });
  return registry.getMetricsAsArray().map((m) => m.name);
}

/**
 * Temporal SDK metrics (the Rust core's Prometheus exporter, Runtime telemetry) the dashboard uses, by their exported
 * names. The integration test (test/integration/metrics.test.ts) checks a workflow worker's `/metrics` has them.
 */
export const TEMPORAL_SDK_METRICS = [
  'temporal_workflow_completed',
  'temporal_workflow_task_schedule_to_start_latency',
  'temporal_activity_execution_latency',
  'temporal_activity_schedule_to_start_latency',
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
] as const;

/**
 * Count one stage execution from its event (activities/stage-events.ts publishes every one): an arrival, its outcome,
 * an exit when the query ended there, and its queue wait and service time. Arrivals are counted as the autoscaler
 * counts them (autoscaler/intake.ts), from the executions' events, so the two agree.
 */
export function recordStageEvent(m: SerflowMetrics, event: StageEvent): void {
  const labels = stageLabels(event.model, event.stage, event.backend);
  m.stageArrivals.inc(labels);
  const outcome = event.type === 'stage.exited' ? 'exited' : event.type === 'stage.continued' ? 'continued' : 'failed';
  m.stageOutcomes.inc({ ...labels, outcome });
  if (event.type === 'stage.exited') m.stageExits.inc(labels);
  m.stageQueueWait.observe(labels, event.queueMs / 1000);
  m.stageServiceTime.observe(labels, event.serviceMs / 1000);
}

/**
 * Set the pool gauges from the cloud agent's providers: VMs by state, function instances (warm = idle, busy), and
 * the VMs' spend rate (each live VM bills its instance type's hourly price: billing/ledger.ts). Reset first, so a
 * pool that emptied reads 0 rather than its last value.
 */
export function recordPools(
  m: SerflowMetrics,
  models: readonly string[],
  vms: readonly VmInstance[],
  functions: readonly FunctionInstanceInfo[],
  vmPricePerHourUsd: (instanceType: string) => number,
): void {
  m.poolVms.reset();
  m.poolFunctions.reset();
  const usdPerHour = new Map<string, number>(models.map((model) => [model, 0]));
  for (const vm of vms) {
    if (vm.state === 'terminated') continue;
    m.poolVms.inc({ model: vm.model, stage: String(vm.stage), state: vm.state });
    usdPerHour.set(vm.model, (usdPerHour.get(vm.model) ?? 0) + vmPricePerHourUsd(vm.instanceType));
  }
  for (const f of functions) {
    const state = f.state === 'busy' ? 'busy' : 'warm';
    m.poolFunctions.inc({ model: f.model, stage: String(f.stage), state });
  }
  for (const [model, usd] of usdPerHour) m.costRate.set({ model, backend: 'vm' }, usd);
}
