/**
 * `telemetry.traces.otlpEndpoint`: spans are posted to an OTLP/HTTP endpoint (a collector, Jaeger) as the process's
 * service. A small HTTP server stands in for the collector. (Its own file: a process has one global tracer provider.)
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { compileConfig } from '../../../common/config';
import { startTracing } from '../../../infra/tracing';

test('spans are posted to the OTLP/HTTP endpoint with the service name of the process', async () => {
  const bodies: { url: string; body: string }[] = [];
  const collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push({ url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const tracing = startTracing(compileConfig({ telemetry: { traces: { otlpEndpoint: endpoint } } }), 'stage');
    assert.ok(tracing.enabled);
    trace.getTracer('test').startSpan('RunActivity:runStage').end();
    await tracing.shutdown(); // flushes the batch
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0]!.url, '/v1/traces');
    assert.match(bodies[0]!.body, /RunActivity:runStage/);
    assert.match(bodies[0]!.body, /serflow-stage/);
  } finally {
    collector.close();
  }
});

test('an endpoint that is not a URL is refused, naming the field', () => {
  assert.throws(
    () => compileConfig({ telemetry: { traces: { otlpEndpoint: 'collector:4318' } } }),
    /telemetry\.traces\.otlpEndpoint/,
  );
});
