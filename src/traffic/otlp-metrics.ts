import { createRequire } from 'node:module';
import type { ResourceLike, SpanAttributes } from '../format/otlp/span';
import type { TrafficHistogram } from '../interfaces/traffic.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../metrics.constants';
import { BODY_SIZE_BOUNDS, DURATION_BOUNDS, histogramDelta } from './histogram';
import type { LiveSeries } from './traffic-aggregator';

export type MetricsTemporality = 'cumulative' | 'delta';

/** The instruments, named and described as OpenTelemetry's HTTP semantic conventions define them. */
const INSTRUMENTS = [
  {
    name: 'http.server.request.duration',
    description: 'Duration of HTTP server requests.',
    unit: 's',
    bounds: DURATION_BOUNDS,
    pick: (s: LiveSeries) => s.duration,
  },
  {
    name: 'http.server.request.body.size',
    description: 'Size of HTTP server request bodies.',
    unit: 'By',
    bounds: BODY_SIZE_BOUNDS,
    pick: (s: LiveSeries) => s.requestBodySize,
  },
  {
    name: 'http.server.response.body.size',
    description: 'Size of HTTP server response bodies.',
    unit: 'By',
    bounds: BODY_SIZE_BOUNDS,
    pick: (s: LiveSeries) => s.responseBodySize,
  },
] as const;

type HrTime = [number, number];

/** What the official serializers read of `ResourceMetrics` (@opentelemetry/sdk-metrics), both 2.x and 3.x lines. */
interface ResourceMetricsLike {
  resource: ResourceLike;
  scopeMetrics: {
    scope: { name: string; version?: string };
    metrics: {
      descriptor: { name: string; description: string; unit: string; valueType: number };
      aggregationTemporality: number;
      dataPointType: number;
      dataPoints: {
        startTime: HrTime;
        endTime: HrTime;
        attributes: SpanAttributes;
        value: {
          buckets: { boundaries: readonly number[]; counts: number[] };
          sum: number;
          count: number;
          min?: number;
          max?: number;
        };
      }[];
    }[];
  }[];
}

interface MetricsSerializer {
  serializeRequest(request: ResourceMetricsLike): Uint8Array | undefined;
}

interface SdkMetricsEnums {
  AggregationTemporality: { DELTA: number; CUMULATIVE: number };
  DataPointType: { HISTOGRAM: number };
}

/** The three histograms of one series at one moment (cumulative since the series started). */
interface SeriesState {
  time: number;
  histograms: TrafficHistogram[];
}

/** The OTLP attributes of a series, as on our spans (`user.id` is the masked key, `user.name` the label). */
export function otlpAttributes(s: LiveSeries): SpanAttributes {
  const attributes: SpanAttributes = { 'http.request.method': s.method };
  if (s.route !== undefined) attributes['http.route'] = s.route;
  if (s.status > 0) attributes['http.response.status_code'] = s.status;
  // The conventions' error.type of a server: the status code for 5xx answers; `graphql` for GraphQL errors.
  if (s.status >= 500) attributes['error.type'] = String(s.status);
  else if (s.errorType !== undefined) attributes['error.type'] = s.errorType;
  if (s.consumer) {
    attributes['user.id'] = s.consumer.id;
    if (s.consumer.label !== undefined) attributes['user.name'] = s.consumer.label;
  }
  return attributes;
}

/**
 * Encodes the traffic aggregates as one OTLP ExportMetricsServiceRequest with the official serializers of
 * @opentelemetry/otlp-transformer (the app's copy, 2.x or 3.x line), protobuf or JSON. Cumulative temporality: every
 * series since it started. Delta: what changed since the last export that was `committed` (a failed export is
 * folded into the next one, so nothing is lost or counted twice).
 */
export class OtlpMetricsEncoder {
  private readonly serializer: MetricsSerializer;
  private readonly enums: SdkMetricsEnums;
  /** Delta temporality: the state of each series at the last export the collector accepted. */
  private readonly exported = new Map<LiveSeries, SeriesState>();

  constructor(
    json: boolean,
    private readonly resource: ResourceLike,
    private readonly temporality: MetricsTemporality,
  ) {
    // Resolved as OtlpTransport resolves it: the copy the spans are encoded with.
    const transformerPath = require.resolve('@opentelemetry/otlp-transformer');
    const from = createRequire(transformerPath);
    const transformer = from(transformerPath) as Record<string, MetricsSerializer>;
    this.serializer = transformer[json ? 'JsonMetricsSerializer' : 'ProtobufMetricsSerializer']!;
    // The enums of the sdk-metrics the serializers themselves compare against.
    this.enums = from('@opentelemetry/sdk-metrics') as SdkMetricsEnums;
  }

  /**
   * The export of `series` now, and `commit` to call once the collector accepted it; undefined when there is
   * nothing to export (no series, or no change since the last delta export).
   */
  encode(series: Iterable<LiveSeries>, now = Date.now()): { body: Uint8Array; commit: () => void } | undefined {
    const delta = this.temporality === 'delta';
    const states: [LiveSeries, SeriesState][] = [];
    const points = INSTRUMENTS.map(() => [] as ResourceMetricsLike['scopeMetrics'][0]['metrics'][0]['dataPoints']);
    for (const s of series) {
      const state: SeriesState = { time: now, histograms: INSTRUMENTS.map((i) => i.pick(s).toData()) };
      const before = delta ? this.exported.get(s) : undefined;
      if (delta && before && state.histograms[0]!.count === before.histograms[0]!.count) continue;
      states.push([s, state]);
      const attributes = otlpAttributes(s);
      const startTime = hrTime(before?.time ?? s.startTime);
      INSTRUMENTS.forEach((instrument, i) => {
        const h = delta ? histogramDelta(state.histograms[i]!, before?.histograms[i]) : state.histograms[i]!;
        if (h.count === 0) return;
        points[i]!.push({
          startTime,
          endTime: hrTime(now),
          attributes,
          value: {
            buckets: { boundaries: instrument.bounds, counts: h.counts },
            sum: h.sum,
            count: h.count,
            ...(h.min !== undefined && { min: h.min, max: h.max }),
          },
        });
      });
    }
    if (!states.length) return undefined;
    const temporality = delta ? this.enums.AggregationTemporality.DELTA : this.enums.AggregationTemporality.CUMULATIVE;
    const request: ResourceMetricsLike = {
      resource: this.resource,
      scopeMetrics: [
        {
          scope: { name: PACKAGE_NAME, version: PACKAGE_VERSION },
          metrics: INSTRUMENTS.map((instrument, i) => ({
            descriptor: {
              name: instrument.name,
              description: instrument.description,
              unit: instrument.unit,
              valueType: instrument.unit === 's' ? VALUE_TYPE_DOUBLE : VALUE_TYPE_INT,
            },
            aggregationTemporality: temporality,
            dataPointType: this.enums.DataPointType.HISTOGRAM,
            dataPoints: points[i]!,
          })).filter((m) => m.dataPoints.length > 0),
        },
      ],
    };
    const body = this.serializer.serializeRequest(request);
    if (!body) throw new Error('OTLP: the traffic metrics could not be encoded');
    return {
      body,
      commit: () => {
        if (delta) for (const [s, state] of states) this.exported.set(s, state);
      },
    };
  }
}

/** @opentelemetry/api's ValueType (INT 0, DOUBLE 1): stable across every 1.x release. */
const VALUE_TYPE_INT = 0;
const VALUE_TYPE_DOUBLE = 1;

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
