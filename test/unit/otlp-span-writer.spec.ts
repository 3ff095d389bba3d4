import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApitoolkitTransport, OtlpTransport, type OtlpProtocol } from '../../src';
import { RecordFormatter } from '../../src/format/record-formatter';
import type { CapturedBody, CapturedExchange } from '../../src/interfaces/captured-exchange.interface';
import { encodedSenderOf } from '../../src/interfaces/encoded-transport.interface';
import { resolveMetricsOptions } from '../../src/metrics.options';
import { Redactor } from '../../src/redact/redactor';
import { recordWriter } from '../../src/write/record-writer';

/*
 * The oracle of the OTLP records written once (src/format/otlp/span-writer.ts): what the transport sent before —
 * the redacted exchanges of a batch turned into spans and encoded by the official serializer in one go — against the
 * batch of records encoded one by one at settle (our own Span encoder for protobuf). Decoded, the spans must be the
 * same (field by field, whatever the layout: the 0.200-0.2xx serializers wrote through protobufjs) or deep-equal
 * (JSON), under the same resource and scope, over hostile exchanges; with the serializer installed here, the Span
 * messages are even byte for byte the same. Ids are random: they compare by the order they first appear in.
 */

const ODD = ['plain', 'q"uo\\te', 'nl\n\t\u0000', '\u2028', 'é中😀', '\ud800', ''];
const BODIES = [
  '{"user":{"password":"hunter2"},"card":{"number":"4111"},"n":-2.5e3}',
  '{"pass\\u0077ord":"a","password":"b","password":"c"}',
  '{"a":' + '['.repeat(30) + '{"token":"x"}' + ']'.repeat(30) + '}',
  '{"cut":"é😀\\ud800","card":{"number":"41',
  'token=abc&a=1',
];

/** Percent-encoded UTF-8 (a lone surrogate as U+FFFD's bytes). */
const pct = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

