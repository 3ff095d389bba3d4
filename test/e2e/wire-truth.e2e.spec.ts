import 'reflect-metadata';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MetricsService, type MetricsModuleOptions } from '../../src';
import { ADAPTERS } from '../support/adapters';
import { assertValidHar, entryOf } from '../support/har';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { Captured, outgoing, slowServer, start, truthModule, truthOptions } from '../support/truth-app';

/*
 * The record is what went over the wire, whatever the app does with its objects afterwards; a group function has a deadline; late outgoing calls follow the
 * request's final decision; an abandoned upload is recorded with status 0.
 */

for (const adapter of ADAPTERS) {
  describe(`the record is what went over the wire (${adapter})`, () => {
    const suite = appPerTest();
    const base = (extra?: MetricsModuleOptions) => truthOptions(suite.collector.url, extra);

    it('objects the app mutates after the response: the record shows what was sent', async () => {
      suite.running = await start(truthModule(base()), adapter);
      const sent = JSON.stringify({ name: 'ada', list: ['a'] });
      const res = await httpRequest(`${suite.running.url}/truth/mutate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: sent,
      });
      assert.equal(res.status, 200);
      await sleep(30); // the handler's setImmediate has run
      await suite.running.app.get(MetricsService).flush();
      const entry = entryOf(suite.collector.records[0]!);
      assert.equal(entry.response.content.text, res.body.toString());
      assert.deepEqual(JSON.parse(entry.response.content.text ?? ''), { state: 'as sent', items: [1, 2, 3] });
      assert.deepEqual(JSON.parse(entry.request.postData?.text ?? ''), JSON.parse(sent));
    });

    it('with a global prefix: no route warning at start, and requests outside the prefix (404) are recorded', async () => {
      const logger = new Captured();
      suite.running = await start(truthModule(base()), adapter, { prefix: 'api', logger });
      const inside = await httpRequest(`${suite.running.url}/api/truth/plain`);
      const outside = await httpRequest(`${suite.running.url}/elsewhere?x=1`);
      assert.equal(inside.status, 200);
      assert.equal(outside.status, 404);
      await sleep(20);
      await suite.running.app.get(MetricsService).flush();
      const entries = suite.collector.records.map(entryOf);
      const byPath = (p: string) => entries.find((e) => new URL(e.request.url).pathname === p);
      assert.equal(byPath('/api/truth/plain')?.response.status, 200);
      assert.equal(byPath('/api/truth/plain')?.pageref, `${suite.running.url}/api/truth/plain`);
      assert.equal(byPath('/elsewhere')?.response.status, 404);
      assert.deepEqual(
        logger.lines.filter((l) => /Unsupported route path|LegacyRouteConverter/.test(l)),
        [],
      );
    });

    it('an async group function that never settles: past `timeout` the exchange is dropped and counted, the request goes on (backgroundWorkerMode false)', async () => {
      suite.running = await start(
        truthModule(base({ backgroundWorkerMode: false, timeout: 200, group: () => new Promise(() => undefined) })),
        adapter,
      );
      const metrics = suite.running.app.get(MetricsService);
      const started = performance.now();
      const [ok, failed] = await Promise.all([
        httpRequest(`${suite.running.url}/truth/plain`),
        httpRequest(`${suite.running.url}/truth/fail`),
      ]);
      assert.equal(ok.status, 200);
      assert.equal(failed.status, 500);
      assert.ok(performance.now() - started < 3000, 'answered within the deadline');
      await metrics.flush();
      assert.equal(metrics.stats().groupTimeouts, 2);
      assert.equal(metrics.stats().captured, 0);
      assert.equal(suite.collector.records.length, 0);
    });

    it('an async group function that never settles (background mode): counted, nothing kept', async () => {
      suite.running = await start(
        truthModule(base({ timeout: 100, group: () => new Promise(() => undefined) })),
        adapter,
      );
      const metrics = suite.running.app.get(MetricsService);
      assert.equal((await httpRequest(`${suite.running.url}/truth/plain`)).status, 200);
      await sleep(250);
      await metrics.flush();
      assert.equal(metrics.stats().groupTimeouts, 1);
      assert.equal(suite.collector.records.length, 0);
    });

    it('late outgoing calls follow the final group decision of their request', async () => {
      const target = await slowServer(60);
      outgoing.target = target.url;
      try {
        suite.running = await start(
          truthModule(
            base({
              group: async (req: { headers: Record<string, string | undefined> }) => {
                await sleep(250);
                return req.headers['x-no-record'] ? null : { apiKey: 'late-key', label: 'Late Caller' };
              },
            }),
          ),
          adapter,
        );
        const metrics = suite.running.app.get(MetricsService);
        await httpRequest(`${suite.running.url}/truth/late-call`, { headers: { 'x-no-record': '1' } });
        await sleep(400);
        await metrics.flush();
        assert.equal(suite.collector.records.length, 0, 'not recorded: neither is its late call');

        await httpRequest(`${suite.running.url}/truth/late-call`);
        await sleep(400);
        await metrics.flush();
        const records = suite.collector.records;
        assert.equal(records.length, 2, 'the request and its late call');
        for (const record of records) assert.equal(record.group.label, 'Late Caller');
        assert.ok(records.some((r) => entryOf(r)._outgoing === true));
      } finally {
        target.server.close();
      }
    });

    it('an upload the client abandons mid-body is recorded with status 0', async () => {
      suite.running = await start(truthModule(base()), adapter);
      const { port } = new URL(suite.running.url);
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        'POST /truth/sink HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"',
      );
      socket.write('b'.repeat(1000));
      await sleep(100);
      socket.destroy();
      await sleep(200);
      await suite.running.app.get(MetricsService).flush();
      const entries = suite.collector.records.map(entryOf).filter((e) => e.request.url.endsWith('/truth/sink'));
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.response.status, 0);
      assert.match(entries[0]!.response.comment ?? '', /closed the connection/);
      await assertValidHar(suite.collector.records[0]!);
    });
  });
}
