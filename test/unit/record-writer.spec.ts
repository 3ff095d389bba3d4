import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HarFileTransport, ReadmeTransport, type MetricsRecord } from '../../src';
import { HAR_CREATOR, RecordFormatter } from '../../src/format/record-formatter';
import type { CapturedBody, CapturedExchange } from '../../src/interfaces/captured-exchange.interface';
import { encodedSenderOf } from '../../src/interfaces/encoded-transport.interface';
import { resolveMetricsOptions } from '../../src/metrics.options';
import { Redactor } from '../../src/redact/redactor';
import { recordWriter } from '../../src/write/record-writer';
import { Collector } from '../support/collector';

/*
 * The oracle: what the transports sent before records were written once — `JSON.stringify` of the batch of record
 * objects (ReadMe), the entries stringified at append (HAR file), through each transport's object path, which is kept
 * for users' subclasses. The records written at settle must give the same bytes, over hostile exchanges.
 */

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Strings JSON escaping and UTF-8 encoding must get right: quotes, controls, line separators, lone surrogates. */
const HOSTILE_STRINGS = [
  'plain',
  'q"uo\\te',
  'line\nbreak\t\u0000\u001f',
  '\u2028\u2029',
  'é中😀',
  '\ud800',
  '\udfffx',
  '',
];
/** JSON bodies: escaped and duplicate keys, deep nesting, the rules' keys, cut mid-value, not JSON at all. */
const JSON_BODIES = [
  '{"user":{"id":1,"password":"hunter2"},"card":{"number":"4111","brand":"visa"}}',
  '{"pass\\u0077ord":"a","password":"b","password":"c","tok\\"en":"d"}',
  '{"a":' + '['.repeat(40) + '{"token":"x"}' + ']'.repeat(40) + '}',
  '{"items":[{"sku":"é😀\\ud800","price":9.99}],"card":{"number":"41',
  '\ufeff{"secret":"bom"}',
  '{not json',
  '[1,2,{"api_key":"k","n":-2.5e3}]',
];

/** Percent-encoding that also takes lone surrogates (as raw bytes a client could send). */
function enc(text: string): string {
  return [...text].map((ch) => (/[\ud800-\udfff]/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch))).join('');
}

function pick<T>(next: () => number, xs: readonly T[]): T {
  return xs[Math.floor(next() * xs.length)] as T;
}

function body(next: () => number): CapturedBody | undefined {
  const roll = next();
  if (roll < 0.15) return undefined;
  if (roll < 0.25) return { text: 'AP8A/w==', encoding: 'base64', size: 4, truncated: next() < 0.5, source: 'wire' };
  if (roll < 0.3)
    return { text: '', size: 10, truncated: false, source: 'wire', comment: 'streamed body, not captured' };
  const text = roll < 0.85 ? pick(next, JSON_BODIES) : `token=${pick(next, HOSTILE_STRINGS)}&a=1`;
  return { text, size: text.length + 3, truncated: next() < 0.3, source: next() < 0.2 ? 'parsed' : 'wire' };
}