function fixture(seed: number, i: number): CapturedExchange {
  let s = seed >>> 0;
  const next = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const odd = () => pick(ODD);
  const body = (): CapturedBody | undefined => {
    const roll = next();
    if (roll < 0.15) return undefined;
    if (roll < 0.25) return { text: 'AP8A/w==', encoding: 'base64', size: 4, truncated: false, source: 'wire' };
    const text = pick(BODIES);
    return { text, size: text.length, truncated: next() < 0.3, source: 'wire' };
  };
  const tp = pick(['', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-bad-00f067aa0ba902b7-01']);
  const x: CapturedExchange = {
    id: `id-${i}`,
    platform: pick(['express', 'fastify'] as const),
    startedAt: 1_700_000_000_000 + i + next(),
    durationMs: next() * 100,
    aborted: next() < 0.1,
    method: pick(['GET', 'POST', 'DELETE']),
    url: pick([`http://u:p@127.0.0.1:3000/items/${pct(odd())}?token=${i}&q=é`, 'http://h/x']),
    httpVersion: pick(['HTTP/1.1', 'HTTP/2.0']),
    requestHeaders: [
      'Host',
      '127.0.0.1',
      'Content-Type',
      pick(['application/json', 'application/x-www-form-urlencoded', 'text/plain']),
      'Authorization',
      `Bearer ${odd()}`,
      'User-Agent',
      odd(),
      'X-Odd',
      odd(),
      'x-odd',
      odd(),
      ...(tp ? ['traceparent', tp] : []),
    ],
    requestBody: body(),
    status: pick([200, 404, 500, 0]),
    statusText: odd(),
    responseHeaders: ['content-type', pick(['application/json', 'image/png']), 'set-cookie', odd()],
    responseBody: body(),
    clientIp: '127.0.0.1',
    group: { apiKey: `key-${odd()}`, label: next() < 0.5 ? odd() : undefined, email: next() < 0.5 ? odd() : undefined },
  };
  if (next() < 0.5) x.route = `/items/:${odd()}`;
  if (next() < 0.3) x.pathParams = { id: odd() };
  if (next() < 0.2) {
    x.errors = [
      {
        when: new Date(x.startedAt).toISOString(),
        errorType: 'Error',
        message: odd(),
        rootErrorType: 'TypeError',
        rootErrorMessage: odd(),
        source: 'filter',
      },
    ];
  }
  if (next() < 0.2) {
    x.outgoing = [{ ...fixture(seed + 1, i + 10_000), platform: 'http-client', outgoing: undefined }];
    if (next() < 0.5) x.outgoing[0]!.failure = { code: 'ECONNRESET', message: odd() };
  }
  return x;
}

/** Span: trace_id, span_id, parent_span_id. */
const ID_FIELDS = new Set([1, 2, 4]);

/**
 * Ids are random: each becomes the order in which it first appeared in its run (the oracle's body, or the new
 * batches), so two runs compare by which spans share a trace and which is whose parent.
 */
class Ids {
  private readonly seen = new Map<string, string>();
  of(id: Buffer | string): string {
    const key = typeof id === 'string' ? id.toLowerCase() : id.toString('hex');
    let ordinal = this.seen.get(key);
    if (ordinal === undefined) this.seen.set(key, (ordinal = `id#${this.seen.size}`));
    return ordinal;
  }
}

/** Sub-messages per message type (trace.proto, common.proto); other length-delimited fields are bytes or strings. */
const MESSAGES: Record<string, Record<number, string>> = {
  Span: { 9: 'KeyValue', 11: 'Event', 13: 'Link', 15: 'Status' },
  Event: { 3: 'KeyValue' },
  Link: { 4: 'KeyValue' },
  Status: {},
  KeyValue: { 2: 'AnyValue' },
  AnyValue: { 5: 'ArrayValue', 6: 'KeyValueList' },
  ArrayValue: { 1: 'AnyValue' },
  KeyValueList: { 1: 'KeyValue' },
};

/**
 * A message decoded to compare by meaning, not layout: its fields by number (repeated ones in order), scalars at
 * their proto3 default (0) left out as absent, sub-messages decoded the same way.
 */
function canonical(bytes: Buffer, type: string, ids: Ids): unknown[] {
  const out: [number, unknown][] = [];
  for (const [n, value, wire] of fieldsWithWire(bytes)) {
    const sub = MESSAGES[type]![n];
    if (type === 'Span' && ID_FIELDS.has(n)) out.push([n, ids.of(value)]);
    else if (sub) out.push([n, canonical(value, sub, ids)]);
    else if (wire === 2) out.push([n, value.toString('hex')]);
    else if (!value.every((b) => b === 0)) out.push([n, value.toString('hex')]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

function fieldsWithWire(bytes: Buffer): [number, Buffer, number][] {
  const out: [number, Buffer, number][] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1; ; scale *= 128) {
      const b = bytes[at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const length = varint();
      out.push([tag >>> 3, bytes.subarray(at, at + length), wire]);
      at += length;
    } else {
      const from = at;
      if (wire === 0) varint();
      else at += wire === 1 ? 8 : 4;
      // A varint 0 is one zero byte, a fixed 0 all zeros: both dropped as absent above.
      out.push([tag >>> 3, bytes.subarray(from, at), wire]);
    }
  }
  return out;
}

interface Decoded {
  resources: string[];
  scopes: string[];
  spans: unknown[];
  /** protobuf: the Span messages as bytes. */
  raw: string[];
}

function decode(body: Buffer, protocol: OtlpProtocol, ids: Ids): Decoded {
  const d: Decoded = { resources: [], scopes: [], spans: [], raw: [] };
  if (protocol === 'http/json') {
    const request = JSON.parse(body.toString('utf8')) as {
      resourceSpans: { resource: unknown; scopeSpans: { scope: unknown; spans: unknown[] }[] }[];
    };
    for (const rs of request.resourceSpans) {
      d.resources.push(JSON.stringify(rs.resource));
      for (const ss of rs.scopeSpans) {
        d.scopes.push(JSON.stringify(ss.scope));
        for (const span of ss.spans as Record<string, unknown>[]) {
          for (const field of ['traceId', 'spanId', 'parentSpanId']) {
            if (typeof span[field] === 'string') span[field] = ids.of(span[field]);
          }
          d.spans.push(span);
        }
      }
    }
    return d;
  }
  for (const [n, rs] of fieldsWithWire(body)) {
    assert.equal(n, 1, 'ExportTraceServiceRequest holds resourceSpans only');
    for (const [m, part] of fieldsWithWire(rs)) {
      if (m === 1) d.resources.push(part.toString('hex'));
      if (m !== 2) continue;
      for (const [k, inner] of fieldsWithWire(part)) {
        if (k === 1) d.scopes.push(inner.toString('hex'));
        if (k !== 2) continue;
        d.spans.push(canonical(inner, 'Span', ids));
        // The layout too: every field's bytes in order, ids as their ordinals.
        d.raw.push(
          fieldsWithWire(inner)
            .map(([n, value]) => `${n}:${ID_FIELDS.has(n) ? ids.of(value) : value.toString('hex')}`)
            .join(' '),
        );
      }
    }
  }
  return d;
}

describe('OTLP records encoded once at settle are the spans the batch encoding sent', () => {
  let server: Server;
  let bodies: Buffer[] = [];
  let url = '';
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const rules = { redactRequestBody: ['$.user.password'], redactResponseBody: ['$..number'], tags: ['t'] };
  const options = resolveMetricsOptions({ apiKey: 'k', serviceVersion: '1.0.0', ...rules });
  const formatter = new RecordFormatter(options, new Redactor(options));
  const exchanges = Array.from({ length: 120 }, (_, i) => fixture(9100 + i, i));

  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    for (const kind of ['otlp', 'apitoolkit'] as const) {
      it(`${kind} ${protocol}: the same spans, resource and scope as the batch encoding (120 hostile exchanges)`, async () => {
        const transport =
          kind === 'otlp'
            ? new OtlpTransport({ url, protocol, resourceAttributes: { 'deployment.environment': 'é"x' } })
            : new ApitoolkitTransport({ apiKey: 'at-key', url, protocol });
        try {
          const sender = encodedSenderOf(transport);
          assert.equal(sender?.format, 'otlp-spans');
          const write = recordWriter('otlp-spans', formatter, sender);
          bodies = [];
          await transport.send(exchanges.map((x) => formatter.redact(x))); // the oracle
          const records = exchanges.map(write);
          // Two calls, as a split batch is sent: each wraps its records again.
          await sender.send(records.slice(0, 7));
          await sender.send(records.slice(7));
          const [first, ...rest] = bodies;
          const oracle = decode(first!, protocol, new Ids());
          const ids = new Ids(); // one run: both calls
          const written = rest.map((b) => decode(b, protocol, ids));
          assert.equal(written.length, 2);
          const spans = written.flatMap((w) => w.spans);
          assert.equal(spans.length, oracle.spans.length);
          assert.deepEqual(spans, oracle.spans);
          // The serializers of both supported lines (0.2xx here, 0.30x in .ci/test-otel3.sh) write Spans as we do.
          assert.deepEqual(
            written.flatMap((w) => w.raw),
            oracle.raw,
          );
          for (const w of written) {
            for (const r of w.resources) assert.equal(r, oracle.resources[0]);
            for (const s of w.scopes) assert.equal(s, oracle.scopes[0]);
            // protobuf: one resource and scope per call, as the serializer writes a batch of one resource.
            if (protocol === 'http/protobuf') assert.deepEqual([w.resources.length, w.scopes.length], [1, 1]);
          }
          assert.ok(spans.length > exchanges.length, 'outgoing calls were not encoded: the fixtures prove little');
        } finally {
          await transport.close();
        }
      });
    }
  }

  it('splits on per-record bytes: past maxExportBytes a batch of several records is a 413, one record is sent', async () => {
    const transport = new OtlpTransport({ url, protocol: 'http/protobuf', maxExportBytes: 4096 });
    try {
      const sender = encodedSenderOf(transport)!;
      const write = recordWriter('otlp-spans', formatter, sender);
      const records = exchanges.slice(0, 40).map(write);
      await assert.rejects(sender.send(records), (e: { status?: number }) => e.status === 413);
      bodies = [];
      await sender.send(records.slice(0, 1));
      assert.equal(bodies.length, 1);
    } finally {
      await transport.close();
    }
  });

  it('a subclass that overrides send keeps getting redacted exchanges: no encoded side', async () => {
    class Logged extends OtlpTransport {
      override send(...args: Parameters<OtlpTransport['send']>) {
        return super.send(...args);
      }
    }
    const transport = new Logged({ url });
    assert.equal(encodedSenderOf(transport), undefined);
    await transport.close();
  });
});
