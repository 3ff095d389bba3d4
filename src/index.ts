export { MetricsModule } from './metrics.module';
export { METRICS_MODULE_OPTIONS } from './metrics.module-definition';
export { MetricsService } from './metrics.service';
export { MetricsOptionsError } from './option-checks';
export { MetricsGroup } from './decorators/metrics-group.decorator';
export { SkipMetrics } from './decorators/skip-metrics.decorator';
export { ReportToMetrics } from './decorators/report-to-metrics.decorator';
export { MetricsSample } from './decorators/metrics-sample.decorator';
export { MetricsCapture, type MetricsCaptureOptions } from './decorators/metrics-capture.decorator';
export type { ReportedError } from './interfaces/reported-error.interface';
export { MetricsInterceptor } from './capture/metrics.interceptor';
export { MetricsExceptionFilter } from './capture/metrics-exception.filter';
export { ReadmeTransport, type ReadmeTransportOptions } from './deliver/transports/readme.transport';
export { HarFileTransport, type HarFileTransportOptions } from './deliver/transports/har-file.transport';
export { MetricsDeliveryError } from './deliver/delivery-error';
export { OtlpTransport, type OtlpTransportOptions, type OtlpProtocol } from './deliver/transports/otlp.transport';
export {
  ApitoolkitTransport,
  APITOOLKIT_DEFAULT_URL,
  type ApitoolkitTransportOptions,
} from './deliver/transports/apitoolkit.transport';
export type { MetricsStats } from './interfaces/metrics-stats.interface';
export type { MetricsModuleOptions } from './interfaces/metrics-options.interface';
export type { MetricsDashboardOptions, MetricsExcludeRule } from './interfaces/metrics-options.interface';
export type { MetricsGraphqlOptions } from './interfaces/metrics-graphql-options.interface';
export type { MetricsModuleAsyncOptions, MetricsOptionsFactory } from './metrics.module-definition';
export type { ObservableAxiosInstance } from './capture/outgoing/axios-observer';
export type { MetricsGroupFn, MetricsGroupInfo } from './interfaces/metrics-group.interface';
export type { MetricsTransport } from './interfaces/metrics-transport.interface';
export type { ExchangeTransport, AnyMetricsTransport } from './interfaces/metrics-transport.interface';
export type * from './interfaces/redacted-exchange.interface';
export type { MetricsRecord } from './interfaces/metrics-record.interface';
export type * from './interfaces/har.interface';
export type {
  TrafficSnapshot,
  TrafficSeries,
  TrafficConsumer,
  TrafficHistogram,
  TrafficPrometheusOptions,
  PrometheusRegistryLike,
} from './interfaces/traffic.interface';
