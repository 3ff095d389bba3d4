import { buildSpans, type SpanBuilderOptions } from '../../format/otlp/span-builder';
import { OtlpSpanRecords } from '../../format/otlp/span-writer';
import { ENCODED_SENDER, type EncodedSender } from '../../interfaces/encoded-transport.interface';
import type { ReadableSpanLike, ResourceLike } from '../../format/otlp/span';
import type { ExchangeTransport } from '../../interfaces/metrics-transport.interface';
import type { RedactedExchange } from '../../interfaces/redacted-exchange.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import { MetricsDeliveryError, parseRetryAfter } from '../delivery-error';
import { HttpSender } from '../http-sender';
import {
  metricsUrlOf,
  resolveOtlp,
  type OtlpProtocol,
  type OtlpTransportOptions,
  type ResolvedOtlp,
} from './otlp-config';
import { GrpcSender, GRPC_METRICS_METHOD } from './otlp-grpc-sender';
import { INSTALL, loadPeer, loadSuppression, TRANSFORMER, type OtelApi, type OtelCore } from './otlp-peers';

export type { OtlpProtocol, OtlpTransportOptions } from './otlp-config';
import { rememberOrigin } from './transport-origin';

interface TraceSerializer {
  serializeRequest(spans: ReadableSpanLike[]): Uint8Array | undefined;
}

interface OtlpTransformer {
  ProtobufTraceSerializer: TraceSerializer;
  JsonTraceSerializer: TraceSerializer;
}

/**
 * Ships each batch of redacted exchanges as OpenTelemetry spans over OTLP (http/protobuf, http/json or grpc) to any
 * OpenTelemetry Collector or OTLP backend. Spans are encoded by the official OpenTelemetry serializers
 * (@opentelemetry/otlp-transformer), loaded only when this transport is constructed. One export per batch, no
 * retry of its own: a failure becomes a `MetricsDeliveryError` with the status (and Retry-After) and the module's
 * dispatcher decides, so retries never multiply. Nothing is registered globally (no provider, propagator or
 * context manager): an app that runs the OpenTelemetry SDK keeps its own pipeline untouched.
 */
export class OtlpTransport implements ExchangeTransport {
  readonly input = 'exchanges' as const;
  /** Resolved target, protocol and resource (read-only; for logs and tests). */
  readonly url: string;
  readonly protocol: OtlpProtocol;
  protected readonly settings: ResolvedOtlp;
  private readonly serializer: TraceSerializer;
  private readonly spanOptions: SpanBuilderOptions;
  private http?: HttpSender;
  /** http/*: the sender of the traffic metrics (`metricsUrl`), made at their first export. */
  private metricsHttp?: HttpSender;
  private readonly newHttpSender?: (url: string) => HttpSender;
  private grpc?: GrpcSender;
  /** The OpenTelemetry context API and suppressTracing, from the transformer's own dependencies (global-safe). */
  private readonly suppression: { api?: OtelApi; core?: OtelCore };
  /** Records written once, at settle, as their encoded spans (the encoded side, see [ENCODED_SENDER]). */
  private readonly records: OtlpSpanRecords;

