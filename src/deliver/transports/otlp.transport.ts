import { createRequire } from 'node:module';
import { buildSpans, type SpanBuilderOptions } from '../../format/otlp/span-builder';
import type { ReadableSpanLike, ResourceLike, SpanAttributeValue } from '../../format/otlp/span';
import type { ExchangeTransport } from '../../interfaces/metrics-transport.interface';
import type { RedactedExchange } from '../../interfaces/redacted-exchange.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import { MetricsDeliveryError, parseRetryAfter } from '../delivery-error';
import { HttpSender } from '../http-sender';
import { rememberOrigin } from './transport-origin';

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export interface OtlpTransportOptions {
  /**
   * Where spans go. http/protobuf and http/json: the full traces URL (`http://collector:4318/v1/traces`); grpc: the
   * collector's address (`http://collector:4317`, `https://…` for TLS). Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
   * else `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces` for http), else localhost on the protocol's standard port.
   */
  url?: string;
  /** Default: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. */
  protocol?: OtlpProtocol;
  /** Sent with every export (HTTP headers or gRPC metadata), over those of `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`. */
  headers?: Record<string, string>;
  /** ms per export call, reply included. Default: `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`, else 10000. */
  timeout?: number;
  /** `service.name` of the resource. Default: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, else `unknown_service:node`. */
  serviceName?: string;
  /** More resource attributes, over those of `OTEL_RESOURCE_ATTRIBUTES`. */
  resourceAttributes?: Record<string, SpanAttributeValue>;
  /**
   * Proxy for http/* exports, e.g. `http://proxy.corp:3128`; `false`: connect directly. Default: `HTTPS_PROXY` /
   * `HTTP_PROXY` / `NO_PROXY` from the environment. gRPC reads `grpc_proxy` / `https_proxy` itself.
   */
  proxy?: string | false;
  /** Open connections at most for http/* (keep-alive). Default 4. */
  maxSockets?: number;
  /**
   * Largest export, in bytes; a bigger batch is split by the module (as for an HTTP 413). Default 4194304 (4 MiB),
   * the default message limit of gRPC servers and of the OpenTelemetry Collector's gRPC receiver.
   */
  maxExportBytes?: number;
}

/** Settings an OTLP transport resolved at construction. */
interface ResolvedOtlp {
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeout: number;
  resource: ResourceLike;
  maxExportBytes: number;
}

interface TraceSerializer {
  serializeRequest(spans: ReadableSpanLike[]): Uint8Array | undefined;
}

interface OtlpTransformer {
  ProtobufTraceSerializer: TraceSerializer;
  JsonTraceSerializer: TraceSerializer;
}

interface MergeableResource extends ResourceLike {
  merge(other: unknown): MergeableResource;
}

interface OtelResources {
  defaultResource(): MergeableResource;
  detectResources(config: { detectors: unknown[] }): unknown;
  envDetector: unknown;
  resourceFromAttributes(attributes: Record<string, SpanAttributeValue>): unknown;
}

interface OtelContext {
  readonly __brand?: 'Context';
}

interface OtelApi {
  context: { active(): OtelContext; with<T>(context: OtelContext, fn: () => T): T };
}

interface OtelCore {
  suppressTracing(context: OtelContext): OtelContext;
}

interface GrpcClient {
  makeUnaryRequest(
    method: string,
    serialize: (value: Buffer) => Buffer,
    deserialize: (value: Buffer) => Buffer,
    argument: Buffer,
    metadata: unknown,
    options: { deadline: number },
    callback: (error: (Error & { code?: number; details?: string }) | null) => void,
  ): unknown;
  close(): void;
}

interface GrpcModule {
  Client: new (address: string, credentials: unknown, options: Record<string, unknown>) => GrpcClient;
  credentials: { createInsecure(): unknown; createSsl(): unknown };
  Metadata: new () => { set(key: string, value: string): void };
}

