import type { CapturedExchange } from '../capture/captured-exchange';
import type { HarContent, HarEntry, HarNameValue, HarPostData, HarPostParam } from '../interfaces/har.interface';
import type { BodyKind, Redactor } from '../redact/redactor';
import { capBody, decodeContentEncoding, EMPTY_BODY, isJson, serializeBody, type SerializedBody } from './body';

export interface HarEntryOptions {
  maxBodyBytes: number;
  serviceVersion?: string;
  tags?: string[];
}

/** Builds the redacted HAR 1.2 entry of one exchange. Runs off the request path, when a batch is sent. */
export function buildHarEntry(x: CapturedExchange, redactor: Redactor, options: HarEntryOptions): HarEntry {
  const requestHeaders = pairsFromRaw(x.requestHeaders);
  const responseHeaders = x.responseHead ? pairsFromHead(x.responseHead) : pairsFromObject(x.responseHeaders);
  const requestType = headerValue(requestHeaders, 'content-type') ?? '';
  const responseType = headerValue(responseHeaders, 'content-type') ?? '';
  const url = redactor.url(x.url);
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(url)?.[0] ?? '';
  const postData = buildPostData(x, requestHeaders, requestType, redactor, options.maxBodyBytes);
  const requestLength = Number(headerValue(requestHeaders, 'content-length'));
  const entry: HarEntry = {
    pageref: x.route ? origin + x.route : url,
    startedDateTime: new Date(x.startedAt).toISOString(),
    time: x.durationMs,
    request: {
      method: x.method,
      url,
      httpVersion: x.httpVersion,
      cookies: [],
      headers: redactor.headers(requestHeaders),
      queryString: redactor.params(queryOf(x.url)),
      ...(postData && { postData }),
      headersSize: -1,
      bodySize: Number.isFinite(requestLength) ? requestLength : -1,
    },
    response: {
      status: x.status,
      statusText: x.statusText,
      httpVersion: x.httpVersion,
      cookies: [],
      headers: redactor.headers(responseHeaders),
      content: withUrlEchoRedacted(
        buildContent(x, responseHeaders, responseType, redactor, options.maxBodyBytes),
        x.url,
        url,
        redactor,
      ),
      redirectURL: redactor.url(headerValue(responseHeaders, 'location') ?? ''),
      headersSize: -1,
      bodySize: -1,
      ...(x.aborted && { comment: 'the client closed the connection before the response was complete' }),
    },
    cache: {},
    timings: { send: 0, wait: x.durationMs, receive: 0 },
  };
  if (options.serviceVersion !== undefined) entry._serviceVersion = options.serviceVersion;
  if (options.tags !== undefined) entry._tags = options.tags;
  return entry;
}

function withUrlEchoRedacted(
  content: HarContent,
  originalUrl: string,
  redactedUrl: string,
  redactor: Redactor,
): HarContent {
  if (content.encoding || !content.text) return content;
  const text = redactor.echo(content.text, originalUrl, redactedUrl);
  return text === content.text ? content : { ...content, text };
}

function buildPostData(
  x: CapturedExchange,
  headers: HarNameValue[],
  mimeType: string,
  redactor: Redactor,
  maxBodyBytes: number,
): HarPostData | undefined {
  const length = headerValue(headers, 'content-length');
  const hasContent =
    (length !== undefined && length !== '0') || headerValue(headers, 'transfer-encoding') !== undefined;
  if (!hasContent) return undefined;
  const body = x.requestBody;
  if (/^application\/x-www-form-urlencoded\b/i.test(mimeType) && isPlainObject(body)) {
    return { mimeType, params: redactor.params(paramsOf(redactCopy(body, 'request', redactor))) };
  }
  if (/^multipart\/form-data\b/i.test(mimeType) && (isPlainObject(body) || x.requestFiles.length)) {
    const fields = isPlainObject(body) ? paramsOf(redactCopy(body, 'request', redactor)) : [];
    return { mimeType, params: [...redactor.params(fields), ...x.requestFiles] };
  }
  // The raw bytes when the app kept them; else what its parser made of them (text, bytes, or parsed JSON).
  const captured =
    x.requestRawBody ??
    (typeof body === 'string' || Buffer.isBuffer(body) || (isJson(mimeType) && body !== undefined) ? body : undefined);
  const serialized = captured === undefined ? undefined : serializeRedacted(captured, mimeType, 'request', redactor);
  if (!serialized) return { mimeType, text: '', comment: 'body not parsed by the application, not captured' };
  if (serialized.encoding === 'base64')
    return { mimeType, text: '', comment: `binary body of ${serialized.size} bytes, not captured` };
  const capped = capBody(serialized, maxBodyBytes);
  return { mimeType, text: capped.text, ...(capped.comment && { comment: capped.comment }) };
}

