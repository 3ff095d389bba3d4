import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Injectable, Module } from '@nestjs/common';
import { HarFileTransport, MetricsModule, MetricsService, type MetricsModuleOptions } from '../../src';
import { ADAPTERS, startApp, type AdapterName, type RunningApp } from '../support/adapters';
import { Collector } from '../support/collector';
import { assertValidHar, entryOf } from '../support/har';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { testAppModule, testGroup } from '../support/test-app';

const API_KEY = 'project-api-key';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harValidator = require('har-validator') as { har(data: unknown): Promise<unknown> };

for (const adapter of ADAPTERS) {
  describe(`options (${adapter})`, () => {
    const suite = appPerTest();

    async function start(options: MetricsModuleOptions, name: AdapterName = adapter): Promise<RunningApp> {
      suite.running = await startApp(
        testAppModule(name, { apiKey: API_KEY, baseUrl: suite.collector.url, ...options }),
        name,
      );
      return suite.running;
    }

    it('allowedHttpHosts records only listed Host headers (port dropped, case-insensitive)', async () => {
      const app = await start({ allowedHttpHosts: ['API.example.com'], bufferLength: 100 });
      for (const host of ['api.example.com:8443', 'other.example.com', 'API.EXAMPLE.COM']) {
        assert.equal((await httpRequest(`${app.url}/orders/1`, { headers: { host } })).status, 200);
      }
      await app.app.get(MetricsService).flush();
      assert.deepEqual(
        suite.collector.records.map((r) => entryOf(r).request.url),
        ['http://api.example.com:8443/orders/1', 'http://API.EXAMPLE.COM/orders/1'],
      );
    });

    it('sends when bufferLength records are queued, without waiting for the interval', async () => {
      const app = await start({ bufferLength: 3, flushInterval: 60_000 });
      for (let i = 0; i < 3; i++) await httpRequest(`${app.url}/orders/${i}`);
      await suite.collector.waitForRecords(3, 3000);
      assert.equal(suite.collector.calls.length, 1);
      assert.equal(suite.collector.calls[0]?.records.length, 3);
    });

    it('sends a partial batch after flushInterval', async () => {
      const app = await start({ bufferLength: 100, flushInterval: 150 });
      const sent = Date.now();
      await httpRequest(`${app.url}/orders/1`);
      await suite.collector.waitForRecords(1, 3000);
      const waited = Date.now() - sent;
      assert.ok(waited >= 100 && waited < 1500, `delivered after ${waited} ms`);
    });

    it('carries developmentMode, serviceVersion and tags in every record', async () => {
      const app = await start({ developmentMode: true, serviceVersion: '2.4.1', tags: ['eu', 'canary'] });
      await httpRequest(`${app.url}/orders/1`);
      await app.app.get(MetricsService).flush();
      const record = suite.collector.records[0]!;
      assert.equal(record.development, true);
      assert.equal(entryOf(record)._serviceVersion, '2.4.1');
      assert.deepEqual(entryOf(record)._tags, ['eu', 'canary']);
      await assertValidHar(record);
    });

    it('backgroundWorkerMode false: the response completes only after its record was delivered', async () => {
      let deliveredAt: number;
      suite.collector.behaviour = (_call, res) => {
        deliveredAt = performance.now();
        setTimeout(() => res.writeHead(202).end(), 200);
      };
      const app = await start({ backgroundWorkerMode: false, bufferLength: 100, flushInterval: 60_000 });
      for (const path of ['/orders/3', '/nowhere', '/orders/500', '/misc/header']) {
        deliveredAt = 0;
        const started = performance.now();
        const res = await httpRequest(app.url + path);
        assert.ok(deliveredAt > started, `${path}: record delivered while the request was open`);
        assert.ok(res.ms >= 190, `${path}: response waited for delivery (${res.ms.toFixed(0)} ms)`);
      }
      const statuses = suite.collector.records.map((r) => entryOf(r).response.status);
      assert.deepEqual(statuses, [200, 404, 500, 200]);
      const bodies = suite.collector.records.map((r) => entryOf(r).response.content.text);
      assert.equal(bodies[0], '{"id":3,"item":"book"}');
      assert.match(bodies[1] ?? '', /Cannot GET \/nowhere/);
      assert.equal(bodies[3], 'hello text');
      for (const record of suite.collector.records) await assertValidHar(record);
    });

    it('keeps serving when the collector is down, and flush() still resolves', async () => {
      const down = await Collector.start();
      const downUrl = down.url;
      await down.close();
      suite.running = await startApp(
        testAppModule(adapter, { apiKey: API_KEY, baseUrl: downUrl, bufferLength: 5, timeout: 500 }),
        adapter,
      );
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => httpRequest(`${suite.running!.url}/orders/${i}`)),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(20).fill(200),
      );
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.equal(stats.captured, 20);
      assert.equal(stats.failed, 20);
      assert.ok(stats.retried > 0);
      assert.equal(stats.sent + stats.failed + stats.dropped + stats.queued + stats.inFlight, stats.captured);
    });

    it("debug logs each captured exchange and each delivery through Nest's Logger", async () => {
      const lines: string[] = [];
      const logger = {
        log: () => undefined,
        error: () => undefined,
        warn: () => undefined,
        debug: (message: unknown, context?: string) => lines.push(`${context} ${String(message)}`),
        verbose: () => undefined,
      };
      suite.running = await startApp(
        testAppModule(adapter, { apiKey: API_KEY, baseUrl: suite.collector.url, debug: true }),
        adapter,
        undefined,
        logger,
      );
      await httpRequest(`${suite.running.url}/orders/5`);
      await suite.running.app.get(MetricsService).flush();
      assert.ok(
        lines.some((l) =>
          /^MetricsModule captured GET http:\/\/127\.0\.0\.1:\d+\/orders\/5 -> 200 \(\d+\.\d+ ms\)$/.test(l),
        ),
        lines.join('\n'),
      );
      assert.ok(
        lines.some((l) => /^MetricsModule delivered 1 records in \d+\.\d ms$/.test(l)),
        lines.join('\n'),
      );
    });

    it('a throwing group function or transport never reaches the app', async () => {
      let sendCalls = 0;
      suite.running = await startApp(
        testAppModule(adapter, {
          group: (req: { url?: string }) => {
            if (String(req.url).includes('n=13')) throw new Error('group blew up');
            return { apiKey: 'ok' };
          },
          transport: {
            send: () => {
              sendCalls++;
              throw new TypeError('transport blew up synchronously');
            },
          },
          bufferLength: 100,
        }),
        adapter,
      );
      for (const n of [12, 13, 14])
        assert.equal((await httpRequest(`${suite.running.url}/misc/header?n=${n}`)).status, 200);
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.equal(stats.captured, 2, 'the exchange whose group fn threw is not recorded');
      assert.equal(stats.failed, 2);
      assert.ok(sendCalls >= 1);
    });

    it('an async group function: resolved, rejected and null groups, each as its request finished', async () => {
      const app = await start({
        bufferLength: 100,
        group: async (req: { url?: string }) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          const n = new URL(String(req.url), 'http://x').searchParams.get('n');
          if (n === '2') throw new Error('async group blew up');
          return n === '3' ? null : { apiKey: `key-${n}`, label: `Label ${n}` };
        },
      });
      for (const n of [1, 2, 3, 4]) assert.equal((await httpRequest(`${app.url}/misc/header?n=${n}`)).status, 200);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.deepEqual(
        suite.collector.records.map((r) => [r.group.label, entryOf(r).request.url.replace(app.url, '')]),
        [
          ['Label 1', '/misc/header?n=1'],
          ['Label 4', '/misc/header?n=4'],
        ],
      );
      assert.equal(metrics.stats().captured, 2);
    });

    it('forRootAsync takes options from an injected provider', async () => {
      @Injectable()
      class MetricsConfig {
        readonly collectorUrl = suite.collector.url;
      }
      @Module({ providers: [MetricsConfig], exports: [MetricsConfig] })
      class ConfigModule {}
      @Module({
        imports: [
          MetricsModule.forRootAsync({
            imports: [ConfigModule],
            inject: [MetricsConfig],
            useFactory: (config: MetricsConfig) => ({
              apiKey: API_KEY,
              baseUrl: config.collectorUrl,
              group: testGroup,
            }),
          }),
        ],
        controllers: [testAppModule(adapter, {}).controllers![0]!],
      })
      class AsyncAppModule {}
      suite.running = await startApp(AsyncAppModule, adapter);
      await httpRequest(`${suite.running.url}/orders/1`);
      await suite.running.app.get(MetricsService).flush();
      assert.equal(suite.collector.records.length, 1);
    });

    it('HarFileTransport writes a HAR 1.2 file that is valid JSON after every flush', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'metrics-har-'));
      try {
        const path = join(dir, 'nested', 'api-metrics.har');
        suite.running = await startApp(
          testAppModule(adapter, { transport: new HarFileTransport({ path }), bufferLength: 100 }),
          adapter,
        );
        const metrics = suite.running.app.get(MetricsService);
        await httpRequest(`${suite.running.url}/orders/1`);
        await metrics.flush();
        const first = JSON.parse(await readFile(path, 'utf8'));
        assert.equal(first.log.entries.length, 1);
        await httpRequest(`${suite.running.url}/orders/2`);
        await httpRequest(`${suite.running.url}/nowhere`);
        await metrics.flush();
        const second = JSON.parse(await readFile(path, 'utf8'));
        assert.equal(second.log.version, '1.2');
        assert.deepEqual(
          second.log.entries.map((e: { response: { status: number } }) => e.response.status),
          [200, 200, 404],
        );
        assert.match(second.log.entries[0]._group.id, /^sha512-/);
        await harValidator.har(second);
      } finally {
        await suite.running?.close();
        suite.running = undefined;
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('startup validation', () => {
  const cases: [string, MetricsModuleOptions, RegExp][] = [
    ['no apiKey and no transport', {}, /no "apiKey" given.*README_API_KEY.*HarFileTransport/s],
    ['a bad bufferLength', { apiKey: 'k', bufferLength: 0 }, /"bufferLength" must be a positive whole number/],
    ['a non-function group', { apiKey: 'k', group: 'x' as never }, /"group" must be a function/],
    ['a bad baseUrl', { apiKey: 'k', baseUrl: 'ftp://x' }, /"baseUrl" must be an http\(s\) URL/],
    ['a transport without send', { transport: {} as never }, /"transport" must be an object with a send/],
  ];
  for (const [name, options, message] of cases) {
    it(`fails with a clear error for ${name}`, async () => {
      await assert.rejects(startApp(testAppModule('express', { group: undefined, ...options }), 'express'), message);
    });
  }
});