const TRACES_PATH = '/v1/traces';
const GRPC_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const TRANSFORMER = '@opentelemetry/otlp-transformer';
const GRPC = '@grpc/grpc-js';
const INSTALL = 'npm i @opentelemetry/otlp-transformer@^0.223.0 @opentelemetry/api@^1.9.0';

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
  private grpc?: { module: GrpcModule; client?: GrpcClient };
  /** The OpenTelemetry context API and suppressTracing, from the transformer's own dependencies (global-safe). */
  private readonly suppression: { api?: OtelApi; core?: OtelCore };

  constructor(options: OtlpTransportOptions = {}) {
    rememberOrigin(this, 'otlp', options ?? {});
    this.settings = this.resolve(options ?? {});
    this.url = this.settings.url;
    this.protocol = this.settings.protocol;
    const transformer = loadPeer<OtlpTransformer>(TRANSFORMER, require, `OtlpTransport needs ${TRANSFORMER}`, INSTALL);
    this.serializer =
      this.protocol === 'http/json' ? transformer.JsonTraceSerializer : transformer.ProtobufTraceSerializer;
    this.spanOptions = { resource: this.settings.resource, mode: this.mode() };
    this.suppression = loadSuppression();
    if (this.protocol === 'grpc') {
      this.grpc = {
        module: loadPeer<GrpcModule>(
          GRPC,
          require,
          'OtlpTransport with protocol "grpc" needs @grpc/grpc-js',
          'npm i @grpc/grpc-js',
        ),
      };
    } else {
      // The same sender as ReadMe's, but a batch written in full and never answered is sent again (see HttpSender).
      // The whole call, answer included, stays bounded by `timeout`, as the OpenTelemetry exporters bound theirs.
      this.http = new HttpSender({
        url: new URL(this.url),
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
    }
  }

  /** The spans of a batch, as they will be encoded. */
  spans(exchanges: RedactedExchange[]): ReadableSpanLike[] {
    return buildSpans(exchanges, this.spanOptions);
  }

  async send(exchanges: RedactedExchange[]): Promise<void> {
    const bytes = await this.encode(exchanges);
    if (!bytes) return;
    // Our export is not the app's traffic: an app running the OpenTelemetry SDK's http instrumentation must not
    // trace it (as its own exporters are not), so the call runs in a context with tracing suppressed.
    await this.untraced(() => (this.grpc ? this.sendGrpc(bytes) : this.sendHttp(bytes)));
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
    this.grpc?.client?.close();
    if (this.grpc) this.grpc.client = undefined;
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
    const env = process.env;
    const protocol =
      options.protocol ?? parseProtocol(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL);
    if (!['http/protobuf', 'http/json', 'grpc'].includes(protocol)) {
      throw new Error(`${PACKAGE_NAME}: OTLP protocol must be http/protobuf, http/json or grpc, got "${protocol}".`);
    }
    const url = options.url ?? endpointFromEnv(protocol);
    if (!/^https?:\/\/[^/]+/i.test(url)) {
      throw new Error(`${PACKAGE_NAME}: OTLP url must be an http(s) URL, got ${JSON.stringify(url)}.`);
    }
    const timeout =
      options.timeout ?? positive(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? 10_000;
    if (!Number.isInteger(timeout) || timeout <= 0) {
      throw new Error(`${PACKAGE_NAME}: OTLP timeout must be a positive whole number of ms, got ${String(timeout)}.`);
    }
    const headers = {
      ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
      ...options.headers,
    };
    return {
      url,
      protocol,
      headers,
      timeout,
      resource: buildResource(options, true),
      maxExportBytes: maxExportBytes(options.maxExportBytes),
    };
  }

  private async sendHttp(body: Buffer): Promise<void> {
    const { status, retryAfter } = await this.http!.post(body);
    if (status >= 200 && status < 300) return;
    throw new MetricsDeliveryError(`OTLP collector answered HTTP ${status}`, status, parseRetryAfter(retryAfter));
  }

  private sendGrpc(body: Buffer): Promise<void> {
    const grpc = this.grpc!;
    const { module } = grpc;
    if (!grpc.client) {
      const url = new URL(this.url);
      const tls = url.protocol === 'https:';
      const address = `${url.hostname}:${url.port || (tls ? 443 : 80)}`;
      grpc.client = new module.Client(
        address,
        tls ? module.credentials.createSsl() : module.credentials.createInsecure(),
        {
          'grpc.primary_user_agent': `${PACKAGE_NAME}/${PACKAGE_VERSION}`,
        },
      );
    }
    const metadata = new module.Metadata();
    for (const [key, value] of Object.entries(this.settings.headers)) metadata.set(key.toLowerCase(), value);
    const client = grpc.client;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        GRPC_METHOD,
        (value) => value,
        (value) => value,
        body,
        metadata,
        { deadline: Date.now() + this.settings.timeout },
        (error) => {
          if (!error) return resolve();
          const status = GRPC_TO_HTTP[error.code ?? -1] ?? 422;
          reject(
            new MetricsDeliveryError(
              `OTLP collector answered gRPC ${GRPC_NAMES[error.code ?? -1] ?? error.code}: ${error.details ?? error.message}`,
              status === 0 ? undefined : status,
            ),
          );
        },
      );
    });
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
const GRPC_TO_HTTP: Record<number, number> = {
  1: 0,
  3: 400,
  4: 0,
  5: 404,
  7: 403,
  8: 429,
  10: 503,
  11: 503,
  12: 404,
  13: 422,
  14: 503,
  15: 503,
  16: 401,
};
const GRPC_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

/**
 * The resource: `service.name`, the telemetry SDK attributes and `OTEL_RESOURCE_ATTRIBUTES` / `OTEL_SERVICE_NAME`
 * (when `fromEnv`), read by @opentelemetry/resources (a dependency of the transformer), then the options.
 */
export function buildResource(options: OtlpTransportOptions, fromEnv: boolean): ResourceLike {
  const transformerRequire = createRequire(requireResolve(TRANSFORMER));
  const resources = loadPeer<OtelResources>(
    '@opentelemetry/resources',
    transformerRequire,
    'OtlpTransport needs @opentelemetry/resources',
    INSTALL,
  );
  const own: Record<string, SpanAttributeValue> = { ...options.resourceAttributes };
  if (options.serviceName !== undefined) own['service.name'] = options.serviceName;
  let resource = resources.defaultResource();
  if (fromEnv) resource = resource.merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const merged = resource.merge(resources.resourceFromAttributes(own));
  // A plain snapshot: the serializer reads `attributes` and `schemaUrl` only.
  return { attributes: { ...merged.attributes }, ...(merged.schemaUrl && { schemaUrl: merged.schemaUrl }) };
}

/**
 * @opentelemetry/api and @opentelemetry/core as the transformer resolves them. Only the context API is used, never a
 * setter: with no context manager registered (an app without the SDK) `with` just calls the function.
 */
function loadSuppression(): { api?: OtelApi; core?: OtelCore } {
  try {
    const from = createRequire(requireResolve(TRANSFORMER));
    return { api: from('@opentelemetry/api') as OtelApi, core: from('@opentelemetry/core') as OtelCore };
  } catch {
    return {};
  }
}

function requireResolve(name: string): string {
  try {
    return require.resolve(name);
  } catch {
    throw missing(name, `OtlpTransport needs ${name}`, INSTALL);
  }
}

/** Loads an optional peer dependency; a clear startup error naming the install command when it is missing. */
function loadPeer<T>(name: string, from: NodeJS.Require, what: string, install: string): T {
  try {
    return from(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw missing(name, what, install);
    throw error;
  }
}

function missing(name: string, what: string, install: string): Error {
  return new Error(`${PACKAGE_NAME}: ${what} (${name} could not be loaded). Run: ${install}`);
}

function parseProtocol(value: string | undefined): OtlpProtocol {
  const protocol = value?.trim();
  return (protocol || 'http/protobuf') as OtlpProtocol;
}

/** The traces endpoint per the OTLP exporter specification. */
function endpointFromEnv(protocol: OtlpProtocol): string {
  const env = process.env;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (protocol === 'grpc') return base || 'http://localhost:4317';
  if (!base) return `http://localhost:4318${TRACES_PATH}`;
  return base.replace(/\/+$/, '') + TRACES_PATH;
}

/** `key1=value1,key2=value2` with percent-encoded values (W3C Baggage format), as the OTEL_* variables use it. */
export function parseKeyValues(value: string | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!value) return result;
  for (const entry of value.split(',')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq).trim();
    let decoded = entry.slice(eq + 1).trim();
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      // kept as written
    }
    if (key) result[key] = decoded;
  }
  return result;
}

export function maxExportBytes(value: number | undefined): number {
  if (value === undefined) return 4 * 1024 * 1024;
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${PACKAGE_NAME}: maxExportBytes must be a positive whole number, got ${String(value)}.`);
  }
  return value;
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n > 0 ? n : undefined;
}
