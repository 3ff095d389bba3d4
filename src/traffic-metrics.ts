import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ExchangeRecorder } from './capture/exchange-recorder';
import type { AnyMetricsTransport } from './interfaces/metrics-transport.interface';
import { METRICS_RESOLVED_OPTIONS, METRICS_TRANSPORT } from './metrics.constants';
import { MetricsLogger } from './metrics.logger';
import type { ResolvedMetricsOptions } from './metrics.options';
import { OtlpMetricsExporter, type OtlpMetricsSender } from './traffic/otlp-metrics-exporter';
import { appDefaultRegistry, PrometheusCollector } from './traffic/prometheus-collector';
import { TrafficAggregator } from './traffic/traffic-aggregator';
import { TrafficCounter } from './traffic/traffic-counter';

/** A transport that can carry OTLP metrics (OtlpTransport, ApitoolkitTransport). */
function metricsSenderOf(transport: AnyMetricsTransport | undefined): OtlpMetricsSender | undefined {
  const sender = (transport ?? {}) as Partial<OtlpMetricsSender>;
  return typeof sender.sendMetrics === 'function' && typeof sender.protocol === 'string' && sender.resource
    ? (sender as OtlpMetricsSender)
    : undefined;
}

/**
 * The Nest side of the traffic metrics: starts the exporters the options ask for (Prometheus at startup, so a missing
 * prom-client stops the app; OTLP metrics with an OTLP transport) and exports the last interval on shutdown, after
 * the exchanges that already finished were counted and before the transport closes.
 */
@Injectable()
export class TrafficMetrics implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new MetricsLogger();
  private prometheus?: PrometheusCollector;
  private exporter?: OtlpMetricsExporter;

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    /** Undefined with offload and the ReadMe transport (built in the worker). */
    @Inject(METRICS_TRANSPORT) private readonly transport: AnyMetricsTransport | undefined,
    private readonly aggregator: TrafficAggregator,
    private readonly recorder: ExchangeRecorder,
  ) {}

  onModuleInit(): void {
    const { enabled, traffic } = this.options;
    if (!enabled || !traffic.enabled) return;
    if (traffic.prometheus) {
      this.prometheus = new PrometheusCollector(traffic.prometheus.registry ?? appDefaultRegistry(), this.aggregator);
      this.prometheus.start();
    }
    const sender = metricsSenderOf(this.transport);
    if (sender && traffic.interval !== false) {
      this.exporter = new OtlpMetricsExporter(
        this.aggregator,
        sender,
        { interval: traffic.interval, temporality: traffic.temporality, debug: this.options.debug },
        this.logger,
      );
      this.exporter.start();
    }
  }

  /** The OTLP exporter, when one runs (tests read its count of accepted exports). */
  get otlpExporter(): OtlpMetricsExporter | undefined {
    return this.exporter;
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.exporter) return;
    const { timeout, shutdownTimeout } = this.options;
    const started = performance.now();
    await this.recorder.whenHandedOver(Math.min(timeout, shutdownTimeout));
    await this.exporter.shutdown(Math.max(0, shutdownTimeout - (performance.now() - started)));
  }

  onApplicationShutdown(): void {
    this.prometheus?.stop();
  }
}

/** The aggregator, one per module; a warning when `maxConsumers` is first reached. */
const trafficAggregatorProvider = {
  provide: TrafficAggregator,
  inject: [METRICS_RESOLVED_OPTIONS],
  useFactory: (options: ResolvedMetricsOptions): TrafficAggregator => {
    const logger = new MetricsLogger();
    return new TrafficAggregator({
      maxConsumers: options.traffic.maxConsumers,
      onConsumersFull: (max) =>
        logger.warn(
          `Traffic metrics: ${max} consumers counted (the "maxConsumers" option); later consumers are counted as "other".`,
        ),
    });
  },
};

/** What ExchangeRecorder counts through. */
const trafficCounterProvider = {
  provide: TrafficCounter,
  inject: [METRICS_RESOLVED_OPTIONS, TrafficAggregator],
  useFactory: (options: ResolvedMetricsOptions, aggregator: TrafficAggregator): TrafficCounter =>
    new TrafficCounter(aggregator, options.enabled && options.traffic.enabled, new MetricsLogger()),
};

/** The module's traffic-metrics providers. */
export const TRAFFIC_PROVIDERS = [trafficAggregatorProvider, trafficCounterProvider, TrafficMetrics];
