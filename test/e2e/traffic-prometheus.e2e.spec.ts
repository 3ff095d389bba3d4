import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { Module } from '@nestjs/common';
import { register, Registry } from 'prom-client';
import { MetricsService } from '../../src';
import { maskApiKey } from '../../src/redact/mask';
import { shortConsumerName } from '../../src/traffic/traffic-aggregator';

/** The Prometheus `consumer` label of a key without a label: the short form of its masked key. */
const consumerName = (key: string) => shortConsumerName(maskApiKey(key));
import { ADAPTERS, startApp } from '../support/adapters';
import { httpRequest } from '../support/http';
import { parsePrometheusText, type PromSample } from '../support/prometheus-text';
import { appPerTest } from '../support/suite';
import { expectedCounts, sendMix, seriesKey, trafficAppModule, trafficGroup, trafficMix } from '../support/traffic-app';

const DURATION = 'http_server_request_duration_seconds';

function keyOf(s: PromSample): string {
  const status = s.labels.http_response_status_code;
  return seriesKey(s.labels.http_request_method!, s.labels.http_route, Number(status ?? 0), s.labels.consumer);
}

/** The `_count` samples of one histogram, by series key. */
function countsOf(samples: PromSample[], name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of samples.filter((x) => x.name === `${name}_count`)) counts.set(keyOf(s), s.value);
  return counts;
}

function total(samples: PromSample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
}

