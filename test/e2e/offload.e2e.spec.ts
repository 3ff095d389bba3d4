import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoggerService } from '@nestjs/common';
import {
  HarFileTransport,
  MetricsService,
  OtlpTransport,
  type MetricsModuleOptions,
  type MetricsRecord,
  type MetricsStats,
} from '../../src';
import { RECORD_SINK } from '../../src/interfaces/record-sink.interface';
import { METRICS_TRANSPORT } from '../../src/metrics.constants';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { captureLogs } from '../support/logs';
import { assertValidHar, entryOf } from '../support/har';
import { httpRequest } from '../support/http';
import { otlpAppModule, otlpTargets } from '../support/otlp-app';
import { receiverPerTest } from '../support/otlp-receiver';
import { Collector } from '../support/collector';
import { appPerTest } from '../support/suite';
import { allowJsonVariantsAndText, testAppModule } from '../support/test-app';

/*
 * offload: 'worker' — formatting, redaction and delivery in a worker thread. The same app and collector as the other
 * suites; what arrives must be what arrives without offload, and every fault stays away from the app.
 */

const CANARIES = ['pw-canary-1', 'hdr-canary-2', 'qs-canary-3', 'deny-canary-4', 'echo-canary-5'];

/** `captured = sent + failed + dropped + queued + inFlight`, always. */
function assertAddsUp(stats: MetricsStats): void {
  const { captured, sent, failed, dropped, queued, inFlight } = stats;
  assert.equal(captured, sent + failed + dropped + queued + inFlight, JSON.stringify(stats));
}

