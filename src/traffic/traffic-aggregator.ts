import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { TrafficConsumer, TrafficSeries, TrafficSnapshot } from '../interfaces/traffic.interface';
import { maskApiKey } from '../redact/mask';
import { addToHistogram, BODY_SIZE_BOUNDS, DURATION_BOUNDS, Histogram, histogramSlots } from './histogram';
import type { TrafficMeasure } from './traffic-measure';

/** The methods of the HTTP standards (OpenTelemetry's list); any other is counted as `_OTHER` (bounded cardinality). */
const METHODS = ['_OTHER', 'CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE'];
const METHOD_INDEX = new Map(METHODS.map((m, i) => [m, i]));

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
  readonly errorType?: string;
  readonly consumer?: TrafficConsumer;
  /** When the series was first counted (ms since the epoch). */
  readonly startTime: number;
  /** The three histograms' slots, in one block (DURATION_AT, REQUEST_AT, RESPONSE_AT). */
  readonly data: Float64Array;
  /** Views of `data`, for the exporters. */
  readonly duration: Histogram;
  readonly requestBodySize: Histogram;
  readonly responseBodySize: Histogram;
}

/** Where each histogram starts in a series' Float64Array. */
const DURATION_AT = 0;
const REQUEST_AT = histogramSlots(DURATION_BOUNDS);
const RESPONSE_AT = REQUEST_AT + histogramSlots(BODY_SIZE_BOUNDS);
const SERIES_SLOTS = RESPONSE_AT + histogramSlots(BODY_SIZE_BOUNDS);

/** Consumer keys: 0 is "no group", 1 `other`, then one per consumer. */
const OTHER_CONSUMER: Consumer = Object.freeze({ key: 1, name: 'other', id: 'other' });

/**
 * Most distinct routes kept apart; later ones share the route `_OTHER`. An app's route table is far smaller; the bound
 * is for routes a client can name (a GraphQL operation as the route).
 */
export const MAX_ROUTES = 1000;
const OTHER_ROUTE = '_OTHER';

/**
 * Exact traffic aggregates, held in the process: per method × route template × status × consumer, a duration histogram
 * and two body-size histograms. Counting an exchange is two map lookups (route, then a packed integer) and a few
 * increments; a new series or consumer is built once. Cardinality is bounded: methods by the standard list, routes by
 * the app's route table and MAX_ROUTES (unmatched requests share one series, raw URLs are never kept), consumers by
 * `maxConsumers`.
 */
export class TrafficAggregator {
  readonly startTime = Date.now();
  /**
   * Series by route template (undefined: unmatched), then by one number that packs method, status and consumer:
   * the route string is the platform's own (its hash is cached), the rest a small integer, so a lookup hashes no
   * new string.
   */
  private readonly routes = new Map<string | undefined, Map<number, LiveSeries>>();
  private readonly series: LiveSeries[] = [];
  private readonly consumerSpan: number;
  private readonly consumers = new Map<string, Consumer>();
  private consumersFull = false;

  constructor(private readonly options: TrafficAggregatorOptions) {
    this.consumerSpan = options.maxConsumers + 2;
  }

  /** Counts one exchange; `group` undefined when it has none. */
  count(measure: TrafficMeasure, group: MetricsGroupInfo | undefined): void {
    let { route } = measure;
    const method = METHOD_INDEX.get(measure.method) ?? 0;
    const status = measure.status >= 0 && measure.status < 1000 ? measure.status | 0 : 0;
    const consumer = group === undefined ? undefined : this.consumerOf(group);
    const failed = measure.errorType === undefined ? 0 : 1;
    const key = ((method * 1000 + status) * 2 + failed) * this.consumerSpan + (consumer?.key ?? 0);
    let byKey = this.routes.get(route);
    if (byKey === undefined) {
      if (this.routes.size >= MAX_ROUTES) {
        route = OTHER_ROUTE;
        byKey = this.routes.get(route);
      }
      if (byKey === undefined) this.routes.set(route, (byKey = new Map()));
    }
    let series = byKey.get(key);
    if (series === undefined) {
      series = this.build(METHODS[method]!, route, status, measure.errorType, consumer);
      byKey.set(key, series);
      this.series.push(series);
    }
    const { data } = series;
    addToHistogram(data, DURATION_AT, DURATION_BOUNDS, measure.seconds);
    if (measure.requestBytes >= 0) addToHistogram(data, REQUEST_AT, BODY_SIZE_BOUNDS, measure.requestBytes);
    if (measure.responseBytes >= 0) addToHistogram(data, RESPONSE_AT, BODY_SIZE_BOUNDS, measure.responseBytes);
  }

  /** The live series (for the exporters, which read them when they collect). */
  liveSeries(): readonly LiveSeries[] {
    return this.series;
  }

  get seriesCount(): number {
    return this.series.length;
  }

  /** A copy of everything counted so far, as plain data. */
  snapshot(): TrafficSnapshot {
    const series: TrafficSeries[] = [];
    for (const s of this.series) {
      series.push({
        method: s.method,
        ...(s.route !== undefined && { route: s.route }),
        status: s.status,
        ...(s.errorType !== undefined && { errorType: s.errorType }),
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

  private build(
    method: string,
    route: string | undefined,
    status: number,
    errorType: string | undefined,
    consumer: Consumer | undefined,
  ): LiveSeries {
    const data = new Float64Array(SERIES_SLOTS);
    return {
      method,
      ...(route !== undefined && { route }),
      status,
      ...(errorType !== undefined && { errorType }),
      ...(consumer && {
        consumer: {
          name: consumer.name,
          id: consumer.id,
          ...(consumer.label !== undefined && { label: consumer.label }),
        },
      }),
      startTime: Date.now(),
      data,
      duration: new Histogram(DURATION_BOUNDS, data, DURATION_AT),
      requestBodySize: new Histogram(BODY_SIZE_BOUNDS, data, REQUEST_AT),
      responseBodySize: new Histogram(BODY_SIZE_BOUNDS, data, RESPONSE_AT),
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
      key: this.consumers.size + 2,
      name: group.label ?? shortConsumerName(id),
      id,
      ...(group.label !== undefined && { label: group.label }),
    };
    this.consumers.set(group.apiKey, consumer);
    return consumer;
  }
}

/** Hash characters a consumer's short name keeps: 48 bits, no collision in practice among `maxConsumers` keys. */
const SHORT_HASH_CHARS = 8;

/**
 * The dashboard name of a consumer without a label: its masked key (`sha512-<88 characters>?<last 4>`) cut to the
 * first SHORT_HASH_CHARS of the hash, `sha512-AbCdEfGh?0001`: short enough for a legend, stable (the same key always
 * gives it), and it starts and ends as the full masked key (`id`, `user.id`) does.
 */
export function shortConsumerName(maskedKey: string): string {
  const mark = maskedKey.lastIndexOf('?');
  const hash = mark === -1 ? maskedKey : maskedKey.slice(0, mark);
  const tail = mark === -1 ? '' : maskedKey.slice(mark);
  const prefix = hash.indexOf('-') + 1;
  return `${hash.slice(0, prefix + SHORT_HASH_CHARS)}${tail}`;
}