/** Every histogram series: buckets cumulative and ending at +Inf = _count. */
function assertHistogramsConsistent(samples: PromSample[], name: string): void {
  const byKey = new Map<string, PromSample[]>();
  for (const s of samples.filter((x) => x.name === `${name}_bucket`)) {
    const key = keyOf(s);
    byKey.set(key, [...(byKey.get(key) ?? []), s]);
  }
  const counts = countsOf(samples, name);
  assert.ok(byKey.size > 0, `${name} has series`);
  for (const [key, buckets] of byKey) {
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${key} cumulative`);
    const inf = buckets.at(-1)!;
    assert.equal(inf.labels.le, '+Inf');
    assert.equal(inf.value, counts.get(key), `${name} ${key}: +Inf bucket = _count`);
  }
}

for (const adapter of ADAPTERS) {
  describe(`traffic metrics to Prometheus (${adapter})`, () => {
    const suite = appPerTest();

    it('counts every exchange exactly with sampleRate 0.1: per route, status and consumer; excluded routes absent', async () => {
      const registry = new Registry();
      suite.running = await startApp(
        trafficAppModule({
          apiKey: 'readme-key',
          baseUrl: suite.collector.url,
          sampleRate: 0.1,
          prometheus: { registry },
        }),
        adapter,
      );
      const mix = trafficMix(280, consumerName);
      const responses = await sendMix(suite.running.url, mix);
      mix.forEach((r, i) => assert.equal(responses[i]!.status, r.status, `${r.method} ${r.path}`));
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();

      const samples = parsePrometheusText(await registry.metrics());
      const expected = expectedCounts(mix);
      assert.deepEqual(countsOf(samples, DURATION), expected);
      assert.ok(
        !samples.some((s) => /health|internal/.test(s.labels.http_route ?? '')),
        'excluded/skipped not counted',
      );
      // Unmatched paths share one series per status/consumer: never a raw URL.
      assert.ok(!samples.some((s) => (s.labels.http_route ?? '').startsWith('/nowhere')));
      for (const name of [DURATION, 'http_server_request_body_size_bytes', 'http_server_response_body_size_bytes']) {
        assertHistogramsConsistent(samples, name);
      }
      const counted = mix.map((r, i) => ({ r, res: responses[i]! })).filter(({ r }) => r.counted);
      // Body sizes are exact: what was sent and what came back.
      const sentBytes = counted.reduce((sum, { r }) => sum + Buffer.byteLength(r.body ?? ''), 0);
      assert.equal(total(samples, 'http_server_request_body_size_bytes_sum'), sentBytes);
      assert.equal(total(samples, 'http_server_request_body_size_bytes_count'), counted.length);
      const receivedBytes = counted.reduce((sum, { res }) => sum + res.body.length, 0);
      assert.equal(total(samples, 'http_server_response_body_size_bytes_sum'), receivedBytes);
      // Durations: positive, and no longer than the clients saw them.
      const durationSum = total(samples, `${DURATION}_sum`);
      const clientSeconds = counted.reduce((sum, { res }) => sum + res.ms / 1000, 0);
      assert.ok(durationSum > 0 && durationSum <= clientSeconds, `${durationSum} s within ${clientSeconds} s`);

      // The records are sampled; the counts are not.
      const stats = metrics.stats();
      assert.ok(stats.sampledOut > 0, 'some exchanges were sampled out');
      assert.ok(suite.collector.records.length < counted.length);
      // traffic() holds the same numbers.
      const traffic = metrics.traffic();
      const fromTraffic = new Map(
        traffic.series.map((s) => [seriesKey(s.method, s.route, s.status, s.consumer?.name), s.duration.count]),
      );
      assert.deepEqual(fromTraffic, expected);
    });

    it('sampled-out exchanges get their consumer from the group function, async too; past `timeout`, no consumer', async () => {
      const never = new Promise<null>(() => undefined);
      suite.running = await startApp(
        trafficAppModule({
          apiKey: 'readme-key',
          baseUrl: suite.collector.url,
          sampleRate: 0,
          timeout: 150,
          group: async (req: { headers: Record<string, string | undefined> }) => {
            if (req.headers['x-slow']) return never;
            await new Promise((resolve) => setTimeout(resolve, 5));
            return trafficGroup(req);
          },
        }),
        adapter,
      );
      const acme = { 'x-api-key': 'acme-key-0001', 'x-label': 'Acme' };
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) =>
          httpRequest(`${suite.running!.url}/shop/items/${i}`, { headers: acme }),
        ),
        ...Array.from({ length: 3 }, (_, i) =>
          httpRequest(`${suite.running!.url}/shop/items/${i}`, { headers: { ...acme, 'x-slow': '1' } }),
        ),
      ]);
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();
      const series = metrics.traffic().series.map((s) => `${s.consumer?.name ?? '(none)'} ${s.duration.count}`);
      assert.deepEqual(series.sort(), ['(none) 3', 'Acme 10']);
      const stats = metrics.stats();
      assert.equal(stats.sampledOut, 13);
      assert.equal(stats.groupTimeouts, 0, 'not a record lost: they were sampled out');
      assert.equal(suite.collector.records.length, 0);
    });

    it('backgroundWorkerMode false: a sampled-out response never waits for the group function', async () => {
      suite.running = await startApp(
        trafficAppModule({
          apiKey: 'readme-key',
          baseUrl: suite.collector.url,
          sampleRate: 0,
          backgroundWorkerMode: false,
          group: async (req: { headers: Record<string, string | undefined> }) => {
            await new Promise((resolve) => setTimeout(resolve, 400));
            return trafficGroup(req);
          },
        }),
        adapter,
      );
      const res = await httpRequest(`${suite.running.url}/shop/items/1`, {
        headers: { 'x-api-key': 'acme-key-0001', 'x-label': 'Acme' },
      });
      assert.equal(res.status, 200);
      assert.ok(res.ms < 300, `answered in ${res.ms} ms`);
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();
      assert.deepEqual(
        metrics.traffic().series.map((s) => `${s.consumer?.name} ${s.duration.count}`),
        ['Acme 1'],
      );
    });

    it('trafficMetrics: false: nothing counted or registered, and sampled-out exchanges skip the group function', async () => {
      const registry = new Registry();
      let groupCalls = 0;
      suite.running = await startApp(
        trafficAppModule({
          apiKey: 'readme-key',
          baseUrl: suite.collector.url,
          sampleRate: 0,
          trafficMetrics: false,
          prometheus: { registry },
          group: (req: { headers: Record<string, string | undefined> }) => {
            groupCalls++;
            return trafficGroup(req);
          },
        }),
        adapter,
      );
      await sendMix(suite.running.url, trafficMix(14, consumerName));
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();
      assert.deepEqual(metrics.traffic().series, []);
      assert.equal(registry.getSingleMetric(DURATION), undefined);
      // Only the 5xx answers (always recorded) called it.
      assert.equal(groupCalls, 2);
    });

    it('prometheus: true joins the app’s own default registry; the app’s /metrics (@willsoto/nestjs-prometheus) serves them', async () => {
      @Module({ imports: [PrometheusModule.register({ defaultMetrics: { enabled: false } })] })
      class PrometheusApp {}
      const module = trafficAppModule({ apiKey: 'readme-key', baseUrl: suite.collector.url, prometheus: true });
      module.imports!.push(PrometheusApp);
      suite.running = await startApp(module, adapter);
      const mix = trafficMix(40, consumerName);
      await sendMix(suite.running.url, mix);
      await suite.running.app.get(MetricsService).flush();
      const scrape = await httpRequest(`${suite.running.url}/metrics`);
      assert.equal(scrape.status, 200);
      const text = scrape.body.toString();
      assert.match(text, /# TYPE http_server_request_duration_seconds histogram/);
      const samples = parsePrometheusText(text);
      assert.deepEqual(countsOf(samples, DURATION), expectedCounts(mix));
      assert.ok(register.getSingleMetric(DURATION), 'registered in prom-client’s default registry');
      await suite.running.close();
      suite.running = undefined;
      assert.equal(register.getSingleMetric(DURATION), undefined, 'removed when the app closes');
    });
  });
}

describe('prometheus: true without prom-client in the app', () => {
  it('stops the app at startup with a clear message, and never loads a copy of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'no-prom-client-'));
    try {
      // An app outside this repo: neither its folder nor its main module can resolve prom-client (this repo can).
      const main = join(dir, 'main.js');
      writeFileSync(
        main,
        `
        const { Module } = require(${JSON.stringify(require.resolve('@nestjs/common'))});
        const { NestFactory } = require(${JSON.stringify(require.resolve('@nestjs/core'))});
        const { MetricsModule } = require(${JSON.stringify(join(__dirname, '..', '..', 'src'))});
        class App {}
        Module({ imports: [MetricsModule.forRoot({ transport: { send: async () => {} }, prometheus: true })] })(App);
        NestFactory.createApplicationContext(App, { logger: false, abortOnError: false }).then(
          () => console.log('started'),
          (error) => {
            const copies = Object.keys(require.cache).filter((p) => p.includes('/prom-client/'));
            console.log(JSON.stringify({ name: error.name, message: error.message, copies }));
          },
        );
        `,
      );
      const child = spawnSync(process.execPath, [main], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
        name: string;
        message: string;
        copies: string[];
      };
      assert.equal(result.name, 'MetricsOptionsError');
      assert.match(result.message, /prom-client could not be found .*npm i prom-client.*prometheus: \{ registry \}/s);
      assert.deepEqual(result.copies, [], 'no prom-client was loaded');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