  constructor(options: OtlpTransportOptions = {}) {
    rememberOrigin(this, 'otlp', options ?? {});
    this.settings = this.resolve(options ?? {});
    this.url = this.settings.url;
    this.protocol = this.settings.protocol;
    const transformer = loadPeer<OtlpTransformer>(TRANSFORMER, require, `OtlpTransport needs ${TRANSFORMER}`, INSTALL);
    this.serializer =
      this.protocol === 'http/json' ? transformer.JsonTraceSerializer : transformer.ProtobufTraceSerializer;
    this.spanOptions = { resource: this.settings.resource, mode: this.mode() };
    this.records = new OtlpSpanRecords(this.serializer, this.protocol === 'http/json', this.settings.resource);
    this.suppression = loadSuppression();
    if (this.protocol === 'grpc') {
      this.grpc = new GrpcSender(this.url, this.settings.headers, this.settings.timeout);
    } else {
      // The same sender as ReadMe's, but a batch written in full and never answered is sent again (see HttpSender).
      // The whole call, answer included, stays bounded by `timeout`, as the OpenTelemetry exporters bound theirs.
      this.newHttpSender = (url) =>
        new HttpSender({
          url: new URL(url),
          headers: {
            ...this.settings.headers,
            'content-type': this.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
            'user-agent': `${PACKAGE_NAME}/${PACKAGE_VERSION}`,
          },
          timeout: this.settings.timeout,
          answerTimeout: this.settings.timeout,
          maxSockets: options.maxSockets,
          proxy: options.proxy,
          peer: 'OTLP collector',
          unanswered: 'resend',
        });
      this.http = this.newHttpSender(this.url);
    }
  }

  /** The resource of every export (read by the traffic metrics exporter). */
  get resource(): ResourceLike {
    return this.settings.resource;
  }

  /**
   * Sends one encoded OTLP metrics export (the traffic metrics, src/traffic) to the same collector: `metricsUrl`
   * (next to the traces URL by default) over http, the metrics service over gRPC. Untraced, as the spans.
   */
  sendMetrics(body: Uint8Array): Promise<void> {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (this.grpc) return this.untraced(() => this.grpc!.send(bytes, GRPC_METRICS_METHOD));
    this.metricsHttp ??= this.newHttpSender!(this.settings.metricsUrl ?? metricsUrlOf(this.url));
    const sender = this.metricsHttp;
    return this.untraced(() => this.sendHttp(bytes, sender));
  }

  /** The spans of a batch, as they will be encoded. */
  spans(exchanges: RedactedExchange[]): ReadableSpanLike[] {
    return buildSpans(exchanges, this.spanOptions);
  }

  /**
   * Built-in only (see encodedSenderOf): each record is encoded once, when its exchange settles, by the official
   * serializer (src/format/otlp/span-writer.ts); a batch is their concatenation in one request. A subclass that
   * overrides `send` gets redacted exchanges, as before; one that overrides `spans` keeps its spans.
   */
  [ENCODED_SENDER](): EncodedSender | undefined {
    if (this.send !== OtlpTransport.prototype.send) return undefined;
    return {
      format: 'otlp-spans',
      encode: (exchange) => this.records.encode(this.spans([exchange])),
      send: (records) => this.sendEncoded(records),
    };
  }

  private async sendEncoded(records: Buffer[]): Promise<void> {
    const body = this.records.join(records);
    if (body.length > this.settings.maxExportBytes && records.length > 1) {
      // Collectors refuse bigger messages (gRPC's default limit is 4 MiB): 413 makes the dispatcher split the batch.
      throw new MetricsDeliveryError(`OTLP: the batch exceeds maxExportBytes (${this.settings.maxExportBytes})`, 413);
    }
    if (!body.length) return;
    await this.untraced(() => (this.grpc ? this.grpc.send(body) : this.sendHttp(body)));
  }

  async send(exchanges: RedactedExchange[]): Promise<void> {
    const bytes = await this.encode(exchanges);
    if (!bytes) return;
    // Our export is not the app's traffic: an app running the OpenTelemetry SDK's http instrumentation must not
    // trace it (as its own exporters are not), so the call runs in a context with tracing suppressed.
    await this.untraced(() => (this.grpc ? this.grpc.send(bytes) : this.sendHttp(bytes)));
  }

