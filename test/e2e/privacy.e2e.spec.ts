import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Body, Controller, Get, Header, HttpCode, Module, Post, Res, type DynamicModule } from '@nestjs/common';
import { MetricsModule, MetricsService, type MetricsModuleOptions } from '../../src';
import { ADAPTERS, startApp, type AdapterName } from '../support/adapters';
import { assertValidHar, entryOf, header } from '../support/har';
import { CANARY, CANARY_QUERY, canaryHeaders, canaryJson } from '../support/canaries';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';

/** What handlers saw and returned, to prove redaction never touches the app's objects. */
const seen: { bodies: unknown[]; returned: unknown[] } = { bodies: [], returned: [] };

@Controller('privacy')
class PrivacyController {
  @Post()
  @HttpCode(200)
  @Header('x-internal-token', CANARY('R1'))
  accept(@Body() body: unknown, @Res({ passthrough: true }) res: { header(name: string, value: string[]): void }) {
    seen.bodies.push(body);
    res.header('set-cookie', [`session=${CANARY('N')}; HttpOnly`, `theme=dark`]);
    const result = { account: { iban: CANARY('O'), currency: 'EUR' }, refresh_token: CANARY('P'), status: 'fine' };
    seen.returned.push(result);
    return result;
  }

  @Get('broken-json')
  @Header('content-type', 'application/json')
  broken() {
    return `{"password": "${CANARY('S')}", "visible": "yes"`;
  }
}

function privacyModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class PrivacyAppModule {}
  return {
    module: PrivacyAppModule,
    imports: [MetricsModule.forRoot({ group: () => ({ apiKey: 'privacy-key' }), ...options })],
    controllers: [PrivacyController],
  };
}

for (const adapter of ADAPTERS) {
  describe(`privacy (${adapter})`, () => {
    const suite = appPerTest(() => {
      seen.bodies.length = 0;
      seen.returned.length = 0;
    });

    async function start(options: MetricsModuleOptions, name: AdapterName = adapter) {
      suite.running = await startApp(privacyModule({ apiKey: 'k', baseUrl: suite.collector.url, ...options }), name);
      return suite.running;
    }

    it('no canary secret leaves the server, from any location; neighbours stay intact', async () => {
      const app = await start({
        redactHeaders: ['x-session', 'X-Internal-Token'],
        redactRequestBody: ['$.card.number', '$..cvv'],
        redactResponseBody: ['$.account.iban'],
        denylist: ['ssn'],
      });
      const json = canaryJson();
      const headers = canaryHeaders();
      const query = CANARY_QUERY;
      const jsonRes = await httpRequest(`${app.url}/privacy${query}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(json),
      });
      const formRes = await httpRequest(`${app.url}/privacy`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `password=${CANARY('L')}&name=Bob&ssn=${CANARY('M')}`,
      });
      const notFound = await httpRequest(`${app.url}/nowhere?access_token=${CANARY('Q')}&lang=en`);
      const broken = await httpRequest(`${app.url}/privacy/broken-json`);
      assert.deepEqual([jsonRes.status, formRes.status, notFound.status, broken.status], [200, 200, 404, 200]);
      await app.app.get(MetricsService).flush();

      // The client got exactly what the app sent, secrets included: we only redact our copies.
      assert.ok(jsonRes.body.toString().includes(CANARY('O')));
      assert.ok(String(jsonRes.headers['set-cookie']).includes(CANARY('N')));
      // The app's own objects were not touched, even after the batch was built.
      assert.equal((seen.bodies[0] as typeof json).card.number, CANARY('I'));
      assert.equal((seen.returned[0] as { refresh_token: string }).refresh_token, CANARY('P'));

      const shipped = suite.collector.calls.map((c) => c.raw).join('\n');
      const leaks = shipped.match(/CANARY\w+x7q/g);
      assert.equal(leaks, null, `leaked: ${leaks?.join(', ')}`);
      for (const neighbour of ['hello', 'Ann', 'A1', 'EUR', 'page', 'Bob', 'fine', 'lang']) {
        assert.ok(shipped.includes(neighbour), `${neighbour} kept`);
      }

      const [jsonEntry, formEntry, notFoundEntry, brokenEntry] = suite.collector.records.map(entryOf);
      // A body labelled JSON that is not JSON cannot be proven clean: dropped with a comment, never sent raw.
      assert.equal(brokenEntry!.response.content.text, '');
      assert.match(brokenEntry!.response.content.comment ?? '', /not valid JSON, not captured/);
      assert.deepEqual(jsonEntry!.request.queryString, [
        { name: 'token', value: '[REDACTED]' },
        { name: 'TOKEN', value: '[REDACTED]' },
        { name: 'ssn', value: '[REDACTED]' },
        { name: 'page', value: '2' },
      ]);
      // A 10-character bearer token: the hash alone, no tail (see docs/redaction.md).
      assert.match(header(jsonEntry!.request.headers, 'authorization') ?? '', /^sha512-[A-Za-z0-9+/]+=*$/);
      assert.deepEqual(JSON.parse(jsonEntry!.request.postData?.text ?? ''), {
        password: '[REDACTED]',
        card: { number: '[REDACTED]', holder: 'Ann' },
        items: [{ cvv: '[REDACTED]', sku: 'A1' }],
        ssn: '[REDACTED]',
        note: 'hello',
      });
      assert.deepEqual(formEntry!.request.postData?.params, [
        { name: 'password', value: '[REDACTED]' },
        { name: 'name', value: 'Bob' },
        { name: 'ssn', value: '[REDACTED]' },
      ]);
      assert.match(notFoundEntry!.pageref ?? '', /access_token=%5BREDACTED%5D&lang=en$/);
      // Nest's 404 message echoes the URL: the echo is redacted like the URL itself.
      assert.match(
        notFoundEntry!.response.content.text ?? '',
        /Cannot GET \/nowhere\?access_token=%5BREDACTED%5D&lang=en/,
      );
      for (const record of suite.collector.records) await assertValidHar(record);
    });

    it('allowlist keeps only what it lists, everywhere', async () => {
      const app = await start({ allowlist: ['note', 'content-type', 'page'], redactDefaults: false });
      await httpRequest(`${app.url}/privacy?page=2&other=${CANARY('U')}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-custom': CANARY('V') },
        body: JSON.stringify({ note: 'hello', other: CANARY('W') }),
      });
      await app.app.get(MetricsService).flush();
      assert.equal(
        suite.collector.calls
          .map((c) => c.raw)
          .join()
          .match(/CANARY\w+x7q/g),
        null,
      );
      const entry = entryOf(suite.collector.records[0]!);
      assert.deepEqual(JSON.parse(entry.request.postData?.text ?? ''), { note: 'hello', other: '[REDACTED]' });
      assert.equal(header(entry.request.headers, 'content-type'), 'application/json');
      assert.equal(header(entry.request.headers, 'x-custom'), '[REDACTED]');
      assert.deepEqual(JSON.parse(entry.response.content.text ?? ''), {
        account: '[REDACTED]',
        refresh_token: '[REDACTED]',
        status: '[REDACTED]',
      });
    });

    it('an invalid JSONPath stops the app at startup', async () => {
      await assert.rejects(start({ redactRequestBody: ['$.user.password', '$.['] }), /"redactRequestBody\[1\]"/);
    });
  });
}