/** Requests with secrets in every place a client can put one. */
async function hostileTraffic(url: string): Promise<void> {
  const answers = await Promise.all([
    httpRequest(`${url}/orders/1?token=qs-canary-3&page=2`, {
      headers: { authorization: 'Bearer hdr-canary-2', 'x-secret': 'deny-canary-4', 'x-api-key': 'caller-1' },
    }),
    httpRequest(`${url}/misc/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'caller-2' },
      body: JSON.stringify({ user: { name: 'Ada', password: 'pw-canary-1' }, note: 'echo-canary-5', n: [1, 2] }),
    }),
    httpRequest(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'password=pw-canary-1&item=book',
    }),
    httpRequest(`${url}/misc/header`),
    httpRequest(`${url}/misc/binary`),
    httpRequest(`${url}/orders/500`),
    httpRequest(`${url}/nowhere?token=qs-canary-3`),
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 202, 200, 200, 500, 404],
  );
}

/** A record with what differs from run to run blanked: ids, times, the app's port, dates. */
function normalized(record: MetricsRecord, url: string): unknown {
  const origin = new URL(url).host;
  const copy = JSON.parse(JSON.stringify(record).split(origin).join('APP')) as MetricsRecord;
  copy._id = 'ID';
  for (const entry of copy.request.log.entries) {
    entry.startedDateTime = 'T';
    entry.time = 0;
    entry.timings = { send: 0, wait: 0, receive: 0 };
    for (const h of entry.response.headers) if (/^(date|etag)$/i.test(h.name)) h.value = 'X';
    for (const error of (entry._errors ?? []) as { when: string }[]) error.when = 'T';
  }
  return copy;
}

function sortKey(record: MetricsRecord): string {
  const entry = entryOf(record);
  return `${entry.request.method} ${entry.request.url} ${entry.request.postData?.text ?? ''}`;
}

for (const adapter of ADAPTERS) {
  describe(`offload: 'worker' (${adapter})`, () => {
    const suite = appPerTest();
    const options = (extra: MetricsModuleOptions = {}): MetricsModuleOptions => ({
      apiKey: 'project-key',
      baseUrl: suite.collector.url,
      denylist: ['x-secret'],
      redactRequestBody: ['$.note'],
      redactResponseBody: ['$.note'],
      bufferLength: 100,
      flushInterval: 60_000,
      offload: 'worker',
      ...extra,
    });
    const start = (extra?: MetricsModuleOptions, logger?: LoggerService): Promise<RunningApp> =>
      startApp(
        testAppModule(adapter, options(extra)),
        adapter,
        (app) => allowJsonVariantsAndText(app, adapter),
        logger,
      );

    it('the collector gets the same records as without offload, secrets redacted, HAR valid', async () => {
      const runs: Record<string, { records: MetricsRecord[]; url: string; raw: string }> = {};
      for (const offload of [false, 'worker'] as const) {
        suite.running = await start({ offload });
        // With offload the worker builds the ReadMe transport from the options: none on the main thread.
        const transport: unknown = suite.running.app.get(METRICS_TRANSPORT);
        assert.equal(transport === undefined, offload === 'worker');
        await hostileTraffic(suite.running.url);
        await suite.running.app.get(MetricsService).flush();
        const stats = suite.running.app.get(MetricsService).stats();
        assert.equal(stats.sent, 7, JSON.stringify(stats));
        runs[String(offload)] = {
          records: [...suite.collector.records],
          url: suite.running.url,
          raw: suite.collector.calls.map((c) => c.raw).join('\n'),
        };
        await suite.running.close();
        suite.running = undefined;
        suite.collector.reset();
      }
      const inProcess = runs['false']!;
      const offloaded = runs['worker']!;
      for (const canary of CANARIES) assert.ok(!offloaded.raw.includes(canary), `${canary} left the server`);
      for (const record of offloaded.records) await assertValidHar(record);
      const norm = (run: typeof inProcess) =>
        run.records.sort((a, b) => sortKey(a).localeCompare(sortKey(b))).map((r) => normalized(r, run.url));
      assert.deepEqual(norm(offloaded), norm(inProcess));
    });

    it('stats() add up under load, and flush() leaves everything sent', async () => {
      suite.running = await start({ bufferLength: 5, flushInterval: 30 });
      const metrics = suite.running.app.get(MetricsService);
      const seen: MetricsStats[] = [];
      const sampler = setInterval(() => seen.push(metrics.stats()), 2);
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => httpRequest(`${suite.running!.url}/orders/${i}`)));
      }
      await metrics.flush();
      clearInterval(sampler);
      seen.forEach(assertAddsUp);
      const stats = metrics.stats();
      assert.deepEqual(
        { captured: stats.captured, sent: stats.sent, queued: stats.queued, inFlight: stats.inFlight },
        { captured: 100, sent: 100, queued: 0, inFlight: 0 },
      );
      assert.equal(suite.collector.records.length, 100);
      assert.equal(new Set(suite.collector.records.map((r) => r._id)).size, 100);
    });

    it('app.close() delivers what is still buffered on the main thread and in the worker', async () => {
      suite.running = await start({ bufferLength: 1000, flushInterval: 60_000 });
      for (let i = 0; i < 12; i++) await httpRequest(`${suite.running.url}/orders/${i}`);
      await suite.running.close();
      suite.running = undefined;
      assert.equal(suite.collector.records.length, 12);
    });

    it('backgroundWorkerMode false: the record has arrived when the response does', async () => {
      suite.running = await start({ backgroundWorkerMode: false });
      const res = await httpRequest(`${suite.running.url}/orders/7`);
      assert.equal(res.status, 200);
      assert.equal(suite.collector.records.length, 1);
      const stats = suite.running.app.get(MetricsService).stats();
      assert.equal(stats.sent, 1, JSON.stringify(stats));
    });

    it('maxQueueSize counts both threads: with a hanging collector the excess is dropped and counted', async () => {
      suite.collector.behaviour = () => undefined; // never answers
      const maxQueueSize = 20;
      suite.running = await start({
        maxQueueSize,
        bufferLength: 5,
        flushInterval: 20,
        maxConcurrentRequests: 1,
        timeout: 60_000,
        shutdownTimeout: 200,
      });
      const metrics = suite.running.app.get(MetricsService);
      for (let round = 0; round < 6; round++) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => httpRequest(`${suite.running!.url}/orders/${i}`)));
        const stats = metrics.stats();
        assertAddsUp(stats);
        assert.ok(stats.queued <= maxQueueSize, `queued ${stats.queued} > maxQueueSize: ${JSON.stringify(stats)}`);
        await sleep(30);
      }
      const stats = metrics.stats();
      assert.equal(stats.captured, 120);
      assert.ok(stats.dropped >= 120 - maxQueueSize - 5, JSON.stringify(stats));
    });

    it('maxQueueBytes counts both threads: big bodies and a hanging collector stay within the bound', async () => {
      suite.collector.behaviour = () => undefined;
      const maxQueueBytes = 1024 * 1024;
      const maxBodyBytes = 64 * 1024;
      suite.running = await start({
        maxQueueBytes,
        maxBodyBytes,
        bufferLength: 2,
        flushInterval: 20,
        maxConcurrentRequests: 1,
        timeout: 60_000,
        shutdownTimeout: 200,
      });
      const metrics = suite.running.app.get(MetricsService);
      const body = JSON.stringify({ blob: 'b'.repeat(90 * 1024) }); // under Express's 100 KB body limit
      // A record written for ReadMe holds its two bodies cut to 64 KiB, one byte a character (UTF-8): ~128 KiB, and
      // twice that while in flight (the record and the batch's body). A record waiting on the main thread, not yet
      // written, counts ~257 KiB (its strings, 2 bytes a character). So at most 7 fit in 1 MiB, whatever the mix.
      const MOST_HELD = 7;
      // Five at a time: records pile up on the main thread before a batch goes, and count there too.
      for (let round = 0; round < 4; round++) {
        const answers = await Promise.all(
          Array.from({ length: 5 }, () =>
            httpRequest(`${suite.running!.url}/misc/echo`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            }),
          ),
        );
        assert.deepEqual(
          answers.map((a) => a.status),
          [200, 200, 200, 200, 200],
        );
        const stats = metrics.stats();
        assertAddsUp(stats);
        assert.ok(stats.queued + stats.inFlight <= MOST_HELD, JSON.stringify(stats));
      }
      await sleep(100);
      const stats = metrics.stats();
      assert.ok(stats.queued + stats.inFlight <= MOST_HELD, JSON.stringify(stats));
      assert.ok(stats.dropped >= 20 - MOST_HELD, JSON.stringify(stats));
      assertAddsUp(stats);
    });

    it('a collector that kills every socket never reaches the app; records are counted failed', async () => {
      suite.collector.behaviour = (call, res) => res.socket?.destroy();
      const { logger, lines } = captureLogs();
      suite.running = await start({ bufferLength: 2, flushInterval: 20, timeout: 200 }, logger);
      for (let i = 0; i < 6; i++) {
        const res = await httpRequest(`${suite.running.url}/orders/${i}`);
        assert.equal(res.status, 200);
      }
      await suite.running.app.get(MetricsService).flush();
      const stats = suite.running.app.get(MetricsService).stats();
      assert.equal(stats.captured, 6);
      assert.equal(stats.failed, 6, JSON.stringify(stats));
      assertAddsUp(stats);
      // The worker's log lines reach the app's Nest logger.
      assert.ok(
        lines.some((l) => l.level === 'error' && /dropped|did not answer/i.test(l.message)),
        JSON.stringify(lines),
      );
    });

    it('a collector nothing listens on: requests unharmed, records counted failed after the retries', async () => {
      const closed = createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const { port } = closed.address() as AddressInfo;
      await new Promise((resolve) => closed.close(resolve));
      suite.running = await start({ baseUrl: `http://127.0.0.1:${port}`, bufferLength: 3, timeout: 200 });
      const answers = await Promise.all(
        Array.from({ length: 3 }, (_, i) => httpRequest(`${suite.running!.url}/orders/${i}`)),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200],
      );
      await suite.running.app.get(MetricsService).flush();
      const stats = suite.running.app.get(MetricsService).stats();
      assert.equal(stats.failed, 3, JSON.stringify(stats));
      assert.ok(stats.retried >= 1, JSON.stringify(stats));
      assertAddsUp(stats);
    });

    it('a worker that dies is logged once; the app keeps answering and later records count as failed', async () => {
      const { logger, lines } = captureLogs();
      suite.running = await start({ bufferLength: 1000 }, logger);
      const metrics = suite.running.app.get(MetricsService);
      for (let i = 0; i < 3; i++) await httpRequest(`${suite.running.url}/orders/${i}`);
      await metrics.flush();
      assert.equal(metrics.stats().sent, 3);
      // A message the worker cannot handle makes it throw: as a bug of ours in the worker would.
      const stand = suite.running.app.get(RECORD_SINK) as unknown as { thread: { postMessage(m: unknown): void } };
      stand.thread.postMessage({ type: 'batch', exchanges: null });
      await sleep(300);
      for (let i = 0; i < 4; i++) {
        const res = await httpRequest(`${suite.running.url}/orders/${i}`);
        assert.equal(res.status, 200);
      }
      await metrics.flush();
      const stats = metrics.stats();
      assert.equal(stats.captured, 7);
      assert.equal(stats.sent, 3);
      assert.equal(stats.failed, 4, JSON.stringify(stats));
      assertAddsUp(stats);
      const crashes = lines.filter((l) => l.level === 'error' && /offload worker thread failed/.test(l.message));
      assert.equal(crashes.length, 1, JSON.stringify(lines));
    });

    it('HarFileTransport runs in the worker; an unwritable path still stops the app at startup', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'offload-har-'));
      try {
        const path = join(dir, 'out.har');
        suite.running = await start({ transport: new HarFileTransport({ path }), apiKey: undefined });
        await hostileTraffic(suite.running.url);
        await suite.running.close();
        suite.running = undefined;
        const har = JSON.parse(readFileSync(path, 'utf8')) as { log: { entries: unknown[] } };
        assert.equal(har.log.entries.length, 7);
        const text = readFileSync(path, 'utf8');
        for (const canary of CANARIES) assert.ok(!text.includes(canary), `${canary} written to the file`);
        const blocked = join(dir, 'out.har', 'nested.har'); // a folder under a file
        await assert.rejects(
          start({ transport: new HarFileTransport({ path: blocked }), apiKey: undefined }),
          (error: Error) => error.message.includes(blocked),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('options that cannot cross to the worker stop the app at startup, naming the option', async () => {
      const custom = { send: () => Promise.resolve() };
      await assert.rejects(start({ transport: custom, apiKey: undefined }), {
        name: 'MetricsOptionsError',
        message: /"transport" is a custom object, which offload: 'worker' cannot run/,
      });
      class MyOtlp extends OtlpTransport {}
      await assert.rejects(
        start({ transport: new MyOtlp({ url: 'http://127.0.0.1:9/v1/traces' }), apiKey: undefined }),
        {
          name: 'MetricsOptionsError',
          message: /"transport" is an instance of MyOtlp/,
        },
      );
      await assert.rejects(
        start({
          transport: new OtlpTransport({
            url: 'http://127.0.0.1:9/v1/traces',
            headers: { 'x-h': (() => 'v') as unknown as string },
          }),
          apiKey: undefined,
        }),
        { name: 'MetricsOptionsError', message: /the options of OtlpTransport cannot be copied/ },
      );
      await assert.rejects(start({ offload: 'thread' as never }), {
        name: 'MetricsOptionsError',
        message: /"offload" must be false or 'worker', got the string "thread"/,
      });
    });
  });
}

