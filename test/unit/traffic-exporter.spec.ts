import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { MetricsDeliveryError } from '../../src';
import { OtlpMetricsExporter, type OtlpMetricsSender } from '../../src/traffic/otlp-metrics-exporter';
import type { MetricsTemporality } from '../../src/traffic/otlp-metrics';
import { TrafficAggregator } from '../../src/traffic/traffic-aggregator';

/** A collector stand-in for the exporter's state machine: answers from a script, decodes what it accepted. */
class ScriptedSender implements OtlpMetricsSender {
  readonly protocol = 'http/json' as const;
  readonly resource = { attributes: { 'service.name': 'unit' } };
  calls = 0;
  /** Total `http.server.request.duration` count of every accepted export. */
  readonly accepted: number[] = [];

  constructor(private readonly script: (call: number) => Error | undefined) {}

  sendMetrics(body: Uint8Array): Promise<void> {
    const error = this.script(++this.calls);
    if (error) return Promise.reject(error);
    const request = JSON.parse(Buffer.from(body).toString()) as {
      resourceMetrics: {
        scopeMetrics: { metrics: { name: string; histogram: { dataPoints: { count: unknown }[] } }[] }[];
      }[];
    };
    const duration = request.resourceMetrics[0]!.scopeMetrics[0]!.metrics.find(
      (m) => m.name === 'http.server.request.duration',
    )!;
    this.accepted.push(duration.histogram.dataPoints.reduce((sum, p) => sum + Number(p.count), 0));
    return Promise.resolve();
  }
}

const logs: string[] = [];
const logger = {
  errorOnce: (kind: string, message: string) => logs.push(`errorOnce ${kind}: ${message}`),
  error: (message: string) => logs.push(`error: ${message}`),
  log: (message: string) => logs.push(`log: ${message}`),
  debug: () => undefined,
};

function setup(script: (call: number) => Error | undefined, temporality: MetricsTemporality = 'cumulative') {
  const aggregator = new TrafficAggregator({ maxConsumers: 10 });
  const sender = new ScriptedSender(script);
  const exporter = new OtlpMetricsExporter(aggregator, sender, { interval: 1000, temporality, debug: false }, logger);
  const count = (n: number) => {
    for (let i = 0; i < n; i++) {
      aggregator.count(
        { method: 'GET', route: '/a', status: 200, seconds: 0.01, requestBytes: 0, responseBytes: 2 },
        undefined,
      );
    }
  };
  return { aggregator, sender, exporter, count };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

async function advance(ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(step);
    await settle();
  }
}

describe('OtlpMetricsExporter', () => {
  beforeEach(() => {
    logs.length = 0;
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  });
  afterEach(() => mock.timers.reset());

  it('retries a retryable failure with backoff; the export arrives once', async () => {
    const { sender, exporter, count } = setup((call) =>
      call <= 2 ? new MetricsDeliveryError('busy', 503) : undefined,
    );
    count(3);
    const done = exporter.exportNow();
    await advance(2000);
    await done;
    assert.equal(sender.calls, 3);
    assert.deepEqual(sender.accepted, [3]);
    assert.equal(exporter.exports, 1);
    assert.deepEqual(logs, []);
  });

  it('every interval; 401 pauses the exports (doubling), they resume with everything counted meanwhile', async () => {
    const { sender, exporter, count } = setup((call) => (call <= 2 ? new MetricsDeliveryError('key', 401) : undefined));
    exporter.start();
    count(2);
    await advance(1000); // export 1: rejected, paused for one interval
    assert.equal(sender.calls, 1);
    await advance(1000); // export 2: rejected again, paused for two
    assert.equal(sender.calls, 2);
    count(3);
    await advance(1000);
    assert.equal(sender.calls, 2, 'no call while paused');
    await advance(1000);
    assert.equal(sender.calls, 3);
    assert.deepEqual(sender.accepted, [5]);
    assert.equal(logs.filter((l) => l.startsWith('error:')).length, 1, 'the rejection is logged once');
    assert.ok(logs.some((l) => l.includes('resumed')));
    await exporter.shutdown(1000);
  });

  it('delta: a failed export is folded into the next one; unchanged series are not sent', async () => {
    const { sender, exporter, count } = setup(
      (call) => (call === 1 ? new MetricsDeliveryError('bad', 400) : undefined),
      'delta',
    );
    count(3);
    await exporter.exportNow(); // refused: not retried (400), logged once
    count(2);
    await exporter.exportNow();
    count(1);
    await exporter.exportNow();
    await exporter.exportNow(); // nothing changed: no call
    assert.equal(sender.calls, 3);
    assert.deepEqual(sender.accepted, [5, 1]);
    assert.equal(logs.length, 1);
  });

  it('shutdown exports what was counted since the last export, without retry sleeps', async () => {
    const { sender, exporter, count } = setup((call) =>
      call === 2 ? new MetricsDeliveryError('busy', 503) : undefined,
    );
    exporter.start();
    count(4);
    await advance(1000);
    count(1);
    const closing = exporter.shutdown(5000);
    await settle();
    await closing;
    assert.deepEqual(sender.accepted, [4]);
    assert.equal(sender.calls, 2, 'the last export is tried once: the app is closing');
    count(1);
    await advance(3000);
    assert.equal(sender.calls, 2, 'no export after shutdown');
  });
});
