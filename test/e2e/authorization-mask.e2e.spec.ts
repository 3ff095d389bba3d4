import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { MetricsModule, MetricsService, OtlpTransport, type MetricsModuleOptions } from '../../src';
import { ADAPTERS, startApp } from '../support/adapters';
import { entryOf, header } from '../support/har';
import { httpRequest } from '../support/http';
import { receiverPerTest } from '../support/otlp-receiver';
import { appPerTest } from '../support/suite';

/*
 * The Authorization header is shipped as ReadMe's SDKs mask it: `sha512-<base64 sha512 of the whole value>`, plus
 * `?<last 4 characters>` only when the credential after the scheme is long enough (≥ 16 characters, one token, not
 * Basic) that four characters of it reveal little. A short token is never shown, in any spelling.
 */

const hash = (value: string): string => `sha512-${createHash('sha512').update(value).digest('base64')}`;

/** [header value as sent, the tail expected after `?`, or null for none]. */
const CASES: [string, string | null][] = [
  ['Bearer xyz', null],
  ['bearer xyz', null],
  ['BEARER     xyz', null],
  ['Bearer\txyz', null],
  ['xyz', null],
  ['Token abcd', null],
  ['Bearer abcdefghijklmno', null], // 15 characters after the scheme
  ['Bearer abcdefghijklmnop', 'mnop'], // 16
  ['abcdefghijklmno', null], // a raw token of 15
  ['abcdefghijklmnop', 'mnop'], // of 16
  ['Bearer: a-random-api-key', '-key'], // ReadMe's cross-SDK example
  ['bearer   a-random-api-ke', null],
  [`Basic ${Buffer.from('user:pw').toString('base64')}`, null],
  // Basic is a password, base64-encoded: never a tail, however long.
  [`Basic ${Buffer.from('someone@example.com:correct horse').toString('base64')}`, null],
  ['Digest username="u", realm="r", nonce="abcdef0123456789", response="6629fae49393a05397450978507c4ef1"', null],
  ['Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXBhcnQ', 'hcnQ'],
];

function expected(value: string, tail: string | null): string {
  return tail === null ? hash(value) : `${hash(value)}?${tail}`;
}

@Controller('auth')
class AuthController {
  @Get(':n')
  read() {
    return { ok: true };
  }
}

function authModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class AuthMaskModule {}
  return {
    module: AuthMaskModule,
    imports: [MetricsModule.forRoot({ group: () => ({ apiKey: 'owlbert-api-key' }), ...options })],
    controllers: [AuthController],
  };
}

async function sendAll(url: string): Promise<void> {
  for (const [i, [value]] of CASES.entries()) {
    const res = await httpRequest(`${url}/auth/${i}`, { headers: { authorization: value } });
    assert.equal(res.status, 200);
  }
}

for (const adapter of ADAPTERS) {
  describe(`Authorization mask, HAR (${adapter})`, () => {
    const suite = appPerTest();

    it('shows a tail only of a long credential; the hash is ReadMe’s; the group id keeps ReadMe’s tail', async () => {
      suite.running = await startApp(authModule({ apiKey: 'k', baseUrl: suite.collector.url }), adapter);
      await sendAll(suite.running.url);
      await suite.running.app.get(MetricsService).flush();
      const byPath = new Map(
        suite.collector.records.map((r) => [new URL(entryOf(r)!.request.url).pathname, entryOf(r)!] as const),
      );
      for (const [i, [value, tail]] of CASES.entries()) {
        const entry = byPath.get(`/auth/${i}`);
        assert.ok(entry, `record of case ${i}`);
        assert.equal(header(entry.request.headers, 'authorization'), expected(value, tail), value);
      }
      // The caller's id is ReadMe's `group.id`, matched by their dashboard: unchanged (15 characters, tail kept).
      assert.match(suite.collector.records[0]!.group.id, /^sha512-.+\?-key$/);
    });
  });
}

describe('Authorization mask, OTLP', () => {
  const suite = receiverPerTest();

  for (const adapter of ADAPTERS) {
    it(`${adapter}: the span's authorization header is masked the same way`, async () => {
      const transport = new OtlpTransport({ url: suite.receiver.urlFor('http/json'), protocol: 'http/json' });
      suite.running = await startApp(authModule({ transport }), adapter);
      await sendAll(suite.running.url);
      await suite.running.app.get(MetricsService).flush();
      const spans = await suite.receiver.waitForSpans(CASES.length);
      for (const [i, [value, tail]] of CASES.entries()) {
        const span = spans.find((s) => s.attributes['url.path'] === `/auth/${i}`);
        assert.ok(span, `span of case ${i}`);
        assert.deepEqual(span.attributes['http.request.header.authorization'], [expected(value, tail)], value);
      }
    });
  }
});
