import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { HarNameValue, HarPostParam } from '../interfaces/har.interface';
import type { RedactedBody, RedactedExchange } from '../interfaces/redacted-exchange.interface';
import type { ReportedError } from '../interfaces/reported-error.interface';
import { maskApiKey } from '../redact/mask';
import type { BodyKind, Redactor } from '../redact/redactor';
import { redactGraphqlRequest, scrubGraphqlEchoes } from '../graphql/graphql-format';

export interface RedactExchangeOptions {
  maxBodyBytes: number;
  serviceVersion?: string;
  tags?: string[];
}

/*
 * The format stage of the object transports (a user's MetricsTransport, OTLP, APIToolkit) and of GraphQL records: a
 * captured exchange (plain strings, cut to budget at capture) becomes a RedactedExchange, what their writers write
 * from. Bodies are already text: a JSON body is parsed only when a redaction rule could match it
 * (Redactor.mayChangeJson's key probe spares most). No HAR object tree is built here. ReadMe and HAR-file records
 * are written without it (src/write/entry-text.ts), byte for byte the same; the helpers exported here serve both.
 */

/** Redacts one captured exchange (and the outgoing calls it carries). Never mutates `x`. */
export function redactExchange(
  x: CapturedExchange,
  redactor: Redactor,
  options: RedactExchangeOptions,
): RedactedExchange {
  // GraphQL: documents and variables first (src/graphql), then every rule as for any request.
  const graphql = x.graphql && redactGraphqlRequest(x, redactor);
  const requestPairs = pairsFromFlat(x.requestHeaders);
  const responsePairs = x.responseHead ? pairsFromHead(x.responseHead) : pairsFromFlat(x.responseHeaders);
  const url = redactUrl(redactor, graphql ? graphql.url : x.url);
  const parts = urlParts(url);
  const redacted: RedactedExchange = {
    id: x.id,
    kind: x.platform === 'http-client' ? 'client' : 'server',
    startedAt: x.startedAt,
    durationMs: x.durationMs,
    method: x.method,
    url,
    scheme: parts.scheme,
    host: parts.host,
    path: parts.path,
    query: redactor.params(queryOf(graphql ? graphql.url : x.url)),
    httpVersion: x.httpVersion,
    requestHeaders: redactor.headers(requestPairs),
    status: x.status,
    statusText: x.statusText,
    responseHeaders: redactor.headers(responsePairs),
    responseBody: responseBodyOf(x, headerValue(responsePairs, 'content-type') ?? '', redactor, options),
    clientIp: x.clientIp,
    aborted: x.aborted,
    group: {
      id: maskApiKey(x.group.apiKey),
      ...(x.group.label !== undefined && { label: x.group.label }),
      ...(x.group.email !== undefined && { email: x.group.email }),
    },
  };
  if (parts.port !== undefined) redacted.port = parts.port;
  if (options.serviceVersion !== undefined) redacted.serviceVersion = options.serviceVersion;
  if (options.tags !== undefined) redacted.tags = options.tags;
  if (x.parentId !== undefined) redacted.parentId = x.parentId;
  if (x.route !== undefined) redacted.route = x.route;
  if (x.pathParams) redacted.pathParams = redactPathParams(redactor, x.pathParams);
  const requestBody = requestBodyOf(
    graphql ? { ...x, requestBody: graphql.requestBody } : x,
    headerValue(requestPairs, 'content-type') ?? '',
    redactor,
    options,
  );
  if (requestBody) redacted.requestBody = requestBody;
  // Error bodies echo the URL (Nest's 404: "Cannot GET /path?query"): the echo is redacted like the URL.
  if (redacted.responseBody.text && !redacted.responseBody.encoding) {
    redacted.responseBody.text = redactEcho(redactor, redacted.responseBody.text, x.url, url);
  }
  if (x.graphql) {
    redacted.graphql = { ...x.graphql, ...(graphql?.document !== undefined && { document: graphql.document }) };
  }
  if (x.errors) redacted.errors = x.errors.map((e) => redactError(redactor, e, x.url, url));
  // GraphQL servers echo values they could not coerce: the request's secret values go wherever they were echoed.
  if (graphql?.secrets.length) scrubGraphqlEchoes(redacted, graphql.secrets);
  if (x.failure) redacted.failure = { ...x.failure, message: redactEcho(redactor, x.failure.message, x.url, url) };
  if (x.outgoing?.length) {
    redacted.outgoing = x.outgoing.map((call) =>
      redactExchange({ ...call, parentId: x.id, group: x.group }, redactor, options),
    );
  }
  return redacted;
}

export function redactError(
  redactor: Redactor,
  e: ReportedError,
  originalUrl: string,
  redactedUrl: string,
): ReportedError {
  const echo = (text: string) => redactEcho(redactor, text, originalUrl, redactedUrl);
  return {
    ...e,
    message: echo(e.message),
    rootErrorMessage: echo(e.rootErrorMessage),
    ...(e.stackTrace !== undefined && { stackTrace: echo(e.stackTrace) }),
  };
}