function exchange(next: () => number, i: number): CapturedExchange {
  const s = () => pick(next, HOSTILE_STRINGS);
  const json = next() < 0.7;
  const responseType = json ? 'application/json; charset=utf-8' : pick(next, ['text/plain', 'image/png', '']);
  const requestType = pick(next, ['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'x/y']);
  const head = next() < 0.5;
  const x: CapturedExchange = {
    id: `id-${i}-${s()}`,
    platform: pick(next, ['express', 'fastify'] as const),
    startedAt: 1_700_000_000_000 + i,
    durationMs: next() * 100,
    aborted: next() < 0.1,
    method: pick(next, ['GET', 'POST', 'HEAD', 'PUT']),
    // Most URLs have nothing to redact (bodies then take the one-pass path); the others echo into error bodies.
    url: pick(next, [
      `http://user:pw@127.0.0.1:3000/items/${enc(s())}?token=${enc(s())}&page=2&a[password]=x`,
      `http://127.0.0.1:3000/items/${enc(s())}`,
      `https://api.example.com/items?page=${enc(s())}&q=${enc(s())}`,
      'http://127.0.0.1:3000/items',
    ]),
    httpVersion: 'HTTP/1.1',
    requestHeaders: [
      'Host',
      '127.0.0.1',
      'Content-Type',
      requestType,
      'AUTHORIZATION',
      `Bearer ${s()}`,
      'X-Odd',
      s(),
      ...pick(next, [
        [],
        ['Content-Length', '12'],
        ['content-length', ' 7 '],
        ['Content-Length', ''],
        ['x-api-key', s()],
      ]),
      ...pick(next, [[], ['content-type', 'text/plain'], ['Referer', `http://a:b@h/p?password=${enc(s())}`]]),
    ],
    requestBody: body(next),
    status: pick(next, [200, 204, 404, 500, 0]),
    statusText: s(),
    responseHeaders: head ? [] : ['content-type', responseType, 'set-cookie', s(), 'location', '/x?token=1'],
    ...(head && {
      responseHead: `HTTP/1.1 200 OK\r\nContent-Type: ${responseType}\r\nX-Api-Key: k\r\nLocation: http://a:b@h/?secret=${s()}\r\n\r\n`,
    }),
    responseBody: body(next),
    clientIp: '127.0.0.1',
    group: { apiKey: `key-${s()}`, label: next() < 0.5 ? s() : undefined, email: next() < 0.5 ? s() : undefined },
  };
  if (next() < 0.4) x.route = `/items/:${s()}`;
  if (next() < 0.1) x.parentId = `parent-${s()}`;
  if (next() < 0.05) x.durationMs = NaN;
  if (next() < 0.08) x.startedAt = pick(next, [0, -1, 1.5, 999, 1_700_000_000_999.7, 253_402_300_800_005]);
  if (next() < 0.08) {
    // GraphQL exchanges take the object path inside the writer: the same bytes.
    x.graphql = { operation: `query ${s()}`, operations: [{ type: 'query' }], introspection: false, failed: false };
    x.requestBody = { text: '{"query":"{ a(password: \\"p\\") }"}', size: 30, truncated: false, source: 'wire' };
  }
  if (next() < 0.3) x.pathParams = { id: s(), token: s() };
  if (next() < 0.2) {
    x.errors = [
      {
        when: new Date(x.startedAt).toISOString(),
        errorType: 'Error',
        message: `Cannot GET ${x.url}`,
        rootErrorType: 'TypeError',
        rootErrorMessage: s(),
        stackTrace: s(),
        source: 'filter',
      },
    ];
  }
  if (next() < 0.2) {
    x.outgoing = [{ ...exchange(next, i + 10_000), platform: 'http-client', outgoing: undefined }];
    if (next() < 0.5) x.outgoing[0]!.failure = { code: 'ECONNRESET', message: s() };
  }
  return x;
}

const RULE_SETS = [
  { redactRequestBody: ['$.user.password', '$.card.number'], redactResponseBody: ['$..number'] },
  { denylist: ['a', 'items'], serviceVersion: '1.2.3', tags: ['x', 'é'], developmentMode: true },
  { allowlist: ['id'], redactResponseBody: ['$.items[-1:]'], redactDefaults: false },
  { redactHeaders: ['X-Odd', 'content-length'], redactRequestBody: ['$..password'] },
];

describe('records written once are byte for byte what the object path sends', () => {
  let collector: Collector;
  let dir: string;
  before(async () => {
    collector = await Collector.start();
    dir = mkdtempSync(join(tmpdir(), 'record-writer-'));
  });
  after(async () => {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [n, rules] of RULE_SETS.entries()) {
    const options = resolveMetricsOptions({ apiKey: 'k', ...rules });
    const formatter = new RecordFormatter(options, new Redactor(options));
    const exchanges = Array.from({ length: 150 }, (_, i) => exchange(prng(7000 + 100 * n + i), i));

    it(`ReadMe: the batch body equals JSON.stringify of the records (rule set ${n}, 150 hostile exchanges)`, async () => {
      const transport = new ReadmeTransport({ apiKey: 'k', baseUrl: collector.url, timeout: 5_000, proxy: false });
      try {
        const sender = encodedSenderOf(transport);
        assert.equal(sender?.format, 'readme-record');
        const write = recordWriter('readme-record', formatter);
        const records: MetricsRecord[] = exchanges.map((x) => formatter.format(x));
        await transport.send(records); // the oracle
        await sender.send(exchanges.map(write));
        const [oracle, written] = collector.calls.slice(-2);
        assert.ok(oracle && written);
        assert.equal(oracle.raw, JSON.stringify(records));
        assert.equal(written.raw.length, oracle.raw.length);
        assert.ok(written.raw === oracle.raw, 'the written batch differs from JSON.stringify of the records');
        assert.equal(written.headers['content-length'], oracle.headers['content-length']);
        assert.ok(oracle.raw.includes('[REDACTED]'), 'nothing was redacted: the fixtures would prove little');
      } finally {
        await transport.close();
      }
    });

    it(`HAR file: the file written from written records is the one the object path wrote (rule set ${n})`, async () => {
      const write = recordWriter('har-entries', formatter);
      const records = exchanges.map((x) => formatter.format(x));
      // The oracle: the file as HarFileTransport wrote it from record objects before records were written once.
      const entries = records.flatMap((r) =>
        r.request.log.entries.map(({ pageref, ...entry }) => ({
          ...entry,
          ...(pageref !== undefined && { _pageref: pageref }),
          _id: r._id,
          _group: r.group,
        })),
      );
      const oracle =
        `{"log":{"version":"1.2","creator":${JSON.stringify(HAR_CREATOR)},"pages":[],"entries":[\n` +
        `${entries.map((e) => JSON.stringify(e)).join(',\n')}]}}\n`;
      const files = await Promise.all(
        ['objects', 'written'].map(async (kind) => {
          const transport = new HarFileTransport({ path: join(dir, `${n}-${kind}.har`) });
          const sender = encodedSenderOf(transport);
          assert.equal(sender?.format, 'har-entries');
          // Three batches: the separators between batches must come out as in one.
          for (const part of [exchanges.slice(0, 2), exchanges.slice(2, 70), exchanges.slice(70)]) {
            if (kind === 'objects') await transport.send(part.map((x) => formatter.format(x)));
            else await sender.send(part.map(write));
          }
          await transport.close();
          return readFileSync(transport.path, 'utf8');
        }),
      );
      assert.ok(files[0] === oracle, 'the HAR file written from objects differs from the oracle');
      assert.ok(files[1] === oracle, 'the HAR file written from written records differs from the oracle');
    });
  }

  it('a subclass that overrides send gets records as objects: it has no encoded side', () => {
    class Logged extends ReadmeTransport {
      override send(records: MetricsRecord[]): Promise<void> {
        return super.send(records);
      }
    }
    const transport = new Logged({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9', timeout: 100, proxy: false });
    assert.equal(encodedSenderOf(transport), undefined);
    assert.equal(encodedSenderOf({ send: () => Promise.resolve() }), undefined);
    void transport.close();
  });
});
