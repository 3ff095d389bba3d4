import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { PrometheusRegistryLike } from '../interfaces/traffic.interface';
import { MetricsOptionsError } from '../option-checks';
import { BODY_SIZE_BOUNDS, DURATION_BOUNDS, type Histogram } from './histogram';
import type { LiveSeries, TrafficAggregator } from './traffic-aggregator';

/** The metrics, named as OpenTelemetry's Prometheus mapping names the HTTP semantic-convention instruments. */
const METRICS: { name: string; help: string; bounds: readonly number[]; pick: (s: LiveSeries) => Histogram }[] = [
  {
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests (nestjs-api-metrics, exact: sampling does not apply).',
    bounds: DURATION_BOUNDS,
    pick: (s) => s.duration,
  },
  {
    name: 'http_server_request_body_size_bytes',
    help: 'Size of HTTP server request bodies, when known (nestjs-api-metrics).',
    bounds: BODY_SIZE_BOUNDS,
    pick: (s) => s.requestBodySize,
  },
  {
    name: 'http_server_response_body_size_bytes',
    help: 'Size of HTTP server response bodies, when known (nestjs-api-metrics).',
    bounds: BODY_SIZE_BOUNDS,
    pick: (s) => s.responseBodySize,
  },
];

type Labels = Record<string, string | number>;

interface PromValue {
  metricName: string;
  labels: Labels;
  value: number;
}

/** The Prometheus labels of a series: absent attributes are absent labels. */
export function prometheusLabels(s: LiveSeries): Labels {
  const labels: Labels = { http_request_method: s.method };
  if (s.route !== undefined) labels.http_route = s.route;
  if (s.status > 0) labels.http_response_status_code = s.status;
  if (s.errorType !== undefined) labels.error_type = s.errorType;
  if (s.consumer) labels.consumer = s.consumer.name;
  return labels;
}

/**
 * One histogram as prom-client's Registry reads a metric (`get()`, `reset()`, `name`): built from the aggregates when
 * the registry is scraped. Nothing goes through prom-client per request.
 */
class CollectedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly pick: (s: LiveSeries) => Histogram,
    private readonly aggregates: TrafficAggregator,
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: PromValue[] } {
    const values: PromValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.aggregates.liveSeries()) {
      const data = this.pick(s).toData();
      if (data.count === 0) continue;
      const labels = prometheusLabels(s);
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += data.counts[i]!;
        values.push({ metricName: bucket, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: bucket, labels: { ...labels, le: '+Inf' }, value: data.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: data.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: data.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** `registry.resetMetrics()`: the counts are exact since the app started and are not reset. */
  reset(): void {}
}

/** Registers the traffic histograms in a prom-client registry, as collect-on-scrape metrics; `stop()` removes them. */
export class PrometheusCollector {
  private readonly metrics: CollectedHistogram[];

  constructor(
    private readonly registry: PrometheusRegistryLike,
    aggregates: TrafficAggregator,
  ) {
    this.metrics = METRICS.map((m) => new CollectedHistogram(m.name, m.help, m.bounds, m.pick, aggregates));
  }

  start(): void {
    for (const metric of this.metrics) {
      if (this.registry.getSingleMetric(metric.name) !== undefined) {
        this.stop();
        throw new MetricsOptionsError(
          `"prometheus": the registry already has a metric named ${metric.name} (another exporter of HTTP server ` +
            'metrics, e.g. OpenTelemetry’s PrometheusExporter, or a second MetricsModule). Remove it, or pass another ' +
            'registry: prometheus: { registry }.',
        );
      }
      this.registry.registerMetric(metric as never);
    }
  }

  stop(): void {
    for (const metric of this.metrics) {
      if (this.registry.getSingleMetric(metric.name) === metric) this.registry.removeSingleMetric(metric.name);
    }
  }
}

/**
 * `prom-client`'s default registry, from the app's own copy: resolved from the app's folder and its main module, so
 * the module never loads a second copy (prom-client is not a dependency of ours). Missing: a startup error.
 */
export function appDefaultRegistry(): PrometheusRegistryLike {
  const parents = [join(process.cwd(), 'package.json'), require.main?.filename].filter((p) => p !== undefined);
  for (const parent of parents) {
    const from = createRequire(parent);
    let path: string;
    try {
      path = from.resolve('prom-client');
    } catch {
      continue;
    }
    // The app's copy: the very module instance its own `import 'prom-client'` got (require cache, same path).
    const promClient = from(path) as { register?: PrometheusRegistryLike };
    if (promClient.register) return promClient.register;
  }
  throw new MetricsOptionsError(
    '"prometheus: true" registers the traffic metrics in your app’s prom-client registry, but prom-client could not ' +
      `be found from ${process.cwd()}. Install it (npm i prom-client), or pass the registry: prometheus: { registry }.`,
  );
}