for (const adapter of ADAPTERS) {
  describe(`offload: 'worker' over OTLP (${adapter})`, () => {
    const suite = receiverPerTest();

    for (const protocol of ['http/protobuf', 'grpc'] as const) {
      it(`${protocol}: spans arrive through the worker, redacted`, async () => {
        suite.running = await startApp(
          otlpAppModule({
            transport: new OtlpTransport({ url: suite.receiver.urlFor(protocol), protocol }),
            offload: 'worker',
            bufferLength: 100,
          }),
          adapter,
        );
        otlpTargets.self = suite.running.url;
        const created = await httpRequest(`${suite.running.url}/shop/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'book', password: 'pw-canary-1' }),
        });
        assert.equal(created.status, 201);
        const item = await httpRequest(`${suite.running.url}/shop/items/42?token=qs-canary-3`);
        assert.equal(item.status, 200);
        const metrics = suite.running.app.get(MetricsService);
        await metrics.flush();
        const stats = metrics.stats();
        assert.equal(stats.failed, 0, JSON.stringify(stats));
        assert.equal(stats.sent, stats.captured, JSON.stringify(stats));
        const spans = await suite.receiver.waitForSpans(3);
        assert.ok(spans.some((s) => s.kind === 'SPAN_KIND_SERVER' && s.name.startsWith('POST')));
        const decoded = suite.receiver.decoded.join('\n');
        assert.ok(!decoded.includes('pw-canary-1') && !decoded.includes('qs-canary-3'), 'a secret left the server');
        assert.ok(!decoded.includes('response-secret'), 'a secret of the response left the server');
      });
    }
  });
}

/** Runs the shutdown child with offload on; resolves with its output and exit code. */
async function runChild(env: Record<string, string>): Promise<{ output: string; code: number | null }> {
  const proc = spawn(process.execPath, [join(__dirname, '..', 'support', 'shutdown-child.js')], {
    env: { ...process.env, ...env, OFFLOAD: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(killer);
  return { output, code };
}

for (const adapter of ADAPTERS) {
  describe(`offload: 'worker' never keeps the process alive (${adapter})`, () => {
    let collector: Collector;
    before(async () => (collector = await Collector.start()));
    afterEach(() => collector.reset());
    after(() => collector.close());

    it('the app closes, delivers, and the process exits by itself', async (t) => {
      const { output, code } = await runChild({ ADAPTER: adapter, COLLECTOR_URL: collector.url });
      t.diagnostic(output.trim());
      assert.equal(code, 0, output);
      assert.equal(collector.records.length, 7);
    });

    it('with the collector hanging, close() gives up after shutdownTimeout and the process still exits', async (t) => {
      collector.behaviour = () => undefined;
      const { output, code } = await runChild({
        ADAPTER: adapter,
        COLLECTOR_URL: collector.url,
        SHUTDOWN_TIMEOUT: '400',
      });
      assert.equal(code, 0, output);
      const closeMs = Number(/closed after (\d+) ms/.exec(output)?.[1]);
      t.diagnostic(`shutdownTimeout 400 ms: close took ${closeMs} ms`);
      assert.ok(closeMs >= 350 && closeMs < 2000, `close took ${closeMs} ms`);
    });
  });
}
