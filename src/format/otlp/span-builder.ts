import { randomBytes } from 'node:crypto';
import type { HarNameValue } from '../../interfaces/har.interface';
import type { RedactedBody, RedactedExchange, RedactedGraphql } from '../../interfaces/redacted-exchange.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import {
  hrTime,
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  STATUS_ERROR,
  STATUS_UNSET,
  type ReadableSpanLike,
  type ResourceLike,
  type SpanAttributes,
  type SpanContextLike,
  type SpanEventLike,
} from './span';

export interface SpanBuilderOptions {
  resource: ResourceLike;
  /**
   * `apitoolkit`: also the span name and attributes APIToolkit's (Monoscope's) ingestion reads, as its own SDKs
   * (monoscope-js 1.1.1 `setAttributes`) write them.
   */
  mode: 'otlp' | 'apitoolkit';
}

/** Span name APIToolkit's ingestion recognises as an SDK span (monoscope `Telemetry.sdkSpanNames`). */
const APITOOLKIT_SPAN_NAME = 'monoscope.http';
/** The instrumentation scope of every span. */
export const SCOPE = { name: PACKAGE_NAME, version: PACKAGE_VERSION };
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/**
 * Turns redacted exchanges into finished spans: one SERVER span per exchange, a CLIENT child span per outgoing call.
 * Reads nothing but the RedactedExchange, so a span can hold nothing the redaction did not let through.
 */
export function buildSpans(exchanges: RedactedExchange[], options: SpanBuilderOptions): ReadableSpanLike[] {
  const spans: ReadableSpanLike[] = [];
  for (const x of exchanges) {
    const remote = x.kind === 'server' ? parentFromTraceparent(x.requestHeaders) : undefined;
    const context: SpanContextLike = {
      traceId: remote?.traceId ?? randomHex(16),
      spanId: randomHex(8),
      traceFlags: remote?.traceFlags ?? 1,
    };
    spans.push(buildSpan(x, context, remote, options));
    for (const call of x.outgoing ?? []) {
      const child: SpanContextLike = { traceId: context.traceId, spanId: randomHex(8), traceFlags: context.traceFlags };
      // An outgoing call is made on behalf of the request's caller, in the same service.
      const linked: RedactedExchange = {
        ...call,
        kind: 'client',
        parentId: x.id,
        group: x.group,
        serviceVersion: x.serviceVersion,
        tags: x.tags,
      };
      spans.push(buildSpan(linked, child, context, options));
    }
  }
  return spans;
}

