import type { MetricsModuleOptions } from '../interfaces/metrics-options.interface';
import type { PrometheusRegistryLike } from '../interfaces/traffic.interface';
import { bool, describeValue, MetricsOptionsError, positiveInt } from '../option-checks';
import type { MetricsTemporality } from './otlp-metrics';

/** The traffic-metrics options with their defaults (see MetricsModuleOptions). */
export interface ResolvedTrafficOptions {
  enabled: boolean;
  maxConsumers: number;
  /** false: no OTLP metrics export. */
  interval: number | false;
  temporality: MetricsTemporality;
  /** false: no Prometheus; `{}`: prom-client's default registry of the app; `{ registry }`: that one. */
  prometheus: false | { registry?: PrometheusRegistryLike };
}

export function resolveTrafficOptions(options: MetricsModuleOptions): ResolvedTrafficOptions {
  const { metricsTemporality = 'cumulative', prometheus = false } = options;
  if (metricsTemporality !== 'cumulative' && metricsTemporality !== 'delta') {
    throw new MetricsOptionsError(
      `"metricsTemporality" must be 'cumulative' or 'delta', got ${describeValue(metricsTemporality)}.`,
    );
  }
  return {
    enabled: bool(options, 'trafficMetrics', true),
    maxConsumers: positiveInt(options, 'maxConsumers', 1000),
    interval: options.metricsInterval === false ? false : positiveInt(options, 'metricsInterval', 60_000),
    temporality: metricsTemporality,
    prometheus: prometheusOption(prometheus),
  };
}

function prometheusOption(value: unknown): ResolvedTrafficOptions['prometheus'] {
  if (value === false) return false;
  if (value === true) return {};
  const registry = (value as { registry?: unknown } | null)?.registry;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const extra = Object.keys(value).find((k) => k !== 'registry');
    if (extra !== undefined) throw new MetricsOptionsError(`"prometheus" has an unknown key "${extra}".`);
    if (registry === undefined) return {};
    const r = registry as Partial<PrometheusRegistryLike> | null;
    if (
      typeof r?.registerMetric === 'function' &&
      typeof r.getSingleMetric === 'function' &&
      typeof r.removeSingleMetric === 'function'
    ) {
      return { registry: r as PrometheusRegistryLike };
    }
    throw new MetricsOptionsError(
      `"prometheus.registry" must be a prom-client Registry (e.g. new Registry() or register), got ${describeValue(registry)}.`,
    );
  }
  throw new MetricsOptionsError(`"prometheus" must be true, false or { registry }, got ${describeValue(value)}.`);
}
