/**
 * The Grafana dashboard (deploy/grafana/serflow-dashboard.json) queries only metrics the code exports: every PromQL
 * expression names metrics of SERFLOW's catalog (infra/metrics.ts, with Node's default process metrics) or the
 * Temporal SDK metrics the integration test finds on a worker's endpoint; and every SERFLOW series has a panel.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../../common/paths';
import { catalogMetricNames, TEMPORAL_SDK_METRICS } from '../../../infra/metrics';

const DASHBOARD = path.join(PROJECT_ROOT, 'deploy', 'grafana', 'serflow-dashboard.json');

/** PromQL functions, aggregations and keywords that look like identifiers. */
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'label_values',
  'topk',
  'bottomk',
  'abs',
  'clamp_min',
  'clamp_max',
  'delta',
  'deriv',
  'offset',
  'bool',
  'time',
  'vector',
  'scalar',
]);

/** The metric names an expression reads: identifiers outside label matchers, groupings, ranges and strings. */
export function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, legend templates)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '') // grouping label lists
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\$\w+/g, ''); // dashboard variables
  const words = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  // a label list of label_values(metric, label): its second argument is a label
  const labelArg = /label_values\(\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*,\s*([a-zA-Z_]\w*)\s*\)/.exec(stripped)?.[1];
  return [...new Set(words.filter((w) => !PROMQL_WORDS.has(w) && w !== labelArg))];
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

function dashboardExpressions(): { where: string; expr: string }[] {
  const d = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as {
    panels: Panel[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const out = d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
  for (const v of d.templating.list) {
    const q = v.query as { query?: string } | string | undefined;
    const expr = typeof q === 'string' ? (v.name === 'datasource' ? undefined : q) : q?.query;
    if (expr) out.push({ where: `variable ${v.name}`, expr });
  }
  return out;
}

/** A series name's metric family: histograms and summaries expose `_bucket`, `_sum` and `_count`. */
function family(name: string): string[] {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m ? [name, m[1]!] : [name];
}

test('metricNamesOf finds the metrics of an expression and nothing else', () => {
  assert.deepEqual(
    metricNamesOf(
      'histogram_quantile(0.95, sum by (le, stage) (rate(serflow_stage_service_seconds_bucket{model=~"$model"}[1m])))',
    ),
    ['serflow_stage_service_seconds_bucket'],
  );
  assert.deepEqual(metricNamesOf('sum(rate(a_total[5m])) / sum(rate(b_count{x="sum"}[5m]))'), ['a_total', 'b_count']);
  assert.deepEqual(metricNamesOf('label_values(serflow_stage_arrivals_total, model)'), [
    'serflow_stage_arrivals_total',
  ]);
});

test('every PromQL expression of the dashboard names only metrics the code registers', () => {
  const known = new Set<string>([...catalogMetricNames(), ...TEMPORAL_SDK_METRICS]);
  const exprs = dashboardExpressions();
  assert.ok(exprs.length >= 20, `${exprs.length} expressions`);
  for (const { where, expr } of exprs) {
    const names = metricNamesOf(expr);
    assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
    for (const name of names) {
      assert.ok(
        family(name).some((n) => known.has(n)),
        `${where}: ${name} is not a metric the code registers (infra/metrics.ts) nor a listed Temporal SDK metric`,
      );
    }
  }
});

test('every SERFLOW series of the catalog is on the dashboard', () => {
  const used = new Set(dashboardExpressions().flatMap(({ expr }) => metricNamesOf(expr).flatMap(family)));
  const missing = catalogMetricNames().filter((n) => n.startsWith('serflow_') && !used.has(n));
  assert.deepEqual(missing, []);
});
