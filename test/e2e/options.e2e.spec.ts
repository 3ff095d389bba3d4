import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

    it('a group function returning no apiKey: the skips are logged with their count and reason, not once forever', async () => {
      const warnings: string[] = [];
      const logger = {
        log: () => undefined,
        error: () => undefined,
        // The test app has no shutdown hooks: that warning is shutdown-hooks.e2e.spec.ts's.
        warn: (message: unknown) => void (/^No shutdown hooks/.test(String(message)) || warnings.push(String(message))),
        debug: () => undefined,
        verbose: () => undefined,
      };
      suite.running = await startApp(
        testAppModule(adapter, {
          apiKey: API_KEY,
          baseUrl: suite.collector.url,
          // As the old README's quick start did: no x-api-key header, no apiKey.
          group: ((req: { headers: Record<string, string | undefined> }) => ({
            apiKey: req.headers['x-api-key'],
          })) as never,
        }),
        adapter,
        undefined,
        logger,
      );
      for (let i = 0; i < 3; i++) await httpRequest(`${suite.running.url}/misc/header`);
      await httpRequest(`${suite.running.url}/misc/header`, { headers: { 'x-api-key': 'k-1' } });
      await suite.running.app.get(MetricsService).flush();
      assert.equal(suite.collector.records.length, 1);
      assert.deepEqual(warnings, [
        'skipped 1 exchange: the group function returned no apiKey (return { apiKey, label?, email? }, or null to ' +
          'skip on purpose) (further skips are summed up once a minute)',
      ]);
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
        assert.ok((await stat(path)).isFile(), 'created at startup');
        assert.equal(JSON.parse(await readFile(path, 'utf8')).log.entries.length, 0);
        const metrics = suite.running.app.get(MetricsService);
        await httpRequest(`${suite.running.url}/orders/1`);
        await metrics.flush();
        const first = JSON.parse(await readFile(path, 'utf8'));
        assert.equal(first.log.entries.length, 1);
        // The file has no pages, so no entry names one; the route stays in _pageref.
        assert.deepEqual(first.log.pages, []);
        assert.equal(first.log.entries[0].pageref, undefined);
        assert.match(first.log.entries[0]._pageref, /^http:\/\/127\.0\.0\.1:\d+\/orders\/:id$/);
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

for (const adapter of ADAPTERS) {
  describe(`startup validation (${adapter})`, () => {
    const cases: [string, MetricsModuleOptions, RegExp][] = [
      ['no apiKey and no transport', {}, /no "apiKey" given.*README_API_KEY.*HarFileTransport/s],
      ['a bad bufferLength', { apiKey: 'k', bufferLength: 0 }, /"bufferLength" must be a positive whole number/],
      [
        'a number given as a string (ConfigService)',
        { apiKey: 'k', flushInterval: '500' as never },
        /"flushInterval" must be a positive whole number, got the string "500"\./,
      ],
      [
        'a boolean given as a string',
        { apiKey: 'k', debug: 'false' as never },
        /"debug" must be true or false, got the string "false"/,
      ],
      ['a non-function group', { apiKey: 'k', group: 'x' as never }, /"group" must be a function.*got the string "x"/],
      ['graphql as a string', { apiKey: 'k', graphql: 'on' as never }, /"graphql" must be false or \{ paths\?/],
      [
        'a graphql path without its slash',
        { apiKey: 'k', graphql: { paths: ['graphql'] } },
        /"graphql.paths" must be an array of paths starting with "\/"/,
      ],
      [
        'a typo in a graphql key',
        { apiKey: 'k', graphql: { introspetion: true } as never },
        /"graphql" has an unknown key "introspetion"/,
      ],
      [
        'a bad baseUrl',
        { apiKey: 'k', baseUrl: 'ftp://x' },
        /"baseUrl" must be an http\(s\) URL, got the string "ftp:\/\/x"/,
      ],
      [
        'a baseUrl ending in /v1/request',
        { apiKey: 'k', baseUrl: 'https://metrics.example.com/v1/request/' },
        /"baseUrl" is the server, without the path.*Use "https:\/\/metrics\.example\.com"/,
      ],
      ['a transport without send', { transport: {} as never }, /"transport" must be an object with a send/],
      [
        'a typo in an option name',
        { apiKey: 'k', flushInteval: 500 } as never,
        /unknown option "flushInteval"\. Did you mean "flushInterval"\?/,
      ],
      [
        'an option in the wrong case',
        { apiKey: 'k', apikey: 'x' } as never,
        /unknown option "apikey"\. Did you mean "apiKey"\?/,
      ],
      [
        'an unknown option nothing resembles',
        { apiKey: 'k', zzzzzz: 1 } as never,
        /unknown option "zzzzzz"\. Known options/,
      ],
      [
        'a bad enabled',
        { apiKey: 'k', enabled: 'yes' as never },
        /"enabled" must be true or false, got the string "yes"/,
      ],
      [
        'a sampleRate above 1',
        { apiKey: 'k', sampleRate: 10 },
        /"sampleRate" must be a number from 0 to 1, got the number 10/,
      ],
      [
        'a sampleRate as a string',
        { apiKey: 'k', sampleRate: '0.1' as never },
        /"sampleRate" must be a number from 0 to 1, got the string "0\.1"/,
      ],
      [
        'an exclude path without "/"',
        { apiKey: 'k', exclude: ['health'] },
        /"exclude\[0\]" must be a path starting with "\/"/,
      ],
      [
        'an exclude method that is none',
        { apiKey: 'k', exclude: [{ path: '/x', method: 'FETCH' }] },
        /"exclude\[0\]\.method" must be an HTTP method, got the string "FETCH"/,
      ],
      [
        'a bad captureRequestBody',
        { apiKey: 'k', captureRequestBody: 0 as never },
        /"captureRequestBody" must be true or false, got the number 0/,
      ],
      [
        'a bad captureResponseBody',
        { apiKey: 'k', captureResponseBody: null as never },
        /"captureResponseBody" must be true or false, got null/,
      ],
    ];
    for (const [name, options, message] of cases) {
      it(`fails with a clear error for ${name}`, async () => {
        await assert.rejects(startApp(testAppModule(adapter, { group: undefined, ...options }), adapter), message);
      });
    }

    it('imports: [MetricsModule] without forRoot fails with our message, not a DI error', async () => {
      @Module({ imports: [MetricsModule] })
      class BareModule {}
      await assert.rejects(startApp(BareModule, adapter), /MetricsModule was imported without options.*forRoot/s);
    });

    it('forRootAsync: useClass with createMetricsOptions(), or the older create(); a factory returning undefined', async () => {
      @Injectable()
      class Conventional {
        createMetricsOptions(): MetricsModuleOptions {
          return { enabled: false };
        }
      }
      @Injectable()
      class Older {
        create(): MetricsModuleOptions {
          return { enabled: false };
        }
      }
      for (const useClass of [Conventional, Older]) {
        @Module({ imports: [MetricsModule.forRootAsync({ useClass })] })
        class AsyncModule {}
        const running = await startApp(AsyncModule, adapter);
        assert.equal(running.app.get(MetricsService).stats().captured, 0);
        await running.close();
      }
      @Module({ imports: [MetricsModule.forRootAsync({ useFactory: () => undefined as never })] })
      class UndefinedModule {}
      await assert.rejects(
        startApp(UndefinedModule, adapter),
        /MetricsModule\.forRootAsync\(\): useFactory returned undefined; it must return the options object/,
      );
      @Module({
        imports: [MetricsModule.forRootAsync({ useFactory: () => ({ apiKey: 'k', flushInteval: 1 }) as never })],
      })
      class TypoModule {}
      await assert.rejects(startApp(TypoModule, adapter), /Did you mean "flushInterval"/);
    });

    it('a HarFileTransport path that cannot be written stops the app at startup', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'metrics-har-'));
      try {
        const file = join(dir, 'a-file');
        await writeFile(file, 'x');
        const transport = new HarFileTransport({ path: join(file, 'below-a-file.har') });
        await assert.rejects(
          startApp(testAppModule(adapter, { transport }), adapter),
          /HarFileTransport cannot write ".*below-a-file\.har": .*(ENOTDIR|EEXIST)/,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
