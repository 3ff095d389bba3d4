import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { TrafficConsumer, TrafficSeries, TrafficSnapshot } from '../interfaces/traffic.interface';
import { maskApiKey } from '../redact/mask';
import { BODY_SIZE_BOUNDS, DURATION_BOUNDS, Histogram } from './histogram';
import type { TrafficMeasure } from './traffic-measure';

/** The methods of the HTTP standards (OpenTelemetry's list); any other is counted as `_OTHER` (bounded cardinality). */
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
]);
const OTHER_METHOD = '_OTHER';

export interface TrafficAggregatorOptions {
  /** Most distinct consumers kept apart; the rest are counted as `other`. */
  maxConsumers: number;
  /** Called once, when `maxConsumers` is first reached. */
  onConsumersFull?: (maxConsumers: number) => void;
}

interface Consumer extends TrafficConsumer {
  /** Part of the series key: small and unique per consumer. */
  readonly key: number;
}

/** A series while counting. */
export interface LiveSeries {
  readonly method: string;
  readonly route?: string;
  readonly status: number;
  readonly consumer?: TrafficConsumer;
  /** When the series was first counted (ms since the epoch). */
  readonly startTime: number;
  readonly duration: Histogram;
  readonly requestBodySize: Histogram;
  readonly responseBodySize: Histogram;
}

const OTHER_CONSUMER: Consumer = Object.freeze({ key: 0, name: 'other', id: 'other' });

/**
 * Exact traffic aggregates, held in the process: per method × route template × status × consumer, a duration histogram
 * and two body-size histograms. Counting an exchange is one map lookup on a short key and a few increments; a new
 * series or consumer is built once. Cardinality is bounded: methods by the standard list, routes by the app's route
 * table (unmatched requests share one series, raw URLs are never kept), consumers by `maxConsumers`.
 */
export class TrafficAggregator {
  readonly startTime = Date.now();
  private readonly series = new Map<string, LiveSeries>();
  private readonly consumers = new Map<string, Consumer>();
  private consumersFull = false;

  constructor(private readonly options: TrafficAggregatorOptions) {}

  /** Counts one exchange; `group` undefined when it has none. */
  count(measure: TrafficMeasure, group: MetricsGroupInfo | undefined): void {
    const { method, route, status } = measure;
    const m = KNOWN_METHODS.has(method) ? method : OTHER_METHOD;
    const consumer = group === undefined ? undefined : this.consumerOf(group);
    const key = `${m} ${status} ${consumer?.key ?? -1}${route === undefined ? '' : ` ${route}`}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = this.build(m, route, status, consumer);
      this.series.set(key, series);
    }
    series.duration.add(measure.seconds);
    if (measure.requestBytes >= 0) series.requestBodySize.add(measure.requestBytes);
    if (measure.responseBytes >= 0) series.responseBodySize.add(measure.responseBytes);
  }

  /** The live series (for the exporters, which read them when they collect). */
  liveSeries(): IterableIterator<LiveSeries> {
    return this.series.values();
  }

  get seriesCount(): number {
    return this.series.size;
  }

  /** A copy of everything counted so far, as plain data. */
  snapshot(): TrafficSnapshot {
    const series: TrafficSeries[] = [];
    for (const s of this.series.values()) {
      series.push({
        method: s.method,
        ...(s.route !== undefined && { route: s.route }),
        status: s.status,
        ...(s.consumer && { consumer: { ...s.consumer } }),
        duration: s.duration.toData(),
        requestBodySize: s.requestBodySize.toData(),
        responseBodySize: s.responseBodySize.toData(),
      });
    }
    return {
      startTime: this.startTime,
      time: Date.now(),
      bounds: { duration: DURATION_BOUNDS, bodySize: BODY_SIZE_BOUNDS },
      consumers: this.consumers.size,
      series,
    };
  }

  private build(method: string, route: string | undefined, status: number, consumer: Consumer | undefined): LiveSeries {
    return {
      method,
      ...(route !== undefined && { route }),
      status,
      ...(consumer && {
        consumer: {
          name: consumer.name,
          id: consumer.id,
          ...(consumer.label !== undefined && { label: consumer.label }),
        },
      }),
      startTime: Date.now(),
      duration: new Histogram(DURATION_BOUNDS),
      requestBodySize: new Histogram(BODY_SIZE_BOUNDS),
      responseBodySize: new Histogram(BODY_SIZE_BOUNDS),
    };
  }

  /** The consumer of a group, by its API key; past `maxConsumers` new keys are `other` (and not remembered). */
  private consumerOf(group: MetricsGroupInfo): Consumer {
    const known = this.consumers.get(group.apiKey);
    if (known) return known;
    if (this.consumers.size >= this.options.maxConsumers) {
      if (!this.consumersFull) {
        this.consumersFull = true;
        this.options.onConsumersFull?.(this.options.maxConsumers);
      }
      return OTHER_CONSUMER;
    }
    const id = maskApiKey(group.apiKey);
    const consumer: Consumer = {
      key: this.consumers.size + 1,
      name: group.label ?? id,
      id,
      ...(group.label !== undefined && { label: group.label }),
    };
    this.consumers.set(group.apiKey, consumer);
    return consumer;
  }
}
