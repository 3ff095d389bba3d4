import type { Exchange } from '../capture/exchange';
import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { OnceLogging } from '../interfaces/core-logger.interface';
import type { TrafficAggregator } from './traffic-aggregator';
import { measureExchange, responseBodyBytes, type TrafficMeasure } from './traffic-measure';

/**
 * What capture calls to count exchanges (ExchangeRecorder): the measure when an exchange settles, the count once its
 * group is known. Off (`trafficMetrics: false`, `enabled: false`): both do nothing. A failure here is logged once and
 * never costs the record or the request.
 */
export class TrafficCounter {
  constructor(
    private readonly aggregator: TrafficAggregator,
    readonly enabled: boolean,
    private readonly logger: Pick<OnceLogging, 'errorOnce'>,
  ) {}

  /** Notes the size of the response body as the platform writes it (before the sampling decision). */
  noteResponse(exchange: Exchange, chunk: unknown, contentLength: unknown, streamed: boolean): void {
    if (!this.enabled) return;
    // HEAD: Content-Length is the GET's, no body is sent.
    exchange.responseBytes = exchange.req.method === 'HEAD' ? 0 : responseBodyBytes(chunk, contentLength, streamed);
  }

  /** The measure of a settling exchange that is counted (not skipped or excluded), sampled in or not. */
  measure(exchange: Exchange, status: number): TrafficMeasure | undefined {
    if (!this.enabled) return undefined;
    try {
      return measureExchange(exchange, status);
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /** Counts a measured exchange; `group` undefined when it has none. */
  count(measure: TrafficMeasure | undefined, group: MetricsGroupInfo | undefined): void {
    if (!measure) return;
    try {
      this.aggregator.count(measure, group);
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.logger.errorOnce('traffic', 'Could not count an exchange in the traffic metrics', error);
  }
}
