/*
 * The span shape the OpenTelemetry OTLP serializers read (ReadableSpan of @opentelemetry/sdk-trace-base), declared
 * here so that building spans needs none of the OpenTelemetry packages: they are loaded only by an OTLP transport.
 */

export type SpanAttributeValue = string | number | boolean | string[];
export type SpanAttributes = Record<string, SpanAttributeValue>;

/** [seconds, nanoseconds] since the epoch, as OpenTelemetry's HrTime. */
export type HrTime = [number, number];

/** Values of @opentelemetry/api's SpanKind. */
export const SPAN_KIND_SERVER = 1;
export const SPAN_KIND_CLIENT = 2;
/** Values of @opentelemetry/api's SpanStatusCode. */
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

export interface SpanContextLike {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits. */
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: { serialize(): string };
}

export interface SpanEventLike {
  name: string;
  time: HrTime;
  attributes: SpanAttributes;
  droppedAttributesCount: number;
}

export interface ResourceLike {
  readonly attributes: SpanAttributes;
  readonly schemaUrl?: string;
}

/** What OTLP serializers read of a finished span. */
export interface ReadableSpanLike {
  name: string;
  kind: number;
  spanContext(): SpanContextLike;
  parentSpanContext?: SpanContextLike;
  startTime: HrTime;
  endTime: HrTime;
  duration: HrTime;
  status: { code: number; message?: string };
  attributes: SpanAttributes;
  links: never[];
  events: SpanEventLike[];
  ended: true;
  resource: ResourceLike;
  instrumentationScope: { name: string; version?: string; schemaUrl?: string };
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
}

/** Epoch milliseconds (fractional allowed) as HrTime. */
export function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}
