import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { MetricsService, type MetricsRecord } from '../../src';
import { linkedExchangeCount } from '../../src/capture/request-context';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { Collector } from '../support/collector';
import { assertValidHar, entryOf, header } from '../support/har';
import { allowJsonVariantsAndText, supportsMultipart, testAppModule } from '../support/test-app';

const API_KEY = 'project-api-key';

function masked(key: string): string {
  return `sha512-${createHash('sha512').update(key).digest('base64')}?${key.slice(-4)}`;
}

for (const adapter of ADAPTERS) {
  describe(`capture (${adapter})`, () => {
    let collector: Collector;
    let running: RunningApp;
    let metrics: MetricsService;

    before(async () => {
      collector = await Collector.start();
      running = await startApp(
        testAppModule(adapter, { apiKey: API_KEY, baseUrl: collector.url, bufferLength: 50, flushInterval: 60_000 }),
        adapter,
        (app) => {
          allowJsonVariantsAndText(app, adapter);
        },
      );
      metrics = running.app.get(MetricsService);
    });

    after(async () => {
      await running?.close();
      await collector?.close();
    });

    /** Sends requests, flushes, and returns the records that arrived for them. */
    async function exchange(
      requests: [string, RequestInit?][],
    ): Promise<{ responses: Response[]; records: MetricsRecord[] }> {
      collector.reset();
      const responses: Response[] = [];
      for (const [path, init] of requests) {
        const res = await fetch(running.url + path, { redirect: 'manual', ...init });
        await res.arrayBuffer();
        responses.push(res);
      }
      await new Promise((r) => setTimeout(r, 20)); // let 'close' fire for the last response
      await metrics.flush();
      return { responses, records: collector.records };
    }

    it('ships a ReadMe record for a request: path, auth, array body, masked group, valid HAR', async () => {
      const { responses, records } = await exchange([['/orders/7?expand=items', { headers: { 'x-api-key': 'k1' } }]]);
      assert.equal(responses[0]?.status, 200);
      assert.equal(records.length, 1);
      const call = collector.calls[0]!;
      assert.equal(call.method, 'POST');
      assert.equal(call.path, '/v1/request');
      assert.equal(call.headers.authorization, `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}`);
      assert.match(String(call.headers['content-type']), /^application\/json/);
      assert.ok(Array.isArray(JSON.parse(call.raw)));
      const record = records[0]!;
      assert.match(record._id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(record._version, 3);
      assert.deepEqual(record.group, { id: masked('controller-key'), label: 'Controller' });
      assert.equal(record.development, false);
      assert.match(record.clientIPAddress, /127\.0\.0\.1/);
      assert.equal(record.request.log.version, '1.2');
      assert.equal(record.request.log.creator.name, 'readme-metrics (node)');
      assert.match(record.request.log.creator.comment ?? '', /nestjs-api-metrics/);
      const entry = entryOf(record);
      assert.equal(entry.pageref, `${running.url}/orders/:id`);
      assert.equal(entry.request.url, `${running.url}/orders/7?expand=items`);
      assert.equal(entry.request.method, 'GET');
      assert.equal(entry.request.httpVersion, 'HTTP/1.1');
      assert.deepEqual(entry.request.queryString, [{ name: 'expand', value: 'items' }]);
      assert.equal(entry.request.postData, undefined);
      assert.equal(entry.response.status, 200);
      assert.equal(entry.response.statusText, 'OK');
      assert.deepEqual(JSON.parse(entry.response.content.text ?? ''), { id: 7, item: 'book' });
      assert.match(entry.response.content.mimeType, /application\/json/);
      assert.equal(entry.response.content.size, Buffer.byteLength('{"id":7,"item":"book"}'));
      assert.match(header(entry.response.headers, 'content-type') ?? '', /application\/json/);
      assert.ok(entry.time > 0 && entry.time < 5000);
      assert.ok(Math.abs(Date.parse(entry.startedDateTime) - Date.now()) < 10_000);
      await assertValidHar(record);
    });

    it('records every status class exactly once', async () => {
      const requests: [string, RequestInit?][] = [
        ['/nowhere'],
        ['/orders/1/secure'],
        ['/orders/1/secure', { headers: { 'x-api-key': 'good-key' } }],
        ['/orders/abc'],
        ['/orders/500'],
        ['/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' }],
        ['/misc/redirect'],
        ['/misc/header'],
      ];
      const { responses, records } = await exchange(requests);
      assert.deepEqual(
        responses.map((r) => r.status),
        [404, 401, 200, 400, 500, 202, 302, 200],
      );
      // The 401 has no group (its group fn returns null without a user): it is not recorded.
      assert.equal(records.length, requests.length - 1);
      const byStatus = new Map(records.map((r) => [entryOf(r).response.status, entryOf(r)]));
      assert.deepEqual([...byStatus.keys()].sort(), [200, 202, 302, 400, 404, 500]);
      assert.equal(records.filter((r) => entryOf(r).response.status === 200).length, 2);

      const notFound = byStatus.get(404)!;
      assert.equal(notFound.pageref, `${running.url}/nowhere`);
      assert.equal(JSON.parse(notFound.response.content.text ?? '').statusCode, 404);
      const badPipe = byStatus.get(400)!;
      assert.equal(badPipe.pageref, `${running.url}/orders/:id`);
      assert.match(badPipe.response.content.text ?? '', /numeric string is expected/);
      const failed = byStatus.get(500)!;
      assert.deepEqual(JSON.parse(failed.response.content.text ?? ''), {
        statusCode: 500,
        message: 'Internal server error',
      });
      const created = byStatus.get(202)!;
      assert.equal(created.request.postData?.text, '{"a":1}');
      assert.equal(created.response.content.text, '{"created":{"a":1}}');
      const redirect = byStatus.get(302)!;
      assert.equal(redirect.response.redirectURL, 'https://example.com/target');
      const custom = records.map(entryOf).find((e) => e.request.url.endsWith('/misc/header'))!;
      assert.equal(header(custom.response.headers, 'x-custom'), 'yes');
      assert.equal(custom.response.content.text, 'hello text');
      for (const record of records) await assertValidHar(record);
    });

    it('applies group precedence handler > controller > global, skips @SkipMetrics and null groups', async () => {
      const { records } = await exchange([
        ['/orders/1/handler-group', { headers: { 'x-email': 'h@example.com' } }],
        ['/orders/1'],
        ['/misc/header', { headers: { 'x-api-key': 'global-key' } }],
        ['/orders/skip/me'],
        ['/misc/header', { headers: { 'x-no-record': '1' } }],
        ['/orders/1/secure', { headers: { 'x-api-key': 'good-key' } }],
      ]);
      assert.deepEqual(
        records.map((r) => r.group),
        [
          { id: masked('handler-key'), label: 'Handler', email: 'h@example.com' },
          { id: masked('controller-key'), label: 'Controller' },
          { id: masked('global-key'), label: 'Acme', email: 'dev@acme.io' },
          { id: masked('user-key-1234'), label: 'Good User' },
        ],
      );
    });

    it('records bodies: JSON, +json, text, urlencoded, binary responses', async () => {
      const { responses, records } = await exchange([
        [
          '/misc/echo',
          { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":[1,2],"y":"z"}' },
        ],
        ['/misc/echo', { method: 'POST', headers: { 'content-type': 'application/vnd.api+json' }, body: '{"v":1}' }],
        ['/misc/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'plain words' }],
        [
          '/misc/echo',
          { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two' },
        ],
        ['/misc/binary'],
      ]);
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 200, 200, 200, 200],
      );
      const entries = records.map(entryOf);
      assert.equal(entries[0]!.request.postData?.text, '{"x":[1,2],"y":"z"}');
      assert.equal(entries[0]!.request.postData?.mimeType, 'application/json');
      assert.equal(entries[1]!.request.postData?.text, '{"v":1}');
      assert.equal(entries[2]!.request.postData?.text, 'plain words');
      assert.deepEqual(entries[3]!.request.postData?.params, [
        { name: 'a', value: '1' },
        { name: 'b', value: 'two' },
      ]);
      const binary = entries[4]!.response.content;
      if (adapter === 'fastify') {
        assert.equal(binary.encoding, 'base64');
        assert.match(binary.mimeType, /^image\/png/);
        assert.equal(Buffer.from(binary.text ?? '', 'base64').toString('hex'), '89504e470d0a1a0a00fffe');
      } else {
        // Nest's Express adapter sends a returned Buffer through res.json(): the record shows the bytes sent (as
        // base64: the answer claims to be image/png).
        assert.equal(binary.encoding, 'base64');
        assert.match(Buffer.from(binary.text ?? '', 'base64').toString(), /^\{"type":"Buffer","data":\[137,80,78,71/);
      }
      for (const record of records) await assertValidHar(record);
    });

    it(
      'records multipart fields, and file parts as name, fileName and contentType',
      // NestJS 11 has no Fastify upload interceptor (@nestjs/platform-fastify/multipart is new in 12).
      { skip: !supportsMultipart(adapter) && 'no upload interceptor for this platform in this NestJS version' },
      async () => {
        const form = new FormData();
        form.append('title', 'hello');
        form.append('doc', new Blob([Buffer.from('file-bytes')], { type: 'text/plain' }), 'notes.txt');
        const { responses, records } = await exchange([['/upload', { method: 'POST', body: form }]]);
        assert.equal(responses[0]?.status, 200);
        const entries = records.map(entryOf);
        const multipart = entries[0]!.request.postData!;
        assert.match(multipart.mimeType, /^multipart\/form-data/);
        assert.deepEqual(multipart.params, [
          { name: 'title', value: 'hello' },
          { name: 'doc', fileName: 'notes.txt', contentType: 'text/plain' },
        ]);
        await assertValidHar(records[0]!);
      },
    );

    it('records a request the client aborted, once, with status 0', async () => {
      collector.reset();
      const req = request(`${running.url}/misc/slow`);
      req.on('error', () => undefined);
      req.end();
      await new Promise((r) => setTimeout(r, 50));
      req.destroy();
      await new Promise((r) => setTimeout(r, 400)); // the handler finishes after the client left
      await metrics.flush();
      const aborted = collector.records.map(entryOf).filter((e) => e.request.url.endsWith('/misc/slow'));
      assert.equal(aborted.length, 1);
      assert.equal(aborted[0]!.response.status, 0);
      assert.match(aborted[0]!.response.comment ?? '', /closed the connection/);
      await assertValidHar(collector.records[0]!);
    });

    it('holds no exchange once its response closed, whatever ended it (aborts, late filters, 404s, errors)', async () => {
      collector.reset();
      const aborts = ['/misc/slow', '/misc/slow-fail', '/misc/slow', '/misc/slow-fail'].map((path) => {
        const req = request(`${running.url}${path}`);
        req.on('error', () => undefined);
        req.end();
        return req;
      });
      const answered = ['/orders/1', '/nope', '/misc/slow-fail'].map((path) =>
        fetch(running.url + path).then((res) => res.arrayBuffer()),
      );
      await new Promise((r) => setTimeout(r, 50));
      for (const req of aborts) req.destroy();
      await Promise.all(answered);
      await new Promise((r) => setTimeout(r, 400)); // the aborted handlers answer (or throw) after the client left
      assert.equal(linkedExchangeCount(), 0, 'every exchange was unlinked when its response closed');
      await metrics.flush();
      const urls = collector.records.map((r) => entryOf(r).request.url.replace(running.url, ''));
      assert.deepEqual(
        urls.sort(),
        [
          ...aborts.map((_, i) => (i % 2 ? '/misc/slow-fail' : '/misc/slow')),
          '/misc/slow-fail',
          '/nope',
          '/orders/1',
        ].sort(),
      );
      const statuses = collector.records.map((r) => entryOf(r).response.status).sort();
      assert.deepEqual(statuses, [0, 0, 0, 0, 200, 404, 503]);
    });
  });
}
