import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildSpans } from '../../src/format/otlp/span-builder';
import { hrTime } from '../../src/format/otlp/span';
import type { RedactedExchange } from '../../src/interfaces/redacted-exchange.interface';

const resource = { attributes: { 'service.name': 't' } };

function exchange(overrides: Partial<RedactedExchange> = {}): RedactedExchange {
  return {
    id: '7d1c4b1e-4f5a-4c1d-9a1b-2b3c4d5e6f70',
    kind: 'server',
    startedAt: 1_700_000_000_123.5,
    durationMs: 12.25,
    method: 'GET',
    url: 'http://api.test/a?x=1',
    scheme: 'http',
    host: 'api.test',
    path: '/a',
    query: [{ name: 'x', value: '1' }],
    httpVersion: 'HTTP/1.1',
    requestHeaders: [],
    status: 200,
    statusText: 'OK',
    responseHeaders: [],
    responseBody: { text: '', mimeType: '', size: 0 },
    clientIp: '10.0.0.1',
    aborted: false,
    group: { id: 'sha512-x?abcd' },
    ...overrides,
  };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('OTLP span builder', () => {
  it('continues a valid W3C traceparent; ignores invalid, ambiguous or hostile ones', () => {
    const tp = (value: string | string[]) =>
      buildSpans(
        [
          exchange({
            requestHeaders: (Array.isArray(value) ? value : [value]).map((v) => ({ name: 'TraceParent', value: v })),
          }),
        ],
        { resource, mode: 'otlp' },
      )[0]!;
    const ok = tp(`00-${TRACE}-${SPAN}-01`);
    assert.equal(ok.spanContext().traceId, TRACE);
    assert.equal(ok.parentSpanContext?.spanId, SPAN);
    assert.equal(ok.parentSpanContext?.isRemote, true);
    assert.equal(ok.spanContext().traceFlags, 1);
    assert.equal(tp(`00-${TRACE}-${SPAN}-00`).spanContext().traceFlags, 0, 'not sampled upstream stays not sampled');
    // A future version may append fields; version 00 may not.
    assert.equal(tp(`01-${TRACE}-${SPAN}-01-extra`).spanContext().traceId, TRACE);
    for (const bad of [
      `00-${TRACE}-${SPAN}-01-extra`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}`,
      `00-${TRACE}x-${SPAN}-01`,
      '',
      [`00-${TRACE}-${SPAN}-01`, `00-${'1'.repeat(32)}-${SPAN}-01`],
    ]) {
      const span = tp(bad);
      assert.notEqual(span.spanContext().traceId, TRACE, `ignored: ${String(bad)}`);
      assert.equal(span.parentSpanContext, undefined, `ignored: ${String(bad)}`);
    }
  });

  it('ids are random hex of 16 and 8 bytes; times are exact HrTime', () => {
    const spans = buildSpans(
      Array.from({ length: 50 }, () => exchange()),
      { resource, mode: 'otlp' },
    );
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    assert.equal(ids.size, 50);
    assert.equal(new Set(spans.map((s) => s.spanContext().traceId)).size, 50);
    for (const s of spans) {
      assert.match(s.spanContext().traceId, /^[0-9a-f]{32}$/);
      assert.match(s.spanContext().spanId, /^[0-9a-f]{16}$/);
    }
    assert.deepEqual(spans[0]!.startTime, [1_700_000_000, 123_500_000]);
    assert.deepEqual(spans[0]!.endTime, [1_700_000_000, 135_750_000]);
    assert.deepEqual(hrTime(999.9999), [0, 999_999_900]);
    assert.deepEqual(hrTime(1999.9999999999), [2, 0]);
  });

  it('status Error for 5xx only on server spans; for 4xx, 5xx and failures on client spans', () => {
    const statusOf = (x: Partial<RedactedExchange>) =>
      buildSpans([exchange(x)], { resource, mode: 'otlp' })[0]!.status.code;
    assert.deepEqual(
      [200, 404, 499, 500, 503].map((status) => statusOf({ status })),
      [0, 0, 0, 2, 2],
    );
    const parent = exchange({
      outgoing: [
        exchange({ kind: 'client', status: 404 }),
        exchange({ kind: 'client', status: 0, failure: { code: 'ECONNREFUSED', message: 'refused' } }),
        exchange({ kind: 'client', status: 200 }),
      ],
    });
    const [, notFound, refused, fine] = buildSpans([parent], { resource, mode: 'otlp' });
    assert.deepEqual([notFound!.status.code, refused!.status.code, fine!.status.code], [2, 2, 0]);
    assert.equal(refused!.attributes['error.type'], 'ECONNREFUSED');
    assert.equal(refused!.attributes['http.response.status_code'], undefined, 'no response, no status');
  });

  it('repeated headers become one string array per lower-cased name, in order', () => {
    const [span] = buildSpans(
      [
        exchange({
          requestHeaders: [
            { name: 'X-Multi', value: 'a' },
            { name: 'x-multi', value: 'b' },
            { name: 'Accept', value: '*/*' },
          ],
        }),
      ],
      { resource, mode: 'otlp' },
    );
    assert.deepEqual(span!.attributes['http.request.header.x-multi'], ['a', 'b']);
    assert.deepEqual(span!.attributes['http.request.header.accept'], ['*/*']);
  });

  it('APIToolkit mode: form bodies as the JSON of their fields, files named never read, binary kept base64', () => {
    const [span] = buildSpans(
      [
        exchange({
          requestBody: {
            text: '',
            mimeType: 'multipart/form-data',
            size: 100,
            params: [
              { name: 'a', value: '1' },
              { name: 'a', value: '2' },
              { name: 'doc', fileName: 'x.pdf', contentType: 'application/pdf' },
            ],
          },
          responseBody: { text: 'AP8=', encoding: 'base64', mimeType: 'image/png', size: 2 },
          pathParams: { id: '42' },
        }),
      ],
      { resource, mode: 'apitoolkit' },
    );
    const body = JSON.parse(Buffer.from(String(span!.attributes['http.request.body']), 'base64').toString());
    assert.deepEqual(body, { a: ['1', '2'], doc: '[application/pdf_FILE]' });
    assert.equal(span!.attributes['http.response.body'], 'AP8=');
    assert.equal(span!.attributes['http.request.path_params'], '{"id":"42"}');
    assert.equal(span!.attributes['http.route'], '/a', 'the path when no route is known, as their SDKs send it');
  });

  it('loading the package loads no OpenTelemetry module; a missing peer is a clear startup error', () => {
    const index = join(__dirname, '..', '..', 'src', 'index.js');
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === '@opentelemetry/otlp-transformer') {
          throw Object.assign(new Error('Cannot find module ' + request), { code: 'MODULE_NOT_FOUND' });
        }
        return resolve.call(this, request, ...rest);
      };
      const lib = require(${JSON.stringify(index)});
      const loaded = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry') || k.includes('@grpc'));
      let message = '';
      try { new lib.OtlpTransport({ url: 'http://127.0.0.1:4318/v1/traces' }); } catch (e) { message = e.message; }
      process.stdout.write(JSON.stringify({ loaded, message }));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const { loaded, message } = JSON.parse(run.stdout) as { loaded: string[]; message: string };
    assert.deepEqual(loaded, [], 'ReadMe-only users load none of it');
    assert.match(message, /OtlpTransport needs @opentelemetry\/otlp-transformer/);
    assert.match(message, /Run: npm i @opentelemetry\/otlp-transformer@\^0\.223\.0 @opentelemetry\/api/);
  });
});
