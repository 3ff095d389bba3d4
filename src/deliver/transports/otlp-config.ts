import { createRequire } from 'node:module';
import type { ResourceLike, SpanAttributeValue } from '../../format/otlp/span';
import { PACKAGE_NAME } from '../../metrics.constants';
import { INSTALL, loadPeer, requireResolve, TRANSFORMER } from './otlp-peers';

/* The OTLP transports' options and how they are resolved with the standard OTEL_* environment variables. */

const TRACES_PATH = '/v1/traces';

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
export interface ResolvedOtlp {
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeout: number;
  resource: ResourceLike;
  maxExportBytes: number;
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

/** Reads options and the standard OTEL_* environment variables (options win). */
export function resolveOtlp(options: OtlpTransportOptions): ResolvedOtlp {
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
