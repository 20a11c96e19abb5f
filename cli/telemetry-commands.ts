/**
 * `serflow metrics`: the `/metrics` endpoint of every live process of the stack (read from the Prometheus `file_sd`
 * targets files the processes write, infra/metrics-server.ts), and the Prometheus config that scrapes them.
 * `serflow trace`: one query's trace, read from the traces files (`telemetry.traces.file`), as a waterfall SVG.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { SerflowConfig } from '../common/config';
import { formatTextTable } from '../eval/report/text-table';
import { selectTrace, TraceNotFoundError, traceWaterfallSpec, waterfallRows } from '../eval/report/trace-waterfall';
import { renderSvg } from '../eval/report/vega';
import { listMetricsTargets, metricsTargetsDir } from '../infra/metrics-server';
import { readSpanRecords, tracesDir } from '../infra/tracing';
import { EXIT_CODE } from './exit-codes';

/** The scrape job for a Prometheus that runs on this machine: every target file the stack's processes write. */
export function prometheusScrapeConfig(config: Pick<SerflowConfig, 'homeDir'>): string {
  return [
    'scrape_configs:',
    '  - job_name: serflow',
    '    scrape_interval: 5s',
    '    file_sd_configs:',
    `      - files: ['${path.join(metricsTargetsDir(config), '*.json')}']`,
  ].join('\n');
}

function metricsCommand(config: SerflowConfig, o: { json?: boolean }): void {
  const targets = listMetricsTargets(config, true);
  if (o.json) {
    console.log(JSON.stringify({ targetsDir: metricsTargetsDir(config), targets }));
  } else if (targets.length === 0) {
    console.log(`no process serves /metrics under ${metricsTargetsDir(config)} (is the stack up? \`serflow up\`)`);
  } else {
    const rows = [
      ['role', 'pid', 'model', 'stage', 'url'],
      ...targets.map((t) => [t.role, t.pid, t.labels.model ?? '', t.labels.stage ?? '', t.url]),
    ];
    console.log(formatTextTable(rows, { leftColumns: 5 }));
    console.log(`\nPrometheus (file_sd, follows processes as they come and go):\n${prometheusScrapeConfig(config)}`);
  }
  if (targets.length === 0) process.exitCode = EXIT_CODE.noStack;
}

async function traceCommand(
  config: SerflowConfig,
  o: { query?: string; trace?: string; out?: string; json?: boolean },
): Promise<void> {
  const dir = tracesDir(config);
  const spans = readSpanRecords(dir);
  if (spans.length === 0) {
    throw new TraceNotFoundError(
      `no spans in ${dir}: set telemetry.traces.file to true in the config (serflow.config.json), restart the stack ` +
        'and send a query',
    );
  }
  const trace = selectTrace(spans, { queryId: o.query, traceId: o.trace });
  const rows = waterfallRows(trace);
  const t0 = Math.min(...trace.map((s) => s.startMs));
  let out: string | undefined;
  if (o.out) {
    out = path.resolve(o.out);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, await renderSvg(traceWaterfallSpec(trace)));
  }
  if (o.json) {
    console.log(
      JSON.stringify({ traceId: trace[0]!.traceId, spans: rows.map((r) => r.span), ...(out ? { out } : {}) }),
    );
    return;
  }
  const table = rows.map(({ depth, span }) => [
    `${'  '.repeat(depth)}${span.name}`,
    span.service,
    (span.startMs - t0).toFixed(1),
    (span.endMs - span.startMs).toFixed(1),
  ]);
  console.log(`trace ${trace[0]!.traceId}: ${trace.length} spans`);
  console.log(formatTextTable([['span', 'process', 'start ms', 'duration ms'], ...table], { leftColumns: 2 }));
  if (out) console.log(`\nwaterfall: ${out}`);
}

export function registerTelemetryCommands(program: Command, config: () => SerflowConfig): void {
  program
    .command('metrics')
    .description(
      `the /metrics endpoint of every process of the stack, and a Prometheus scrape config (exit code ${EXIT_CODE.noStack} when none)`,
    )
    .option('--json', 'one JSON object')
    .action((o: { json?: boolean }) => metricsCommand(config(), o));

  program
    .command('trace')
    .description("one query's trace (client, workflow, stage activities) from the traces files, as a table and an SVG")
    .option('--query <id>', 'the query id (default: the latest query traced)')
    .option('--trace <id>', 'a trace id')
    .option('--out <file.svg>', 'draw the waterfall to this SVG file')
    .option('--json', 'one JSON object: the trace id and its spans in tree order')
    .action((o: { query?: string; trace?: string; out?: string; json?: boolean }) => traceCommand(config(), o));
}
