import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { MetricsOptionsError } from '../../src';
import { resolveMetricsOptions } from '../../src/metrics.options';

const base = { transport: { send: () => Promise.resolve() } };

describe('traffic metrics options', () => {
  it('defaults: on, 1000 consumers, every 60 s, cumulative, no Prometheus', () => {
    assert.deepEqual(resolveMetricsOptions(base).traffic, {
      enabled: true,
      maxConsumers: 1000,
      interval: 60_000,
      temporality: 'cumulative',
      prometheus: false,
    });
  });

  it('metricsInterval: false turns the OTLP export off', () => {
    assert.equal(resolveMetricsOptions({ ...base, metricsInterval: false }).traffic.interval, false);
  });

  it('prometheus: true is the default registry; { registry } takes a prom-client Registry', () => {
    assert.deepEqual(resolveMetricsOptions({ ...base, prometheus: true }).traffic.prometheus, {});
    const registry = new Registry();
    const resolved = resolveMetricsOptions({ ...base, prometheus: { registry } }).traffic.prometheus;
    assert.equal(resolved && resolved.registry, registry);
  });

  it('bad values stop the app with the option named', () => {
    const cases: [object, RegExp][] = [
      [{ trafficMetrics: 'yes' }, /"trafficMetrics" must be true or false, got the string "yes"/],
      [{ maxConsumers: 0 }, /"maxConsumers" must be a positive whole number/],
      [{ metricsInterval: 1.5 }, /"metricsInterval" must be a positive whole number/],
      [{ metricsInterval: true }, /"metricsInterval" must be a positive whole number/],
      [{ metricsTemporality: 'DELTA' }, /"metricsTemporality" must be 'cumulative' or 'delta', got the string "DELTA"/],
      [{ prometheus: 'yes' }, /"prometheus" must be true, false or \{ registry \}/],
      [{ prometheus: { registry: {} } }, /"prometheus.registry" must be a prom-client Registry/],
      [{ prometheus: { registy: new Registry() } }, /"prometheus" has an unknown key "registy"/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => resolveMetricsOptions({ ...base, ...options }),
        (error: unknown) => error instanceof MetricsOptionsError && message.test(error.message),
        JSON.stringify(options),
      );
    }
  });
});
