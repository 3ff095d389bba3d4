import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsOptionsError, MetricsService, type MetricsModuleOptions } from '../../src';
import { resolveMetricsOptions } from '../../src/metrics.options';
import { ADAPTERS, startApp, type AdapterName } from '../support/adapters';
import { entryOf, header } from '../support/har';
import { httpRequest, type SimpleResponse } from '../support/http';
import { appPerTest, type AppPerTestSuite } from '../support/suite';
import { testAppModule } from '../support/test-app';

const BASE = 'https://example.readme.io';

async function start(
  suite: AppPerTestSuite,
  adapter: AdapterName,
  options: MetricsModuleOptions = {},
): Promise<string> {
  suite.running = await startApp(
    testAppModule(adapter, { apiKey: 'k', baseUrl: suite.collector.url, baseLogUrl: BASE, ...options }),
    adapter,
  );
  return suite.running.url;
}

const linkOf = (res: SimpleResponse) => res.headers['x-documentation-url'] as string | undefined;

for (const adapter of ADAPTERS) {
  describe(`baseLogUrl: x-documentation-url (${adapter})`, () => {
    const suite = appPerTest();

    it('links each recorded response to the _id of the record that arrives, and the record carries the header too', async () => {
      const url = await start(suite, adapter);
      const responses = [
        await httpRequest(`${url}/orders/1`),
        await httpRequest(`${url}/misc/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"a":1}',
        }),
        await httpRequest(`${url}/orders/500`), // a handler error: recorded too
        await httpRequest(`${url}/orders/abc`), // a pipe's 400
      ];
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 200, 500, 400],
      );
      await suite.running!.app.get(MetricsService).flush();
      const records = await suite.collector.waitForRecords(4);
      assert.equal(records.length, 4);
      for (const res of responses) {
        const link = linkOf(res);
        assert.ok(link, `status ${res.status} has the header`);
        const id = new RegExp(`^${BASE.replace(/\./g, '\\.')}/logs/([0-9a-f-]{36})$`).exec(link)?.[1];
        assert.ok(id, link);
        const record = records.find((r) => r._id === id);
        assert.ok(record, `a record with _id ${id} arrived`);
        assert.equal(entryOf(record).response.status, res.status);
        assert.equal(header(entryOf(record).response.headers, 'x-documentation-url'), link, 'as sent on the wire');
      }
    });

    it('no header on @SkipMetrics(), excluded, 404 and sampled-out requests, nor without baseLogUrl', async () => {
      let url = await start(suite, adapter, { exclude: ['/misc/*'] });
      const skipped = await httpRequest(`${url}/orders/skip/me`);
      const excluded = await httpRequest(`${url}/misc/header`);
      const unknown = await httpRequest(`${url}/no/such/route`);
      assert.equal(skipped.status, 200);
      assert.equal(excluded.status, 200);
      assert.equal(unknown.status, 404);
      assert.equal(linkOf(skipped), undefined);
      assert.equal(linkOf(excluded), undefined);
      assert.equal(linkOf(unknown), undefined);
      await suite.running!.close();

      url = await start(suite, adapter, { sampleRate: 0 });
      const sampledOut = await httpRequest(`${url}/orders/2`);
      assert.equal(sampledOut.status, 200);
      assert.equal(linkOf(sampledOut), undefined);
      await suite.running!.close();

      suite.running = await startApp(testAppModule(adapter, { apiKey: 'k', baseUrl: suite.collector.url }), adapter);
      assert.equal(linkOf(await httpRequest(`${suite.running.url}/orders/3`)), undefined);
      await suite.running.app.get(MetricsService).flush();
      // Recorded: the 404 (not linked: no route, so no handler to read the rules of) and the last app's request.
      const paths = suite.collector.records.map((r) => new URL(entryOf(r).request.url).pathname).sort();
      assert.deepEqual(paths, ['/no/such/route', '/orders/3']);
    });

    it('with sampling, the responses with a link are exactly the records sent', async () => {
      const url = await start(suite, adapter, { sampleRate: 0.5 });
      const links: string[] = [];
      for (let i = 0; i < 40; i++) {
        const link = linkOf(await httpRequest(`${url}/orders/${i + 1}`));
        if (link) links.push(link.slice(`${BASE}/logs/`.length));
      }
      await suite.running!.app.get(MetricsService).flush();
      const ids = suite.collector.records.map((r) => r._id);
      assert.ok(links.length > 0 && links.length < 40, `${links.length} of 40 linked`);
      assert.deepEqual([...ids].sort(), [...links].sort());
    });
  });
}

describe('baseLogUrl validation', () => {
  it('takes an http(s) URL, trailing slash dropped', () => {
    assert.equal(
      resolveMetricsOptions({ apiKey: 'k', baseLogUrl: 'https://x.readme.io/' }).baseLogUrl,
      'https://x.readme.io',
    );
    assert.equal(
      resolveMetricsOptions({ apiKey: 'k', baseLogUrl: 'http://localhost:3000/p' }).baseLogUrl,
      'http://localhost:3000/p',
    );
    assert.equal(resolveMetricsOptions({ apiKey: 'k' }).baseLogUrl, undefined);
  });

  for (const bad of [
    'example.readme.io',
    'ftp://x.io',
    'https://x.io/?q=1',
    'https://x.io/#a',
    'https://u:p@x.io',
    '',
    42,
  ]) {
    it(`rejects ${JSON.stringify(bad)} with a MetricsOptionsError naming the option`, () => {
      assert.throws(
        () => resolveMetricsOptions({ apiKey: 'k', baseLogUrl: bad as string }),
        (error: unknown) => error instanceof MetricsOptionsError && /"baseLogUrl" must be/.test(error.message),
      );
    });
  }
});