function requestBodyOf(
  x: CapturedExchange,
  mimeType: string,
  redactor: Redactor,
  options: RedactExchangeOptions,
): RedactedBody | undefined {
  const body = x.requestBody;
  if (!body) return undefined;
  const base = { mimeType, size: body.size };
  if (body.comment) return { ...base, text: '', comment: body.comment };
  const form = /^application\/x-www-form-urlencoded\b/i.test(mimeType);
  const multipart = /^multipart\/form-data\b/i.test(mimeType);
  if (form || multipart) {
    const fields = formFields(body, form, redactor);
    const params = [...fields, ...(body.files ?? [])];
    return {
      ...base,
      text: '',
      params,
      ...(body.truncated && { comment: `fields cut to ${options.maxBodyBytes} bytes of ${body.size}` }),
    };
  }
  if (body.encoding === 'base64') {
    return { ...base, text: '', comment: `binary body of ${body.size} bytes, not captured` };
  }
  return { ...base, ...redactedText(body, mimeType, 'request', redactor, options) };
}

function responseBodyOf(
  x: CapturedExchange,
  contentType: string,
  redactor: Redactor,
  options: RedactExchangeOptions,
): RedactedBody {
  const mimeType = contentType || 'application/octet-stream';
  const body = x.responseBody;
  const bodiless = x.method === 'HEAD' || x.status === 204 || x.status === 304;
  if (bodiless || !body) return { text: '', mimeType, size: 0 };
  if (body.comment) return { text: '', mimeType, size: body.size, comment: body.comment };
  if (body.encoding === 'base64') {
    return {
      text: body.text,
      encoding: 'base64',
      mimeType,
      size: body.size,
      ...(body.truncated && { comment: cutComment(options.maxBodyBytes, body.size) }),
    };
  }
  return { mimeType, size: body.size, ...redactedText(body, mimeType, 'response', redactor, options) };
}

export function cutComment(max: number, size: number): string {
  return `truncated to ${max} of ${size >= 0 ? size : 'more'} bytes`;
}

/** A text body, redacted: JSON through the redactor (only when a rule could match), other text as it is. */
function redactedText(
  body: CapturedBody,
  mimeType: string,
  kind: BodyKind,
  redactor: Redactor,
  options: RedactExchangeOptions,
): { text: string; comment?: string } {
  // A parsed-body snapshot is JSON whatever the header says.
  const type = body.source === 'parsed' ? 'application/json' : mimeType;
  const result = body.text ? redactor.bodyText(body.text, type, kind, body.truncated) : { text: '', changed: false };
  // Text that cannot be proven clean is never sent: the reason goes in its place.
  if ('dropped' in result) return { text: '', comment: result.dropped };
  return body.truncated
    ? { text: result.text, comment: cutComment(options.maxBodyBytes, body.size) }
    : { text: result.text };
}

/** Form fields (from the parsed snapshot, or the raw urlencoded bytes), redacted. */
export function formFields(body: CapturedBody, urlencoded: boolean, redactor: Redactor): HarPostParam[] {
  if (body.source === 'wire' && urlencoded) {
    return redactor.params([...new URLSearchParams(body.text)].map(([name, value]) => ({ name, value })));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.text);
  } catch {
    return []; // cut mid-field: nothing that can be proven clean
  }
  return redactor.params(paramsOf(redactor.body(parsed, 'request').value));
}

/** Form fields as HAR params: repeated fields stay repeated, nested values are written as JSON. */
function paramsOf(body: unknown): HarPostParam[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  const params: HarPostParam[] = [];
  for (const [name, value] of Object.entries(body)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      params.push({ name, value: typeof item === 'string' ? item : (JSON.stringify(item) ?? '') });
    }
  }
  return params;
}

// ---- Calls into the Redactor (one place, so a change of its API touches only these) ----

function redactUrl(redactor: Redactor, url: string): string {
  return redactor.url(url);
}

/**
 * Error bodies and messages often echo the request URL (Nest's 404: "Cannot GET /path?query"). When the URL's query
 * had values redacted, the same path and query is redacted wherever the text repeats it.
 */
function redactEcho(redactor: Redactor, text: string, originalUrl: string, redactedUrl: string): string {
  return redactor.echo(text, originalUrl, redactedUrl);
}

function redactPathParams(redactor: Redactor, params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name, value } of redactor.params(Object.entries(params).map(([name, value]) => ({ name, value })))) {
    out[name] = value;
  }
  return out;
}

// ---- Parsing helpers ----

function urlParts(url: string): { scheme: 'http' | 'https'; host: string; port?: number; path: string } {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/i.exec(url);
  const scheme = match?.[1]?.toLowerCase() === 'https' ? 'https' : 'http';
  const authority = (match?.[2] ?? '').replace(/^.*@/, '');
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  const port = hostPort?.[2] === undefined ? undefined : Number(hostPort[2]);
  return { scheme, host: hostPort?.[1] ?? authority, ...(port !== undefined && { port }), path: match?.[3] || '/' };
}

export function queryOf(url: string): HarNameValue[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const hash = url.indexOf('#', q);
  return [...new URLSearchParams(url.slice(q + 1, hash < 0 ? undefined : hash))].map(([name, value]) => ({
    name,
    value,
  }));
}

function pairsFromFlat(flat: string[]): HarNameValue[] {
  const pairs: HarNameValue[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push({ name: flat[i] as string, value: flat[i + 1] as string });
  return pairs;
}

/** Parses the response head Node sent ("HTTP/1.1 200 OK\r\nname: value\r\n…"). */
function pairsFromHead(head: string): HarNameValue[] {
  const pairs: HarNameValue[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) pairs.push({ name: line.slice(0, colon), value: line.slice(colon + 1).trim() });
  }
  return pairs;
}

export function headerValue(headers: HarNameValue[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value;
}
