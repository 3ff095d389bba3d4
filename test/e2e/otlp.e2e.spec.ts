import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApitoolkitTransport,
  MetricsService,
  OtlpTransport,
  type MetricsModuleOptions,
  type RedactedExchange,
} from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { httpRequest } from '../support/http';
import { otlpAppModule, otlpTargets } from '../support/otlp-app';
import { receiverPerTest, type ReceivedSpan } from '../support/otlp-receiver';

const PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SPAN_ID = 'b7ad6b7169203331';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** OTLP/gRPC int64 values arrive as strings through the receiver's decoder; compare numbers as numbers. */
const num = (value: unknown) => Number(value);

function byName(spans: ReceivedSpan[], name: string, kind = 'SPAN_KIND_SERVER'): ReceivedSpan {
  const found = spans.filter((s) => s.name === name && s.kind === kind);
  assert.equal(found.length, 1, `one ${kind} span named ${name}, got ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
}

/** The requests of the attribute tests: 6 recorded exchanges and 1 outgoing call. */
async function traffic(app: RunningApp) {
  const item = await httpRequest(`${app.url}/shop/items/42?page=2&token=tok-value`, {
    headers: {
      traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`,
      'user-agent': 'otlp-test/1',
      'x-multi': ['a', 'b'] as unknown as string,
    },
  });
  const body = JSON.stringify({ name: 'book', password: 'pw-value' });
  const created = await httpRequest(`${app.url}/shop/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const boom = await httpRequest(`${app.url}/shop/boom`);
  const missing = await httpRequest(`${app.url}/shop/missing`);
  const nowhere = await httpRequest(`${app.url}/nowhere`);
  assert.deepEqual(
    [item.status, created.status, boom.status, missing.status, nowhere.status],
    [200, 201, 500, 404, 404],
  );
  await app.app.get(MetricsService).flush();
  return { requestBodySize: Buffer.byteLength(body) };
}

function bigExchange(i: number, body: string): RedactedExchange {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    kind: 'server',
    startedAt: Date.now(),
    durationMs: 2,
    method: 'POST',
    url: 'http://127.0.0.1/rows',
    scheme: 'http',
    host: '127.0.0.1',
    path: '/rows',
    query: [],
    route: '/rows',
    httpVersion: 'HTTP/1.1',
    requestHeaders: [{ name: 'content-type', value: 'application/json' }],
    requestBody: { text: body, mimeType: 'application/json', size: body.length },
    status: 200,
    statusText: 'OK',
    responseHeaders: [],
    responseBody: { text: body, mimeType: 'application/json', size: body.length },
    clientIp: '127.0.0.1',
    aborted: false,
    group: { id: 'sha512-x?1234' },
  };
}

describe('OTLP export', () => {
  const suite = receiverPerTest();

  async function start(adapter: (typeof ADAPTERS)[number], options: MetricsModuleOptions) {
    suite.running = await startApp(
      otlpAppModule({ serviceVersion: '3.0.0', tags: ['prod', 'eu'], ...options }),
      adapter,
    );
    otlpTargets.self = suite.running.url;
    return suite.running;
  }

  for (const adapter of ADAPTERS) {
    for (const protocol of PROTOCOLS) {
      it(`${adapter}, ${protocol}: one span per exchange, semconv attributes, links, events, resource`, async () => {
        const app = await start(adapter, {
          transport: new OtlpTransport({
            url: suite.receiver.urlFor(protocol),
            protocol,
            serviceName: 'shop',
            resourceAttributes: { 'deployment.environment.name': 'test' },
          }),
        });
        const { requestBodySize } = await traffic(app);
        const stats = app.app.get(MetricsService).stats();
        // 6 requests reached the app (the outgoing call's target included); the outgoing call rides with its parent.
        assert.equal(stats.sent, 6);
        const spans = await suite.receiver.waitForSpans(7);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(spans.length, 7, 'spans = 6 server exchanges + 1 outgoing call');

        const port = Number(new URL(app.url).port);
        for (const span of spans) {
          assert.match(span.traceId, /^[0-9a-f]{32}$/);
          assert.match(span.spanId, /^[0-9a-f]{16}$/);
          assert.ok(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano));
          assert.equal(span.resource['service.name'], 'shop');
          assert.equal(span.resource['deployment.environment.name'], 'test');
          assert.equal(span.resource['telemetry.sdk.language'], 'nodejs');
          assert.equal(span.scope.name, 'nestjs-api-metrics');
          assert.match(String(span.attributes['user.id']), /^sha512-.+\?1234$/);
          assert.equal(span.attributes['user.name'], 'Acme');
          assert.equal(span.attributes['user.email'], 'dev@acme.io');
          assert.equal(span.attributes['service.version'], '3.0.0');
          assert.deepEqual(span.attributes['tags'], ['prod', 'eu']);
        }
        assert.equal(new Set(spans.map((s) => s.spanId)).size, 7, 'span ids are unique');

        const item = byName(spans, 'GET /shop/items/:id');
        assert.equal(item.traceId, TRACE_ID, 'the traceparent trace is continued');
        assert.equal(item.parentSpanId, PARENT_SPAN_ID);
        const a = item.attributes;
        assert.equal(a['http.request.method'], 'GET');
        assert.equal(a['url.scheme'], 'http');
        assert.equal(a['url.path'], '/shop/items/42');
        assert.equal(a['url.query'], 'page=2&token=%5BREDACTED%5D');
        assert.equal(a['http.route'], '/shop/items/:id');
        assert.equal(num(a['http.response.status_code']), 200);
        assert.equal(a['client.address'], '127.0.0.1');
        assert.equal(a['user_agent.original'], 'otlp-test/1');
        assert.equal(a['server.address'], '127.0.0.1');
        assert.equal(num(a['server.port']), port);
        assert.equal(a['network.protocol.version'], '1.1');
        assert.deepEqual(a['http.request.header.x-multi'], ['a', 'b']);
        assert.deepEqual(a['http.request.header.user-agent'], ['otlp-test/1']);
        assert.deepEqual(a['http.response.header.x-shop'], ['one']);
        assert.ok(num(a['http.response.body.size']) > 0);
        assert.equal(item.status.code ?? 'STATUS_CODE_UNSET', 'STATUS_CODE_UNSET');
        const soft = item.events?.find((e) => e.name === 'exception');
        assert.ok(soft, 'reportError became an exception event');
        assert.equal(soft.attributes['exception.type'], 'Error');
        assert.equal(soft.attributes['exception.message'], 'soft failure');
        assert.match(String(soft.attributes['exception.stacktrace']), /soft failure\n\s+at /);

        const outgoing = byName(spans, 'GET', 'SPAN_KIND_CLIENT');
        assert.equal(outgoing.parentSpanId, item.spanId, 'the outgoing call is a child of its request');
        assert.equal(outgoing.traceId, item.traceId);
        assert.equal(outgoing.attributes['http.request.method'], 'GET');
        assert.equal(outgoing.attributes['url.full'], `${app.url}/shop/target?key=outgoing-secret&n=42`);
        assert.equal(num(outgoing.attributes['http.response.status_code']), 200);
        assert.equal(num(outgoing.attributes['server.port']), port);
        assert.equal(outgoing.attributes['user.id'], a['user.id'], 'made on behalf of the same caller');

        const created = byName(spans, 'POST /shop/items');
        assert.equal(num(created.attributes['http.response.status_code']), 201);
        assert.equal(num(created.attributes['http.request.body.size']), requestBodySize);
        assert.deepEqual(created.attributes['http.request.header.content-type'], ['application/json']);

        const boom = byName(spans, 'GET /shop/boom');
        assert.equal(boom.status.code, 'STATUS_CODE_ERROR', '5xx is an error');
        assert.equal(boom.attributes['error.type'], '500');
        const exploded = boom.events?.find((e) => e.attributes['exception.message'] === 'handler exploded');
        assert.ok(exploded, 'the thrown error is an exception event');
        assert.equal(exploded.name, 'exception');

        const missing = byName(spans, 'GET /shop/missing');
        assert.equal(num(missing.attributes['http.response.status_code']), 404);
        assert.equal(missing.status.code ?? 'STATUS_CODE_UNSET', 'STATUS_CODE_UNSET', '4xx is not a server error');

        const nowhere = byName(spans, 'GET');
        assert.equal(nowhere.attributes['http.route'], undefined, 'no route for an unknown path');
        assert.equal(nowhere.attributes['url.path'], '/nowhere');
        assert.notEqual(nowhere.traceId, TRACE_ID, 'a request without traceparent starts its own trace');
        assert.equal(nowhere.parentSpanId ?? '', '');
      });

      it(`${adapter}, ${protocol}: APIToolkit mode writes what APIToolkit's ingestion reads`, async () => {
        const app = await start(adapter, {
          transport: new ApitoolkitTransport({
            apiKey: 'at-project-key-1',
            url: suite.receiver.urlFor(protocol),
            protocol,
            serviceName: 'shop',
          }),
        });
        await traffic(app);
        const spans = await suite.receiver.waitForSpans(7);
        assert.ok(spans.every((s) => s.name === 'monoscope.http'));
        assert.ok(spans.every((s) => s.resource['at-project-key'] === 'at-project-key-1'));
        const server = spans.filter((s) => s.kind === 'SPAN_KIND_SERVER');
        const item = server.find((s) => s.attributes['url.path'] === '/shop/items/42');
        assert.ok(item);
        const a = item.attributes;
        assert.equal(a['net.host.name'], '127.0.0.1');
        assert.match(String(a['apitoolkit.msg_id']), UUID);
        assert.equal(a['http.route'], '/shop/items/:id');
        assert.equal(a['http.target'], '/shop/items/42?page=2&token=%5BREDACTED%5D');
        assert.equal(a['http.request.method'], 'GET');
        assert.equal(num(a['http.response.status_code']), 200);
        assert.deepEqual(JSON.parse(String(a['http.request.query_params'])), { page: '2', token: '[REDACTED]' });
        assert.equal(typeof JSON.parse(String(a['http.request.path_params'])), 'object');
        assert.equal(a['apitoolkit.sdk_type'], 'JsNest');
        assert.equal(a['apitoolkit.parent_id'], '');
        assert.equal(a['apitoolkit.service_version'], '3.0.0');
        assert.deepEqual(a['apitoolkit.tags'], ['prod', 'eu']);
        const response = JSON.parse(Buffer.from(String(a['http.response.body']), 'base64').toString());
        assert.equal(response.id, '42');
        const errors = JSON.parse(String(a['apitoolkit.errors'])) as Record<string, string>[];
        assert.equal(errors.length, 1);
        assert.deepEqual(
          [errors[0]!.error_type, errors[0]!.message, errors[0]!.root_error_type, errors[0]!.root_error_message],
          ['Error', 'soft failure', 'RangeError', 'root cause'],
        );
        assert.match(errors[0]!.stack_trace ?? '', /soft failure/);
        assert.ok(!Number.isNaN(Date.parse(errors[0]!.when ?? '')));

        const outgoing = spans.find((s) => s.kind === 'SPAN_KIND_CLIENT');
        assert.ok(outgoing);
        assert.equal(outgoing.parentSpanId, item.spanId);
        assert.equal(outgoing.attributes['apitoolkit.sdk_type'], 'JsAxiosOutgoing');
        assert.equal(outgoing.attributes['apitoolkit.parent_id'], a['apitoolkit.msg_id']);
        assert.equal(outgoing.attributes['http.target'], '/shop/target?key=outgoing-secret&n=42');

        const post = server.find((s) => s.attributes['http.request.method'] === 'POST');
        assert.ok(post);
        const sent = JSON.parse(Buffer.from(String(post.attributes['http.request.body']), 'base64').toString());
        assert.deepEqual(sent, { name: 'book', password: '[REDACTED]' }, 'the redacted body, base64');
        const answered = JSON.parse(Buffer.from(String(post.attributes['http.response.body']), 'base64').toString());
        assert.equal(answered.password, '[REDACTED]');
        const boom = server.find((s) => s.attributes['url.path'] === '/shop/boom');
        assert.equal(boom?.status.code, 'STATUS_CODE_ERROR');
      });
    }
  }

  for (const protocol of PROTOCOLS) {
    it(`${protocol}: a batch of big bodies is encoded in slices, one request, every span decoded`, async () => {
      const body = JSON.stringify({ rows: Array.from({ length: 1200 }, (_, i) => ({ id: i, name: `row ${i}` })) });
      const exchanges = Array.from({ length: 30 }, (_, i) => bigExchange(i, body));
      const transport = new ApitoolkitTransport({ apiKey: 'k', url: suite.receiver.urlFor(protocol), protocol });
      const ticks: number[] = [];
      let ticking = true;
      const tick = () => {
        ticks.push(performance.now());
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const started = performance.now();
      try {
        await transport.send(exchanges);
      } finally {
        ticking = false;
      }
      const spans = await suite.receiver.waitForSpans(30);
      assert.equal(spans.length, 30);
      assert.deepEqual(spans.map((s) => s.attributes['apitoolkit.msg_id']).sort(), exchanges.map((x) => x.id).sort());
      const decoded = Buffer.from(String(spans[0]!.attributes['http.request.body']), 'base64').toString();
      assert.equal(decoded, body);
      assert.equal(suite.receiver.requests.length, 1, 'one export for the batch');
      // Before the request left, the event loop kept turning (one piece: no turn at all between start and send).
      const turns = ticks.filter((t) => t > started && t < suite.receiver.requests[0]!.at).length;
      assert.ok(turns >= 10, `${turns} turns of the event loop while encoding`);
      // Past maxExportBytes (4 MiB: gRPC's default limit) the batch is refused before it is sent, as an HTTP 413,
      // which makes the dispatcher split it.
      const twice = [...exchanges, ...exchanges.map((x, i) => bigExchange(i + 100, body))];
      await assert.rejects(transport.send(twice), { name: 'MetricsDeliveryError', status: 413 });
      assert.equal(suite.receiver.requests.length, 1, 'nothing sent');
      await transport.close();
    });
  }

  for (const adapter of ADAPTERS) {
    it(`${adapter}: a batch past maxExportBytes is split by the dispatcher, every exchange delivered`, async () => {
      const app = await start(adapter, {
        transport: new ApitoolkitTransport({
          apiKey: 'k',
          url: suite.receiver.urlFor('http/protobuf'),
          protocol: 'http/protobuf',
          maxExportBytes: 40_000,
        }),
        bufferLength: 8,
        flushInterval: 60_000,
      });
      const body = JSON.stringify({ text: 'x'.repeat(8000) });
      for (let i = 0; i < 8; i++) {
        const res = await httpRequest(`${app.url}/shop/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 201);
      }
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.deepEqual([stats.sent, stats.failed], [8, 0]);
      const spans = await suite.receiver.waitForSpans(8);
      assert.equal(spans.length, 8);
      assert.ok(suite.receiver.requests.length >= 4, `${suite.receiver.requests.length} exports`);
    });
  }

  it('no options: the OTEL_* environment variables decide endpoint, protocol, headers and resource', async () => {
    const saved = { ...process.env };
    try {
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = suite.receiver.httpTracesUrl.replace(/\/v1\/traces$/, '');
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
      process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=acme%20corp,authorization=Bearer%20t';
      process.env.OTEL_SERVICE_NAME = 'env-service';
      process.env.OTEL_RESOURCE_ATTRIBUTES = 'team=core,region=eu%2Dwest';
      const transport = new OtlpTransport();
      assert.equal(transport.url, suite.receiver.httpTracesUrl);
      assert.equal(transport.protocol, 'http/json');
      process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${suite.receiver.grpcUrl}`;
      process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'grpc';
      const grpc = new OtlpTransport();
      assert.equal(grpc.url, suite.receiver.grpcUrl, 'the traces endpoint is used as it is');
      assert.equal(grpc.protocol, 'grpc');
      const app = await start('express', { transport });
      await httpRequest(`${app.url}/shop/target`);
      await app.app.get(MetricsService).flush();
      const [span] = await suite.receiver.waitForSpans(1);
      assert.equal(span!.resource['service.name'], 'env-service');
      assert.equal(span!.resource['team'], 'core');
      assert.equal(span!.resource['region'], 'eu-west');
      const sent = suite.receiver.requests.find((r) => r.transport === 'http');
      assert.equal(sent?.headers['x-tenant'], 'acme corp');
      assert.equal(sent?.headers['authorization'], 'Bearer t');
      assert.equal(sent?.headers['content-type'], 'application/json');
      await suite.running?.close();
      suite.running = undefined;
      suite.receiver.reset();
      // The same variables drive the gRPC transport, headers becoming metadata.
      const app2 = await start('express', { transport: grpc });
      await httpRequest(`${app2.url}/shop/target`);
      await app2.app.get(MetricsService).flush();
      const [grpcSpan] = await suite.receiver.waitForSpans(1);
      assert.equal(grpcSpan!.resource['service.name'], 'env-service');
      const metadata = suite.receiver.requests.find((r) => r.transport === 'grpc');
      assert.equal(metadata?.headers['x-tenant'], 'acme corp');
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it('bad options stop the app at startup with a clear error', () => {
    assert.throws(() => new OtlpTransport({ url: 'collector:4318' }), /OTLP url must be an http\(s\) URL/);
    assert.throws(() => new OtlpTransport({ protocol: 'udp' as never }), /protocol must be http\/protobuf/);
    assert.throws(() => new ApitoolkitTransport({ apiKey: '' }), /ApitoolkitTransport needs \{ apiKey \}/);
  });
});