function buildContent(
  x: CapturedExchange,
  headers: HarNameValue[],
  mimeType: string,
  redactor: Redactor,
  maxBodyBytes: number,
): HarContent {
  const mime = mimeType || 'application/octet-stream';
  const bodiless = x.method === 'HEAD' || x.status === 204 || x.status === 304;
  if (bodiless || !x.hasResponseBody) {
    return { size: 0, mimeType: mime, text: '' };
  }
  const encoding = headerValue(headers, 'content-encoding');
  // Express sends a returned Buffer as JSON (never raw, so never pre-compressed); Fastify sends it as it is.
  const express = x.platform === 'express';
  const body = express ? x.responseBody : decodeContentEncoding(x.responseBody, encoding, maxBodyBytes * 4);
  const serialized = serializeRedacted(body, mime, 'response', redactor, express);
  // The size sent, when the head says it (redaction changes the length of what we keep, not of what was sent).
  const sent = encoding ? NaN : Number(headerValue(headers, 'content-length') ?? NaN);
  const capped = capBody(
    Number.isInteger(sent) && sent >= 0 ? { ...serialized, size: sent } : serialized,
    maxBodyBytes,
  );
  return {
    size: capped.size,
    mimeType: mime,
    text: capped.text,
    ...(capped.encoding && { encoding: capped.encoding }),
    ...(capped.comment && { comment: capped.comment }),
  };
}

/**
 * Serializes a body as the platform sent it, redacted. Objects sent as JSON are redacted without a parse (see
 * Redactor.stringify); JSON text, and rules only jsonpath-plus can apply, go through parse-redact-serialize.
 */
function serializeRedacted(
  value: unknown,
  mimeType: string,
  kind: BodyKind,
  redactor: Redactor,
  binaryAsJson = false,
): SerializedBody {
  if (!isJson(mimeType)) return redactText(serializeBody(value, mimeType, binaryAsJson), mimeType, kind, redactor);
  let redacted = false;
  const body = serializeBody(value, mimeType, binaryAsJson, (object) => {
    const text = redactor.stringify(object, kind);
    redacted = text !== undefined;
    return text ?? JSON.stringify(object);
  });
  return redacted ? body : redactText(body, mimeType, kind, redactor);
}

/** Applies body redaction to a body text (JSON, form or other text; see Redactor.bodyText). */
function redactText(body: SerializedBody, mimeType: string, kind: BodyKind, redactor: Redactor): SerializedBody {
  if (body === EMPTY_BODY || body.encoding || !body.text) return body;
  const result = redactor.bodyText(body.text, mimeType, kind);
  if ('dropped' in result) return { text: '', size: body.size, comment: result.dropped };
  return result.changed ? { ...body, text: result.text } : body;
}

function redactCopy(body: object, kind: BodyKind, redactor: Redactor): unknown {
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(body));
  } catch {
    return {};
  }
  return redactor.body(copy, kind).value;
}

function isPlainObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !Array.isArray(value);
}

/** Form fields as HAR params: repeated fields stay repeated, nested values are written as JSON. */
function paramsOf(body: unknown): HarPostParam[] {
  if (!isPlainObject(body)) return [];
  const params: HarPostParam[] = [];
  for (const [name, value] of Object.entries(body)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      params.push({ name, value: typeof item === 'string' ? item : (JSON.stringify(item) ?? '') });
    }
  }
  return params;
}

function queryOf(url: string): HarNameValue[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const hash = url.indexOf('#', q);
  return [...new URLSearchParams(url.slice(q + 1, hash < 0 ? undefined : hash))].map(([name, value]) => ({
    name,
    value,
  }));
}

function pairsFromRaw(raw: string[]): HarNameValue[] {
  const pairs: HarNameValue[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push({ name: raw[i] as string, value: raw[i + 1] as string });
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

function pairsFromObject(headers: CapturedExchange['responseHeaders']): HarNameValue[] {
  const pairs: HarNameValue[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) pairs.push({ name, value: String(item) });
  }
  return pairs;
}

function headerValue(headers: HarNameValue[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value;
}
