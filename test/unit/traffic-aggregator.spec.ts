import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricsGroupInfo } from '../../src';
import { BODY_SIZE_BOUNDS, DURATION_BOUNDS, Histogram } from '../../src/traffic/histogram';
import { MAX_ROUTES, shortConsumerName, TrafficAggregator } from '../../src/traffic/traffic-aggregator';
import { maskApiKey } from '../../src/redact/mask';
import type { TrafficMeasure } from '../../src/traffic/traffic-measure';
import { measureExchange } from '../../src/traffic/traffic-measure';
import type { Exchange } from '../../src/capture/exchange';

function measure(overrides: Partial<TrafficMeasure> = {}): TrafficMeasure {
  return { method: 'GET', status: 200, seconds: 0.01, requestBytes: 0, responseBytes: 100, ...overrides };
}

/** An exchange as capture holds it when it settles, for a path no route matched. */
function unmatchedExchange(path: string): Exchange {
  const req = { method: 'GET', headers: {}, url: path, originalUrl: path };
  return { req, platformRequest: req, startMark: performance.now(), responseBytes: 9 } as unknown as Exchange;
}

describe('TrafficAggregator', () => {
  it('100k distinct unmatched paths and 5k consumers keep the series count bounded', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 1000 });
    let full = 0;
    const bounded = new TrafficAggregator({ maxConsumers: 1000, onConsumersFull: () => full++ });
    const groups: MetricsGroupInfo[] = Array.from({ length: 5000 }, (_, i) => ({ apiKey: `key-${i}` }));
    for (let i = 0; i < 100_000; i++) {
      const m = measureExchange(unmatchedExchange(`/scan/${i}/${Math.random()}`), (i * 7) % 3 ? 404 : 405);
      aggregator.count(m, undefined);
      bounded.count(m, groups[i % groups.length]);
    }
    assert.equal(aggregator.seriesCount, 2, 'one series per status: raw paths are never kept');
    // 1000 consumers and `other`, for each of the two statuses.
    assert.equal(bounded.seriesCount, 2 * 1001);
    assert.equal(full, 1, 'maxConsumers reached: reported once');
    const snapshot = bounded.snapshot();
    assert.equal(snapshot.consumers, 1000);
    const total = snapshot.series.reduce((sum, s) => sum + s.duration.count, 0);
    assert.equal(total, 100_000, 'every exchange counted');
    const other = snapshot.series.filter((s) => s.consumer?.name === 'other');
    assert.equal(
      other.reduce((sum, s) => sum + s.duration.count, 0),
      100_000 - 1000 * 20,
    );
    assert.ok(snapshot.series.every((s) => s.route === undefined));
    assert.ok(!JSON.stringify(snapshot).includes('key-'), 'raw API keys are never part of the aggregates');
  });

  it('routes past MAX_ROUTES (client-named, e.g. GraphQL operations) share the route _OTHER', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 10 });
    for (let i = 0; i < MAX_ROUTES + 500; i++) aggregator.count(measure({ route: `query Op${i}` }), undefined);
    assert.equal(aggregator.seriesCount, MAX_ROUTES + 1);
    const other = aggregator.snapshot().series.find((s) => s.route === '_OTHER');
    assert.equal(other?.duration.count, 500);
  });

  it('memory stays flat under 1M distinct paths', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 10 });
    const group = { apiKey: 'k', label: 'Acme' };
    const run = (from: number) => {
      for (let i = from; i < from + 500_000; i++) {
        aggregator.count(measureExchange(unmatchedExchange(`/probe/${i}`), 404), group);
      }
    };
    run(0);
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    run(500_000);
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 2 * 1024 * 1024, `heap grew ${grown} bytes over 500k more distinct paths`);
    assert.equal(aggregator.seriesCount, 1);
  });

  it('methods outside the standard list share `_OTHER`; statuses outside 0-999 are 0', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 10 });
    for (const method of ['PROPFIND', 'MKCOL', 'BREW', 'get']) aggregator.count(measure({ method }), undefined);
    aggregator.count(measure({ status: 1234 }), undefined);
    aggregator.count(measure({ status: -1 }), undefined);
    const series = aggregator.snapshot().series;
    assert.deepEqual(
      series.map((s) => `${s.method} ${s.status} ${s.duration.count}`),
      ['_OTHER 200 4', 'GET 0 2'],
    );
  });

  it('consumers: the label, else the short masked key; none without a group; first label of a key wins', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 10 });
    aggregator.count(measure(), { apiKey: 'secret-key-1234', label: 'Acme' });
    aggregator.count(measure(), { apiKey: 'secret-key-1234', label: 'Renamed' });
    aggregator.count(measure(), { apiKey: 'other-key-5678' });
    aggregator.count(measure(), undefined);
    const series = aggregator.snapshot().series;
    assert.equal(series.length, 3);
    assert.deepEqual(series[0]!.consumer?.name, 'Acme');
    assert.equal(series[0]!.duration.count, 2);
    assert.match(series[1]!.consumer!.name, /^sha512-.+\?5678$/);
    assert.equal(series[1]!.consumer!.id, maskApiKey('other-key-5678'));
    assert.equal(series[1]!.consumer!.name, shortConsumerName(series[1]!.consumer!.id));
    assert.equal(series[2]!.consumer, undefined);
  });

  it('sizes are observed only when known', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 10 });
    aggregator.count(measure({ requestBytes: -1, responseBytes: -1 }), undefined);
    aggregator.count(measure({ requestBytes: 10, responseBytes: 0 }), undefined);
    const [s] = aggregator.snapshot().series;
    assert.equal(s!.duration.count, 2);
    assert.equal(s!.requestBodySize.count, 1);
    assert.equal(s!.requestBodySize.sum, 10);
    assert.equal(s!.responseBodySize.count, 1);
  });
});

