import 'reflect-metadata';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { before, describe, it, type TestContext } from 'node:test';
import { MetricsService, type MetricsModuleOptions, type MetricsStats } from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { Collector, type CollectorBehaviour } from '../support/collector';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { testAppModule } from '../support/test-app';

const REQUESTS = 20;

function assertCountsAddUp(stats: MetricsStats): void {
  const { captured, sent, dropped, failed, queued, inFlight } = stats;
  assert.equal(sent + dropped + failed + queued + inFlight, captured, JSON.stringify(stats));
}

for (const adapter of ADAPTERS) {
  describe(`delivery faults (${adapter})`, () => {
    const suite = appPerTest();
    let baselineMs = 0;

    async function start(options: MetricsModuleOptions = {}, baseUrl = suite.collector.url): Promise<RunningApp> {
      suite.running = await startApp(
        testAppModule(adapter, {
          apiKey: 'k',
          baseUrl,
          bufferLength: 5,
          timeout: 150,
          // A hanging collector must not hold each test's app.close() for the default 5 s.
          shutdownTimeout: 300,
          ...options,
        }),
        adapter,
      );
      return suite.running;
    }

    /** REQUESTS requests, 8 at a time; asserts every answer is right and returns how long they took. */
    async function load(app: RunningApp): Promise<number> {
      const started = performance.now();
      for (let i = 0; i < REQUESTS; i += 5) {
        const batch = await Promise.all(Array.from({ length: 5 }, (_, j) => httpRequest(`${app.url}/orders/${i + j}`)));
        for (const [j, res] of batch.entries()) {
          assert.equal(res.status, 200);
          assert.deepEqual(JSON.parse(res.body.toString()), { id: i + j, item: 'book' });
        }
      }
      return performance.now() - started;
    }

    /** The app's answers under a fault are not slowed: generous bound against the fault-free run. */
    function assertNotSlowed(ms: number, t?: TestContext): void {
      const comparison = `${REQUESTS} requests took ${ms.toFixed(0)} ms vs ${baselineMs.toFixed(0)} ms without faults`;
      t?.diagnostic(comparison);
      assert.ok(ms < baselineMs * 3 + 250, comparison);
    }

    before(async () => {
      const app = await start();
      await load(app); // warm-up
      baselineMs = await load(app);
      await app.app.get(MetricsService).flush();
      await app.close();
      suite.running = undefined;
    });

    const failures: [string, CollectorBehaviour][] = [
      ['answers 500', (_c, res) => res.writeHead(500).end()],
      ['hangs past the timeout', () => undefined],
      ['sends a malformed reply', (_c, res) => res.socket?.end('NOT HTTP AT ALL\r\n\r\n')],
    ];
    for (const [name, behaviour] of failures) {
      it(`collector ${name}: answers stay right and fast, delivery retries then gives up, counts add up`, async (t) => {
        suite.collector.behaviour = behaviour;
        const app = await start();
        assertNotSlowed(await load(app), t);
        const metrics = app.app.get(MetricsService);
        await metrics.flush();
        const stats = metrics.stats();
        assert.equal(stats.captured, REQUESTS);
        assert.equal(stats.failed, REQUESTS);
        assert.ok(stats.retried >= REQUESTS / 5, `retried ${stats.retried}`);
        assertCountsAddUp(stats);
        t.diagnostic(JSON.stringify(stats));
      });
    }

    it('collector refusing connections: same', async () => {
      const down = await Collector.start();
      const url = down.url;
      await down.close();
      const app = await start({}, url);
      assertNotSlowed(await load(app));
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(metrics.stats().failed, REQUESTS);
      assertCountsAddUp(metrics.stats());
    });

    it('collector recovering: queued records are delivered, nothing lost', async () => {
      let failuresLeft = 3;
      suite.collector.behaviour = (_c, res) => res.writeHead(failuresLeft-- > 0 ? 503 : 202).end();
      const app = await start({ maxConcurrentRequests: 1 });
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.equal(stats.sent, REQUESTS);
      assert.equal(stats.failed, 0);
      assert.equal(stats.retried, 3);
      assert.equal(new Set(suite.collector.records.map((r) => r._id)).size, REQUESTS);
      assertCountsAddUp(stats);
    });

    it('429 honours Retry-After', async () => {
      const times: number[] = [];
      suite.collector.behaviour = (_c, res) => {
        times.push(performance.now());
        if (times.length === 1) res.writeHead(429, { 'retry-after': '1' }).end();
        else res.writeHead(202).end();
      };
      const app = await start({ bufferLength: 100 });
      await httpRequest(`${app.url}/orders/1`);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(metrics.stats().sent, 1);
      assert.equal(times.length, 2);
      assert.ok(times[1]! - times[0]! >= 950, `retried after ${(times[1]! - times[0]!).toFixed(0)} ms`);
    });

    it('401 pauses delivery after one call; the app keeps running', async () => {
      suite.collector.behaviour = (_c, res) => res.writeHead(401).end();
      const app = await start({ maxConcurrentRequests: 1 });
      assertNotSlowed(await load(app));
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(suite.collector.calls.length, 1, 'no call after the key was rejected');
      assert.equal(metrics.stats().failed, REQUESTS);
      assertCountsAddUp(metrics.stats());
    });

    it('413 splits the batch until the collector accepts it', async () => {
      suite.collector.behaviour = (call, res: ServerResponse) =>
        res.writeHead(call.records.length > 1 ? 413 : 202).end();
      const app = await start({ bufferLength: 4, flushInterval: 60_000, maxConcurrentRequests: 1 });
      await Promise.all([1, 2, 3, 4].map((i) => httpRequest(`${app.url}/orders/${i}`)));
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(metrics.stats().sent, 4);
      assert.deepEqual(
        suite.collector.calls.map((c) => c.records.length),
        [4, 2, 1, 1, 2, 1, 1],
      );
    });

    it('memory stays bounded: N >> maxQueueSize requests with the collector hanging', async (t) => {
      suite.collector.behaviour = () => undefined;
      const app = await start({ maxQueueSize: 50, maxConcurrentRequests: 1, timeout: 60_000 });
      const metrics = app.app.get(MetricsService);
      const gc = (globalThis as { gc?: () => void }).gc;
      assert.ok(gc, 'tests run with --expose-gc');
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const total = 600;
      for (let i = 0; i < total; i += 25) {
        await Promise.all(Array.from({ length: 25 }, (_, j) => httpRequest(`${app.url}/orders/${i + j}`)));
        assert.ok(metrics.stats().queued <= 50);
      }
      gc();
      const grown = process.memoryUsage().heapUsed - heapBefore;
      const stats = metrics.stats();
      assert.equal(stats.captured, total);
      assert.ok(stats.dropped >= total - 50 - 5 - 5, `dropped ${stats.dropped}`);
      assert.ok(stats.queued <= 50);
      assertCountsAddUp(stats);
      t.diagnostic(`heap grew ${(grown / 1048576).toFixed(1)} MiB over ${total} requests; ${JSON.stringify(stats)}`);
      assert.ok(grown < 20 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MiB`);
    });

    it('maxQueueBytes bounds the queue by size too', async () => {
      suite.collector.behaviour = () => undefined;
      const app = await start({ maxQueueBytes: 10 * 1024, maxConcurrentRequests: 1, timeout: 60_000 });
      for (let i = 0; i < 30; i++) await httpRequest(`${app.url}/orders/${i}`);
      const stats = app.app.get(MetricsService).stats();
      assert.ok(stats.queued <= 10, `queued ${stats.queued}`);
      assert.ok(stats.dropped > 0);
      assertCountsAddUp(stats);
    });
  });
}
