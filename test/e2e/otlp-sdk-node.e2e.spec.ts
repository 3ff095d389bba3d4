import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OtlpTransport } from '../../src';
import { ADAPTERS } from '../support/adapters';
import { OtlpReceiver } from '../support/otlp-receiver';

const CHILD = join(__dirname, '..', 'support', 'otel-sdk-child.js');

describe('next to the OpenTelemetry Node SDK', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(async () => {
    await receiver.close();
  });

  for (const adapter of ADAPTERS) {
    it(`${adapter}: an app with @opentelemetry/sdk-node + http instrumentation exports its spans and ours, both complete`, async () => {
      receiver.reset();
      const child = spawn(process.execPath, [CHILD], {
        env: {
          ...process.env,
          RECEIVER_URL: receiver.httpTracesUrl,
          ADAPTER: adapter,
          // Only traces matter here; the SDK's default metrics/logs exporters and resource detectors cost seconds.
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
          OTEL_NODE_RESOURCE_DETECTORS: 'none',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      assert.equal(code, 0, output);
      assert.deepEqual(JSON.parse(output.trim().split('\n').pop() ?? '{}'), { statuses: [200, 200] });

      // Ours: 3 server exchanges (the outgoing call's target is one) + 1 outgoing call.
      const ours = receiver.spans.filter((s) => s.scope.name === 'nestjs-api-metrics');
      assert.equal(ours.length, 4, JSON.stringify(ours.map((s) => s.name)));
      assert.ok(ours.every((s) => s.resource['service.name'] === 'ours'));
      assert.equal(ours.filter((s) => s.kind === 'SPAN_KIND_SERVER').length, 3);
      const item = ours.find((s) => s.name === 'GET /shop/items/:id');
      const outgoing = ours.find((s) => s.kind === 'SPAN_KIND_CLIENT');
      assert.equal(outgoing?.parentSpanId, item?.spanId);

      // Theirs: every request the app served, and its outgoing axios call, from their own instrumentation.
      const theirs = receiver.spans.filter((s) => s.scope.name === '@opentelemetry/instrumentation-http');
      assert.ok(theirs.every((s) => s.resource['service.name'] === 'app-own'));
      const served = theirs.filter((s) => s.kind === 'SPAN_KIND_SERVER');
      assert.equal(served.length, 3, JSON.stringify(theirs.map((s) => [s.kind, s.attributes['url.path']])));
      assert.deepEqual(served.map((s) => s.attributes['url.path']).sort(), [
        '/shop/items/42',
        '/shop/target',
        '/shop/target',
      ]);
      // The app's outgoing call carried its trace context (their propagator), and our server span of the target
      // continued that trace: the two pipelines compose.
      const target = ours.find((s) => s.attributes['url.query'] === 'key=outgoing-secret&n=42');
      assert.ok(target);
      assert.ok(
        theirs.some((s) => s.traceId === target.traceId),
        'our span of the called endpoint continues the app’s trace',
      );
      // Our exports are not traced as the app's traffic (without the suppressed context, a CLIENT span POST
      // /v1/traces of the app's instrumentation shows up here).
      const clientUrls = theirs
        .filter((s) => s.kind === 'SPAN_KIND_CLIENT')
        .map((s) => String(s.attributes['url.full']));
      assert.ok(!clientUrls.some((u) => u.includes('/v1/traces')), clientUrls.join(', '));
      // Our traffic metrics reached the same receiver on shutdown (untraced too), next to the app's SDK.
      assert.ok(!clientUrls.some((u) => u.includes('/v1/metrics')), clientUrls.join(', '));
      const durations = receiver.histograms.filter((p) => p.name === 'http.server.request.duration');
      assert.deepEqual(durations.map((p) => `${String(p.attributes['http.route'])} ${p.count}`).sort(), [
        '/shop/items/:id 1',
        '/shop/target 2',
      ]);
      assert.ok(durations.every((p) => p.resource['service.name'] === 'ours'));
    });
  }

  it('in a process without the SDK, a transport registers no global provider, propagator or context manager', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
    const transport = new OtlpTransport({ url: receiver.httpTracesUrl });
    await transport.send([]);
    await transport.close();
    assert.equal(api.trace.getTracerProvider().constructor.name, 'ProxyTracerProvider');
    assert.equal(
      (api.trace.getTracerProvider() as unknown as { getDelegate(): object }).getDelegate().constructor.name,
      'NoopTracerProvider',
    );
    assert.deepEqual(api.propagation.fields(), []);
    assert.equal(
      api.context.with(api.context.active(), () => api.context.active()),
      api.ROOT_CONTEXT,
    );
  });
});
