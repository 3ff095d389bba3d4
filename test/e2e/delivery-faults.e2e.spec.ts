import 'reflect-metadata';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import type { LoggerService } from '@nestjs/common';
import { MetricsService, type MetricsModuleOptions, type MetricsStats } from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { captureLogs } from '../support/logs';
import { Collector, type CollectorBehaviour } from '../support/collector';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { testAppModule } from '../support/test-app';

const REQUESTS = 20;

function assertCountsAddUp(stats: MetricsStats): void {
  const { captured, sent, dropped, failed, queued, inFlight } = stats;
  assert.equal(sent + dropped + failed + queued + inFlight, captured, JSON.stringify(stats));
}

/** Each `_id` the collector received, with how many times it arrived; asserts none arrived more than `most` times. */
function assertArrivedAtMost(arrivals: Map<string, number>, most: number): void {
  const over = [...arrivals].filter(([, n]) => n > most);
  assert.deepEqual(over, [], `records that arrived more than ${most} time(s)`);
}

/** Polls (bounded) until `done()` holds. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const adapter of ADAPTERS) {
  describe(`delivery faults (${adapter})`, () => {
    const suite = appPerTest();
    let baselineMs = 0;

    async function start(
      options: MetricsModuleOptions = {},
      baseUrl = suite.collector.url,
      logger: LoggerService | false = false,
    ): Promise<RunningApp> {
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
        undefined,
        logger,
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

    /** Starts the app, loads it (its answers must stay right and fast), flushes, and returns the counters. */
    async function loadAndFlush(t: TestContext): Promise<MetricsStats> {
      const app = await start();
      assertNotSlowed(await load(app), t);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      return metrics.stats();
    }

    it('collector answers 500: answers stay right and fast, delivery retries then gives up, counts add up', async (t) => {
      suite.collector.behaviour = (_c, res) => res.writeHead(500).end();
      const stats = await loadAndFlush(t);
      assert.equal(stats.captured, REQUESTS);
      assert.equal(stats.failed, REQUESTS);
      assert.equal(stats.unconfirmed, 0);
      assert.ok(stats.retried >= REQUESTS / 5, `retried ${stats.retried}`);
      assertCountsAddUp(stats);
      t.diagnostic(JSON.stringify(stats));
    });

    // The collector received each batch in full and never said what it did with it: resending could store it twice.
    const unanswered: [string, CollectorBehaviour][] = [
      ['hangs past the timeout', () => undefined],
      ['sends a malformed reply', (_c, res) => res.socket?.end('NOT HTTP AT ALL\r\n\r\n')],
    ];
    for (const [name, behaviour] of unanswered) {
      it(`collector ${name}: answers stay right and fast, each record sent once, counted unconfirmed`, async (t) => {
        suite.collector.behaviour = behaviour;
        const stats = await loadAndFlush(t);
        assert.equal(stats.captured, REQUESTS);
        assert.equal(stats.failed, REQUESTS);
        assert.equal(stats.unconfirmed, REQUESTS);
        assert.equal(stats.retried, 0);
        const arrivals = suite.collector.arrivals();
        assert.equal(arrivals.size, REQUESTS);
        assertArrivedAtMost(arrivals, 1);
        assertCountsAddUp(stats);
        t.diagnostic(JSON.stringify(stats));
      });
    }

    it('shutdown while a call on a reused connection waits for its answer: that batch is not sent again', async () => {
      let answered = 0;
      // The first call is answered (its connection is kept alive); the second, on that connection, hangs.
      suite.collector.behaviour = (_c, res) => {
        if (answered++ === 0) res.writeHead(202).end();
      };
      const app = await start({ bufferLength: 1, maxConcurrentRequests: 1, timeout: 60_000 });
      const metrics = app.app.get(MetricsService);
      await httpRequest(`${app.url}/orders/1`);
      await until(() => metrics.stats().sent === 1, 3000, 'the first record delivered');
      await httpRequest(`${app.url}/orders/2`);
      await suite.collector.waitForRecords(2);
      await app.close(); // shutdownTimeout 300 ms, then the transport closes its connections
      suite.running = undefined;
      await new Promise((resolve) => setTimeout(resolve, 1600)); // longer than every retry's backoff
      assertArrivedAtMost(suite.collector.arrivals(), 1);
      const stats = metrics.stats();
      assert.equal(stats.sent, 1);
      assert.equal(stats.unconfirmed, 1);
      assertCountsAddUp(stats);
    });

    it('collector slower than timeout: the late answer is awaited, each record arrives once and counts as sent', async (t) => {
      // Answers 202 after 350 ms, past `timeout` (200) but within the answer deadline (3 x timeout).
      suite.collector.behaviour = (_c, res) => setTimeout(() => res.writeHead(202).end(), 350);
      const app = await start({ timeout: 200 });
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      const arrivals = suite.collector.arrivals();
      t.diagnostic(`${JSON.stringify(stats)}; arrivals per _id: ${[...new Set(arrivals.values())].join(',')}`);
      assert.equal(arrivals.size, REQUESTS);
      assertArrivedAtMost(arrivals, 1);
      assert.equal(stats.sent, REQUESTS);
      assert.equal(stats.failed, 0);
      assert.equal(stats.retried, 0);
      assertCountsAddUp(stats);
    });

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

    it('401 then the key works again: probes with backoff resume delivery, nothing stuck, counts add up', async (t) => {
      let rejections = 2; // the first call and the first probe
      suite.collector.behaviour = (_c, res) => res.writeHead(rejections-- > 0 ? 401 : 202).end();
      const { logger, lines } = captureLogs();
      // First probe after 10 x max(timeout, flushInterval) = 1 s, then 2 s.
      const app = await start({ maxConcurrentRequests: 1, timeout: 100, flushInterval: 50 }, undefined, logger);
      assertNotSlowed(await load(app));
      const metrics = app.app.get(MetricsService);
      assert.equal(suite.collector.calls.length, 1, 'no call while paused');
      await until(() => metrics.stats().sent + metrics.stats().failed === REQUESTS, 8000, 'every record settled');
      const stats = metrics.stats();
      const calls = suite.collector.calls;
      t.diagnostic(
        `${JSON.stringify(stats)}; calls ${calls.map((c) => `${c.records.length}→${c.status}@${(c.receivedAt - calls[0]!.receivedAt).toFixed(0)}ms`).join(' ')}`,
      );
      const rejected = calls.filter((c) => c.status === 401).flatMap((c) => c.records);
      assert.equal(stats.failed, rejected.length);
      assert.equal(stats.sent, REQUESTS - rejected.length);
      assert.equal(stats.queued + stats.inFlight, 0);
      assertCountsAddUp(stats);
      assertArrivedAtMost(suite.collector.arrivals(), 1);
      // The probes: one small batch each, after 1 s then 2 s.
      assert.ok(calls[1]!.records.length <= 5 && calls[2]!.records.length <= 5);
      const gap1 = calls[1]!.receivedAt - calls[0]!.receivedAt;
      const gap2 = calls[2]!.receivedAt - calls[1]!.receivedAt;
      assert.ok(gap1 >= 900 && gap2 >= 1900 && gap2 > gap1 * 1.5, `probes after ${gap1} ms, ${gap2} ms`);
      const errors = lines.filter((l) => l.level === 'error').map((l) => l.message);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0]!, /rejected the API key \(HTTP 401\).* 5 records given up.*next try in 1 s/);
      assert.ok(lines.some((l) => l.level === 'warn' && /still rejected.*next try in 2 s/.test(l.message)));
      assert.equal(lines.filter((l) => /delivery resumed/.test(l.message)).length, 1);
    });

    it('backgroundWorkerMode false: while the key is rejected requests make no call; the first one past the wait probes', async () => {
      let rejections = 1;
      suite.collector.behaviour = (_c, res) => res.writeHead(rejections-- > 0 ? 401 : 202).end();
      const app = await start({ backgroundWorkerMode: false, timeout: 100, flushInterval: 50 });
      const metrics = app.app.get(MetricsService);
      for (let i = 0; i < 5; i++) assert.equal((await httpRequest(`${app.url}/orders/${i}`)).status, 200);
      assert.equal(suite.collector.calls.length, 1, 'one call, rejected; none while paused');
      assert.equal(metrics.stats().failed, 5);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the first probe's time (1 s)
      for (let i = 5; i < 8; i++) assert.equal((await httpRequest(`${app.url}/orders/${i}`)).status, 200);
      const stats = metrics.stats();
      assert.deepEqual(
        suite.collector.calls.map((c) => `${c.records.length}:${c.status}`),
        ['1:401', '1:202', '1:202', '1:202'],
      );
      assert.equal(stats.sent, 3);
      assert.equal(stats.failed, 5);
      assertCountsAddUp(stats);
    });

    it('the batch cannot be written within timeout (a proxy that never answers CONNECT): retried, never unconfirmed', async () => {
      const sockets = new Set<Socket>();
      const blackhole = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      blackhole.listen(0, '127.0.0.1');
      await once(blackhole, 'listening');
      try {
        const proxy = `http://127.0.0.1:${(blackhole.address() as AddressInfo).port}`;
        const app = await start({ proxy, bufferLength: 5, maxConcurrentRequests: 1 }, 'https://127.0.0.1:9');
        await Promise.all(Array.from({ length: 5 }, (_, i) => httpRequest(`${app.url}/orders/${i}`)));
        const metrics = app.app.get(MetricsService);
        await metrics.flush();
        const stats = metrics.stats();
        assert.equal(stats.failed, 5);
        assert.equal(stats.unconfirmed, 0);
        assert.equal(stats.retried, 3);
        assertCountsAddUp(stats);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => blackhole.close(resolve));
      }
    });

    it('while the key is rejected the queue stays bounded (drops counted) and flush() gives the rest up', async () => {
      suite.collector.behaviour = (_c, res) => res.writeHead(403).end();
      const app = await start({ maxConcurrentRequests: 1, maxQueueSize: 10, flushInterval: 60_000 });
      const metrics = app.app.get(MetricsService);
      for (let i = 0; i < 40; i += 5) {
        await Promise.all(Array.from({ length: 5 }, (_, j) => httpRequest(`${app.url}/orders/${i + j}`)));
      }
      await until(() => metrics.stats().inFlight === 0, 2000, 'the rejected call ended');
      let stats = metrics.stats();
      assert.equal(suite.collector.calls.length, 1);
      assert.equal(stats.queued, 10);
      assert.equal(stats.dropped, 40 - 10 - stats.failed);
      assertCountsAddUp(stats);
      await metrics.flush();
      stats = metrics.stats();
      assert.equal(stats.queued, 0);
      assert.equal(stats.failed + stats.dropped, 40);
      assertCountsAddUp(stats);
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
      const accepted = suite.collector.calls
        .filter((c) => c.status === 202)
        .flatMap((c) => c.records.map((r) => r._id));
      assert.deepEqual(new Set(accepted).size, 4);
      assert.equal(accepted.length, 4);
    });

    it('413 splits over hostile bodies: every record accepted once, each call exactly the JSON of its records', async () => {
      suite.collector.reset(); // the suite's warm-up calls, when this test runs first
      suite.collector.behaviour = (call, res: ServerResponse) =>
        res.writeHead(call.records.length > 1 ? 413 : 202).end();
      const app = await start({ bufferLength: 5, flushInterval: 60_000, maxConcurrentRequests: 1 });
      // Bodies that need escaping: quotes, backslashes, controls, U+2028, non-ASCII, astral.
      const bodies = Array.from({ length: 5 }, (_, i) => ({ i, text: `"q\\b\n\t\u0001\u2028é€😀 ${i}` }));
      await Promise.all(
        bodies.map((body) =>
          httpRequest(`${app.url}/misc/echo`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }),
        ),
      );
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(metrics.stats().sent, 5);
      assert.deepEqual(
        suite.collector.calls.map((c) => c.records.length),
        [5, 3, 2, 1, 1, 1, 2, 1, 1],
      );
      for (const call of suite.collector.calls) {
        // Exactly the bytes JSON.stringify(records) gives: the wire format is unchanged.
        assert.equal(call.raw, JSON.stringify(call.records));
      }
      const first = suite.collector.calls[0]?.raw ?? '';
      const accepted = suite.collector.calls.filter((c) => c.status === 202).flatMap((c) => c.records);
      assert.deepEqual(accepted.map((r) => r._id).sort(), [...new Set(accepted.map((r) => r._id))].sort());
      assert.equal(accepted.length, 5);
      // A part sent after a split carries each record exactly as the whole batch had it.
      for (const record of accepted) assert.ok(first.includes(JSON.stringify(record)), record._id);
      const echoed = accepted.map((r) => JSON.parse(r.request.log.entries[0]?.response.content.text ?? 'null'));
      assert.deepEqual(
        echoed.sort((a, b) => a.i - b.i),
        bodies,
      );
    });

    it('a split batch: parts the collector accepted are never sent again, even when a later part is retried', async () => {
      let failedOnce = false;
      suite.collector.behaviour = (call, res: ServerResponse) => {
        if (call.records.length > 2) return res.writeHead(400).end();
        // The second half fails once with 503 and is retried alone.
        if (call.records.length === 2 && suite.collector.calls.length > 2 && !failedOnce) {
          failedOnce = true;
          return res.writeHead(503).end();
        }
        res.writeHead(202).end();
      };
      const app = await start({ bufferLength: 4, flushInterval: 60_000, maxConcurrentRequests: 1 });
      await Promise.all([1, 2, 3, 4].map((i) => httpRequest(`${app.url}/orders/${i}`)));
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(metrics.stats().sent, 4);
      assert.equal(metrics.stats().retried, 1);
      assert.deepEqual(
        suite.collector.calls.map((c) => `${c.records.length}:${c.status}`),
        ['4:400', '2:202', '2:503', '2:202'],
      );
      // No call after a record's acceptance carries that record again.
      const accepted = new Set<string>();
      for (const call of suite.collector.calls) {
        for (const record of call.records)
          assert.ok(!accepted.has(record._id), `${record._id} sent after it was accepted`);
        if (call.status === 202) for (const record of call.records) accepted.add(record._id);
      }
      assert.equal(accepted.size, 4);
    });

    for (const [bound, options] of [
      ['maxQueueBytes', { maxQueueBytes: 10 * 1024 }],
      ['maxQueueSize', { maxQueueSize: 5 }],
    ] as const) {
      it(`queue full by ${bound}: the warnings name it, and their counts add up to stats().dropped`, async (t) => {
        suite.collector.behaviour = () => undefined;
        const { logger, lines } = captureLogs();
        const app = await start({ ...options, maxConcurrentRequests: 1, timeout: 60_000 }, undefined, logger);
        const metrics = app.app.get(MetricsService);
        for (let i = 0; i < 60; i += 5) {
          await Promise.all(Array.from({ length: 5 }, (_, j) => httpRequest(`${app.url}/orders/${i + j}`)));
        }
        // The first drop is reported at once; the rest of the quiet minute at shutdown at the latest.
        await app.close();
        suite.running = undefined;
        const warnings = lines.filter((l) => l.level === 'warn' && l.message.startsWith('Metrics queue full'));
        t.diagnostic(warnings.map((w) => w.message).join('\n'));
        const stats = metrics.stats();
        assert.ok(stats.dropped > 40, `dropped ${stats.dropped}`);
        assert.ok(warnings.length >= 2);
        const other = bound === 'maxQueueSize' ? 'maxQueueBytes' : 'maxQueueSize';
        for (const w of warnings) {
          assert.ok(w.message.includes(bound) && !w.message.includes(other), w.message);
        }
        const logged = warnings.reduce((sum, w) => sum + Number(/dropped (\d+) oldest/.exec(w.message)?.[1]), 0);
        assert.equal(logged, stats.dropped);
      });
    }

    it('drops in a quiet minute are reported when the minute ends, no further drop or shutdown needed', async (t) => {
      suite.collector.behaviour = () => undefined;
      const { logger, lines } = captureLogs();
      const app = await start({ maxQueueSize: 5, maxConcurrentRequests: 1, timeout: 60_000 }, undefined, logger);
      const metrics = app.app.get(MetricsService);
      const warnings = () => lines.filter((l) => l.level === 'warn' && l.message.startsWith('Metrics queue full'));
      // 5 in flight (the collector hangs), 5 queued, the 11th drops one: reported at once.
      for (let i = 0; i < 11; i++) await httpRequest(`${app.url}/orders/${i}`);
      await until(() => warnings().length === 1, 2000, 'the first warning');
      assert.equal(metrics.stats().dropped, 1);
      // 59 s of the quiet minute pass (Date only; timers stay real), then more drops.
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        t.mock.timers.tick(59_000);
        for (let i = 11; i < 20; i++) await httpRequest(`${app.url}/orders/${i}`);
        await until(() => warnings().length === 2, 3000, 'the end-of-minute warning');
      } finally {
        t.mock.timers.reset();
      }
      const stats = metrics.stats();
      assert.equal(stats.dropped, 10);
      const counts = warnings().map((w) => Number(/dropped (\d+) oldest/.exec(w.message)?.[1]));
      assert.deepEqual(counts, [1, 9]);
      assert.match(
        warnings()[1]!.message,
        /^Metrics queue full \(maxQueueSize = 5 records\): dropped 9 oldest records in the last 59(\.\d)? s; 10 dropped in all\.$/,
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