function buildSpan(
  x: RedactedExchange,
  context: SpanContextLike,
  parent: SpanContextLike | undefined,
  options: SpanBuilderOptions,
): ReadableSpanLike {
  const server = x.kind === 'server';
  const attributes = server ? serverAttributes(x) : clientAttributes(x);
  addCommon(x, attributes);
  if (options.mode === 'apitoolkit') addApitoolkit(x, attributes);
  if (x.graphql) addGraphql(x.graphql, attributes);
  const graphqlFailed = x.graphql?.failed === true && x.status < 500;
  const failed = server ? x.status >= 500 || graphqlFailed : x.failure !== undefined || x.status >= 400;
  if (failed) {
    attributes['error.type'] = graphqlFailed
      ? (x.errors?.find((e) => e.code !== undefined)?.code ?? 'GraphQLError')
      : (x.failure?.code ?? (x.status ? String(x.status) : '_OTHER'));
  }
  const start = hrTime(x.startedAt);
  const end = hrTime(x.startedAt + Math.max(0, x.durationMs));
  const events: SpanEventLike[] = (x.errors ?? []).map((e) => {
    const when = Date.parse(e.when);
    const event: SpanEventLike = {
      name: 'exception',
      time: Number.isFinite(when) ? hrTime(when) : end,
      attributes: { 'exception.type': e.errorType, 'exception.message': e.message },
      droppedAttributesCount: 0,
    };
    if (e.stackTrace !== undefined) event.attributes['exception.stacktrace'] = e.stackTrace;
    // GraphQL errors: where in the result (`order.items.0`) and their `extensions.code`.
    if (e.path) event.attributes['graphql.error.path'] = e.path.join('.');
    if (e.code !== undefined) event.attributes['graphql.error.code'] = e.code;
    return event;
  });
  const name =
    options.mode === 'apitoolkit'
      ? APITOOLKIT_SPAN_NAME
      : server && x.graphql?.operation
        ? x.graphql.operation
        : server && x.route
          ? `${x.method} ${x.route}`
          : x.method;
  return {
    name,
    kind: server ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT,
    spanContext: () => context,
    ...(parent && { parentSpanContext: parent }),
    startTime: start,
    endTime: end,
    duration: hrTime(Math.max(0, x.durationMs)),
    status: failed ? { code: STATUS_ERROR, ...(x.failure && { message: x.failure.message }) } : { code: STATUS_UNSET },
    attributes,
    links: [],
    events,
    ended: true,
    resource: options.resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** Stable HTTP server semantic conventions. */
function serverAttributes(x: RedactedExchange): SpanAttributes {
  const attributes: SpanAttributes = {
    'http.request.method': x.method,
    'url.scheme': x.scheme,
    'url.path': x.path,
  };
  if (x.query.length) attributes['url.query'] = queryString(x.query);
  if (x.route !== undefined) attributes['http.route'] = x.route;
  if (x.clientIp) attributes['client.address'] = x.clientIp;
  if (x.host) attributes['server.address'] = x.host;
  attributes['server.port'] = x.port ?? (x.scheme === 'https' ? 443 : 80);
  return attributes;
}

/**
 * GraphQL semantic conventions (`graphql.operation.type`, `graphql.operation.name`, `graphql.document`, redacted);
 * a batch has several operations, so only their shared type is set, and no name or document.
 */
function addGraphql(graphql: RedactedGraphql, attributes: SpanAttributes): void {
  const [first, ...others] = graphql.operations;
  if (!first) return;
  if (others.every((o) => o?.type === first.type)) attributes['graphql.operation.type'] = first.type;
  if (others.length) return;
  if (first.name !== undefined) attributes['graphql.operation.name'] = first.name;
  if (graphql.document !== undefined) attributes['graphql.document'] = graphql.document;
}

/** Stable HTTP client semantic conventions. */
function clientAttributes(x: RedactedExchange): SpanAttributes {
  const attributes: SpanAttributes = { 'http.request.method': x.method, 'url.full': x.url };
  if (x.host) attributes['server.address'] = x.host;
  attributes['server.port'] = x.port ?? (x.scheme === 'https' ? 443 : 80);
  return attributes;
}

function addCommon(x: RedactedExchange, attributes: SpanAttributes): void {
  if (x.status > 0) attributes['http.response.status_code'] = x.status;
  const version = /^HTTP\/(\d(?:\.\d)?)/i.exec(x.httpVersion)?.[1];
  if (version) attributes['network.protocol.version'] = version === '2.0' ? '2' : version;
  const userAgent = x.requestHeaders.find((h) => h.name.toLowerCase() === 'user-agent')?.value;
  if (userAgent !== undefined) attributes['user_agent.original'] = userAgent;
  addHeaders('http.request.header.', x.requestHeaders, attributes);
  addHeaders('http.response.header.', x.responseHeaders, attributes);
  if (x.requestBody && x.requestBody.size >= 0) attributes['http.request.body.size'] = x.requestBody.size;
  if (x.responseBody.size >= 0) attributes['http.response.body.size'] = x.responseBody.size;
  attributes['user.id'] = x.group.id;
  if (x.group.label !== undefined) attributes['user.name'] = x.group.label;
  if (x.group.email !== undefined) attributes['user.email'] = x.group.email;
  if (x.serviceVersion !== undefined) attributes['service.version'] = x.serviceVersion;
  if (x.tags !== undefined) attributes['tags'] = x.tags;
}

/** `http.request.header.<lower-case name>`: every value of the header, in order, as a string array. */
function addHeaders(prefix: string, headers: HarNameValue[], attributes: SpanAttributes): void {
  for (const { name, value } of headers) {
    const key = prefix + name.toLowerCase();
    const values = attributes[key];
    if (Array.isArray(values)) values.push(value);
    else attributes[key] = [value];
  }
}

/**
 * What APIToolkit's SDKs write on their spans (monoscope-js 1.1.1, packages/common/src/apitoolkit.ts
 * `setAttributes`) and its ingestion reads: bodies as base64, query and path parameters as JSON text, errors as
 * JSON of its ATError shape. Everything is taken from the redacted exchange.
 */
function addApitoolkit(x: RedactedExchange, attributes: SpanAttributes): void {
  const server = x.kind === 'server';
  attributes['net.host.name'] = x.host;
  attributes['apitoolkit.msg_id'] = x.id;
  attributes['http.route'] = server ? (x.route ?? x.path) : x.path;
  attributes['http.target'] = x.query.length ? `${x.path}?${queryString(x.query)}` : x.path;
  attributes['http.request.query_params'] = JSON.stringify(paramsObject(x.query));
  attributes['http.request.path_params'] = JSON.stringify(x.pathParams ?? {});
  attributes['apitoolkit.sdk_type'] = server ? 'JsNest' : 'JsAxiosOutgoing';
  attributes['apitoolkit.parent_id'] = x.parentId ?? '';
  attributes['http.request.body'] = base64Body(x.requestBody);
  attributes['http.response.body'] = base64Body(x.responseBody);
  attributes['apitoolkit.errors'] = JSON.stringify(
    (x.errors ?? []).map((e) => ({
      when: e.when,
      error_type: e.errorType,
      root_error_type: e.rootErrorType,
      message: e.message,
      root_error_message: e.rootErrorMessage,
      stack_trace: e.stackTrace ?? '',
    })),
  );
  attributes['apitoolkit.service_version'] = x.serviceVersion ?? '';
  attributes['apitoolkit.tags'] = x.tags ?? [];
}

/** The body as APIToolkit wants it: base64 of its text; form bodies as the JSON object of their fields. */
function base64Body(body: RedactedBody | undefined): string {
  if (!body) return '';
  if (body.encoding === 'base64') return body.text;
  if (!body.text && body.params?.length) {
    const fields: Record<string, string | string[]> = {};
    for (const p of body.params) {
      const value =
        p.fileName !== undefined ? `[${p.contentType ?? 'application/octet-stream'}_FILE]` : (p.value ?? '');
      const existing = fields[p.name];
      fields[p.name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    return Buffer.from(JSON.stringify(fields)).toString('base64');
  }
  return Buffer.from(body.text).toString('base64');
}

function paramsObject(pairs: HarNameValue[]): Record<string, string | string[]> {
  const object: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const { name, value } of pairs) {
    const existing = object[name];
    object[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return object;
}

function queryString(pairs: HarNameValue[]): string {
  return pairs.map(({ name, value }) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');
}

/** The W3C trace context of the request (`traceparent`), when valid: our span continues that trace. */
function parentFromTraceparent(headers: HarNameValue[]): SpanContextLike | undefined {
  const values = headers.filter((h) => h.name.toLowerCase() === 'traceparent');
  if (values.length !== 1) return undefined; // none, or ambiguous
  const match = TRACEPARENT.exec(values[0]!.value.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  if (version === '00' && match[0].length !== 55) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 1, isRemote: true };
}

/**
 * Random ids from a pool refilled 4 KiB at a time: one randomBytes call per id cost more than encoding the span
 * (as crypto.randomUUID, which pools the same way).
 */
function randomHex(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > pool.length) {
      pool = randomBytes(POOL_BYTES);
      poolAt = 0;
    }
    const hex = pool.toString('hex', poolAt, (poolAt += bytes));
    if (!/^0+$/.test(hex)) return hex; // all-zero ids are invalid
  }
}

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;