  /**
   * Encodes a batch as one ExportTraceServiceRequest, in slices of about ENCODE_SLICE_BYTES of bodies with a turn of
   * the event loop between them, so a batch of big bodies never holds the app's requests up for long (100 exchanges
   * with two 64 KiB bodies took 515 ms in one piece in APIToolkit mode). Protobuf messages concatenate into their
   * merge (repeated `resourceSpans` append); OTLP/JSON slices are joined into one `resourceSpans` array.
   */
  private async encode(exchanges: RedactedExchange[]): Promise<Buffer | undefined> {
    const parts: Uint8Array[] = [];
    let slice: ReadableSpanLike[] = [];
    let weight = 0;
    let size = 0;
    const push = () => {
      const part = this.serialize(slice);
      parts.push(part);
      size += part.byteLength;
      slice = [];
      weight = 0;
      if (size > this.settings.maxExportBytes && exchanges.length > 1) {
        // Collectors refuse bigger messages (gRPC's default limit is 4 MiB): 413 makes the dispatcher split the batch.
        throw new MetricsDeliveryError(`OTLP: the batch exceeds maxExportBytes (${this.settings.maxExportBytes})`, 413);
      }
    };
    for (const exchange of exchanges) {
      slice.push(...this.spans([exchange]));
      weight += weightOf(exchange);
      if (weight >= ENCODE_SLICE_BYTES) {
        push();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (slice.length) push();
    if (!parts.length) return undefined;
    if (this.protocol !== 'http/json') return Buffer.concat(parts);
    return joinJsonRequests(parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength)));
  }

  private serialize(spans: ReadableSpanLike[]): Uint8Array {
    const body = this.serializer.serializeRequest(spans);
    if (!body) throw new MetricsDeliveryError('OTLP: the spans could not be encoded', 400);
    return body;
  }

  async close(): Promise<void> {
    this.http?.close();
    this.metricsHttp?.close();
    this.grpc?.close();
  }

  private untraced(send: () => Promise<void>): Promise<void> {
    const { api, core } = this.suppression;
    if (!api || !core) return send();
    return api.context.with(core.suppressTracing(api.context.active()), send);
  }

  /** `apitoolkit` adds APIToolkit's span name and attributes; see ApitoolkitTransport. */
  protected mode(): SpanBuilderOptions['mode'] {
    return 'otlp';
  }

  /** Reads options and the standard OTEL_* environment variables (options win). */
  protected resolve(options: OtlpTransportOptions): ResolvedOtlp {
    return resolveOtlp(options);
  }

  private async sendHttp(body: Buffer, sender = this.http!): Promise<void> {
    const { status, retryAfter } = await sender.post(body);
    if (status >= 200 && status < 300) return;
    throw new MetricsDeliveryError(`OTLP collector answered HTTP ${status}`, status, parseRetryAfter(retryAfter));
  }
}

/** Bodies (and a fixed cost) encoded between two turns of the event loop: a few ms of encoding. */
const ENCODE_SLICE_BYTES = 64 * 1024;
const JSON_HEAD = '{"resourceSpans":[';
const JSON_TAIL = ']}';

function weightOf(x: RedactedExchange): number {
  let weight = 2048 + (x.requestBody?.text.length ?? 0) + x.responseBody.text.length;
  for (const call of x.outgoing ?? []) weight += weightOf(call);
  return weight;
}

/** One OTLP/JSON request from several: their `resourceSpans` arrays joined. */
function joinJsonRequests(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  const inner = parts.map((part) => {
    const text = part.toString('utf8');
    if (!text.startsWith(JSON_HEAD) || !text.endsWith(JSON_TAIL)) {
      throw new MetricsDeliveryError('OTLP: unexpected JSON encoding, the batch could not be joined', 400);
    }
    return text.slice(JSON_HEAD.length, -JSON_TAIL.length);
  });
  return Buffer.from(JSON_HEAD + inner.filter((t) => t !== '').join(',') + JSON_TAIL);
}

/**
 * gRPC status codes as the HTTP statuses the dispatcher's verdicts read. Retryable as the OTLP specification says
 * (CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; RESOURCE_EXHAUSTED as 429); 0 = a
 * network-level failure (retried).
 */