describe('Histogram', () => {
  it('a value equal to a bound goes in that bound’s bucket (le), above every bound in the last', () => {
    const h = new Histogram(DURATION_BOUNDS);
    for (const v of [0, 0.005, 0.0051, 10, 11]) h.add(v);
    const data = h.toData();
    assert.equal(data.counts.length, DURATION_BOUNDS.length + 1);
    assert.equal(data.counts[0], 2);
    assert.equal(data.counts[1], 1);
    assert.equal(data.counts[DURATION_BOUNDS.length - 1], 1);
    assert.equal(data.counts[DURATION_BOUNDS.length], 1);
    assert.deepEqual([data.count, data.min, data.max], [5, 0, 11]);
    assert.equal(new Histogram(BODY_SIZE_BOUNDS).toData().min, undefined);
  });
});

describe('the consumer name without a label (the Prometheus `consumer` label)', () => {
  it('is short and stable, begins and ends as the masked key does, and keeps keys with the same last four apart', () => {
    const aggregator = new TrafficAggregator({ maxConsumers: 10 });
    const keys = ['acme-key-0001', 'other-key-0001', 'acme-key-0001'];
    for (const apiKey of keys) aggregator.count(measure(), { apiKey });
    aggregator.count(measure(), { apiKey: 'labelled-key-0002', label: 'Labelled' });
    const consumers = aggregator.snapshot().series.map((s) => s.consumer!);
    assert.equal(consumers.length, 3);
    const [acme, other, labelled] = consumers as [(typeof consumers)[0], (typeof consumers)[0], (typeof consumers)[0]];
    assert.equal(acme.id, maskApiKey('acme-key-0001'), 'the id is the full masked key');
    assert.match(acme.name, /^sha512-[A-Za-z0-9+/]{8}\?0001$/);
    assert.ok(acme.id.startsWith(acme.name.slice(0, -5)) && acme.id.endsWith('?0001'));
    assert.ok(acme.name.length <= 24, acme.name);
    assert.notEqual(acme.name, other.name);
    assert.equal(shortConsumerName(maskApiKey('acme-key-0001')), acme.name, 'stable');
    assert.equal(labelled.name, 'Labelled');
  });
});
