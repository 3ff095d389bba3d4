import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApitoolkitTransport, MetricsService, OtlpTransport, type OtlpProtocol } from '../../src';
import { maskApiKey } from '../../src/redact/mask';
import { ADAPTERS, startApp } from '../support/adapters';
import { receiverPerTest, type ReceivedHistogramPoint } from '../support/otlp-receiver';
import { expectedCounts, sendMix, seriesKey, trafficAppModule, trafficMix } from '../support/traffic-app';

const PROTOCOLS: OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
const DURATION_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The series key of a point; `names`: masked key → the name the mix expects (label, else masked key). */
function keyOf(p: ReceivedHistogramPoint): string {
  const a = p.attributes;
  const consumer = (a['user.name'] as string | undefined) ?? (a['user.id'] as string | undefined);
  return seriesKey(
    a['http.request.method'] as string,
    a['http.route'] as string | undefined,
    Number(a['http.response.status_code'] ?? 0),
    consumer,
  );
}

/** Counts per series of one instrument, summed over the points given. */
function countsOf(points: ReceivedHistogramPoint[], name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of points.filter((x) => x.name === name)) counts.set(keyOf(p), (counts.get(keyOf(p)) ?? 0) + p.count);
  return counts;
}

for (const adapter of ADAPTERS) {
  describe(`traffic metrics over OTLP (${adapter})`, () => {
    const suite = receiverPerTest();

    for (const protocol of PROTOCOLS) {
      it(`${protocol}: app.close() exports the last interval: names, units, attributes, counts equal to the traffic`, async () => {
        const transport = new OtlpTransport({ url: suite.receiver.urlFor(protocol), protocol, serviceName: 'shop' });
        suite.running = await startApp(trafficAppModule({ transport, sampleRate: 0.1 }), adapter);
        const mix = trafficMix(70, maskApiKey);
        await sendMix(suite.running.url, mix);
        await suite.running.app.get(MetricsService).flush();
        assert.equal(suite.receiver.metricsRequests, 0, 'nothing exported before the interval (60 s) or shutdown');
        await suite.running.close();
        suite.running = undefined;
        await suite.receiver.waitForMetricsRequests(1);
        const points = suite.receiver.histograms;
        assert.deepEqual(countsOf(points, 'http.server.request.duration'), expectedCounts(mix));
        const names = new Set(points.map((p) => `${p.name} ${p.unit} ${p.temporality}`));
        assert.deepEqual([...names].sort(), [
          'http.server.request.body.size By 2',
          'http.server.request.duration s 2',
          'http.server.response.body.size By 2',
        ]);
        for (const p of points) {
          assert.equal(p.resource['service.name'], 'shop');
          assert.equal(p.scope.name, 'nestjs-api-metrics');
          assert.equal(
            p.bucketCounts.reduce((a, b) => a + b, 0),
            p.count,
          );
          assert.ok(BigInt(p.startTimeUnixNano) <= BigInt(p.timeUnixNano));
          if (p.name === 'http.server.request.duration') assert.deepEqual(p.explicitBounds, DURATION_BOUNDS);
          assert.equal(
            p.attributes['error.type'],
            Number(p.attributes['http.response.status_code']) >= 500
              ? String(p.attributes['http.response.status_code'])
              : undefined,
          );
          if (p.attributes['user.id'] !== undefined) {
            assert.match(p.attributes['user.id'] as string, /^sha512-.+\?\d{4}$/, 'the key is masked');
          }
        }
        // The raw API keys never leave the server.
        assert.ok(!suite.receiver.decoded.join('').includes('key-000'));
        const sent = mix.filter((r) => r.counted).reduce((sum, r) => sum + Buffer.byteLength(r.body ?? ''), 0);
        const requestSizes = points.filter((p) => p.name === 'http.server.request.body.size');
        assert.equal(
          requestSizes.reduce((sum, p) => sum + p.sum, 0),
          sent,
        );
      });
    }

    it('every metricsInterval ms a cumulative export; the last one holds the whole traffic', async () => {
      const transport = new OtlpTransport({ url: suite.receiver.urlFor('http/protobuf') });
      suite.running = await startApp(trafficAppModule({ transport, metricsInterval: 100 }), adapter);
      const first = trafficMix(21, maskApiKey);
      await sendMix(suite.running.url, first);
      await suite.running.app.get(MetricsService).flush();
      await suite.receiver.waitForMetricsRequests(1);
      const second = trafficMix(35, maskApiKey);
      await sendMix(suite.running.url, second);
      await suite.running.app.get(MetricsService).flush();
      const seen = suite.receiver.metricsRequests;
      await suite.receiver.waitForMetricsRequests(seen + 1);
      const last = suite.receiver.histograms.filter((p) => p.request === seen);
      assert.deepEqual(countsOf(last, 'http.server.request.duration'), expectedCounts([...first, ...second]));
    });

    it('metricsTemporality delta: the exports add up to the traffic, each series once per change', async () => {
      const transport = new OtlpTransport({ url: suite.receiver.urlFor('grpc'), protocol: 'grpc' });
      suite.running = await startApp(
        trafficAppModule({ transport, metricsInterval: 100, metricsTemporality: 'delta' }),
        adapter,
      );
      const first = trafficMix(21, maskApiKey);
      await sendMix(suite.running.url, first);
      await suite.running.app.get(MetricsService).flush();
      await suite.receiver.waitForMetricsRequests(1);
      await new Promise((resolve) => setTimeout(resolve, 250)); // the exports catch up with the first traffic
      const quiet = suite.receiver.metricsRequests;
      await new Promise((resolve) => setTimeout(resolve, 350));
      assert.equal(suite.receiver.metricsRequests, quiet, 'no export while nothing changed');
      const second = trafficMix(35, maskApiKey);
      await sendMix(suite.running.url, second);
      await suite.running.close();
      suite.running = undefined;
      await suite.receiver.waitForMetricsRequests(quiet + 1);
      const points = suite.receiver.histograms;
      assert.ok(points.every((p) => p.temporality === 1));
      assert.deepEqual(countsOf(points, 'http.server.request.duration'), expectedCounts([...first, ...second]));
    });

    it('offload: worker: the counts stay on the main thread and are exported from there on close', async () => {
      const transport = new OtlpTransport({ url: suite.receiver.urlFor('http/protobuf') });
      suite.running = await startApp(trafficAppModule({ transport, offload: 'worker', sampleRate: 0.5 }), adapter);
      const mix = trafficMix(28, maskApiKey);
      await sendMix(suite.running.url, mix);
      await suite.running.close();
      suite.running = undefined;
      await suite.receiver.waitForMetricsRequests(1);
      assert.deepEqual(countsOf(suite.receiver.histograms, 'http.server.request.duration'), expectedCounts(mix));
    });

    it('metricsInterval: false: spans only, no metrics export; traffic() still counts', async () => {
      const transport = new OtlpTransport({ url: suite.receiver.urlFor('http/json'), protocol: 'http/json' });
      suite.running = await startApp(trafficAppModule({ transport, metricsInterval: false }), adapter);
      const mix = trafficMix(7, maskApiKey);
      await sendMix(suite.running.url, mix);
      const metrics = suite.running.app.get(MetricsService);
      await metrics.flush();
      const counted = metrics.traffic().series.reduce((n, s) => n + s.duration.count, 0);
      await suite.running.close();
      suite.running = undefined;
      assert.equal(counted, mix.filter((r) => r.counted).length);
      assert.ok(suite.receiver.spans.length > 0, 'the spans were sent');
      assert.equal(suite.receiver.metricsRequests, 0);
    });

    it('ApitoolkitTransport: the metrics go to the same collector (gRPC) with the project key resource', async () => {
      const transport = new ApitoolkitTransport({ apiKey: 'at-key', url: suite.receiver.grpcUrl });
      suite.running = await startApp(trafficAppModule({ transport }), adapter);
      const mix = trafficMix(14, maskApiKey);
      await sendMix(suite.running.url, mix);
      await suite.running.close();
      suite.running = undefined;
      await suite.receiver.waitForMetricsRequests(1);
      const points = suite.receiver.histograms;
      assert.ok(points.every((p) => p.resource['at-project-key'] === 'at-key'));
      assert.deepEqual(countsOf(points, 'http.server.request.duration'), expectedCounts(mix));
    });
  });
}
