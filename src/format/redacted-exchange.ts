import type { CapturedExchange } from '../capture/captured-exchange';
import type { HarEntry, HarNameValue } from '../interfaces/har.interface';
import type { RedactedBody, RedactedExchange } from '../interfaces/redacted-exchange.interface';
import { maskApiKey } from '../redact/mask';
import type { Redactor } from '../redact/redactor';
import { buildHarEntry, redactUrlEcho, type HarEntryOptions } from './har-entry';

/*
 * First version, on the current CapturedExchange: the redacted HAR entry is built exactly as the ReadMe path builds
 * it (buildHarEntry), then read into a RedactedExchange, so both outputs hold the same redacted bytes. The capture
 * redesign replaces this file with a version that builds RedactedExchange directly.
 */

/** The redacted form of one exchange (and of the outgoing calls it made), the source of every OTLP span. */
export function redactExchange(x: CapturedExchange, redactor: Redactor, options: HarEntryOptions): RedactedExchange {
  const exchange = fromEntry(x, buildHarEntry(x, redactor, options));
  if (x.outgoing?.length) {
    exchange.outgoing = x.outgoing.map((call) => ({
      ...fromEntry(call, buildHarEntry(call, redactor, options)),
      kind: 'client',
      parentId: x.id,
    }));
  }
  if (options.serviceVersion !== undefined) exchange.serviceVersion = options.serviceVersion;
  if (options.tags !== undefined) exchange.tags = options.tags;
  return exchange;
}

function fromEntry(x: CapturedExchange, entry: HarEntry): RedactedExchange {
  const { request, response } = entry;
  let url: URL | undefined;
  try {
    url = new URL(request.url);
  } catch {
    url = undefined;
  }
  const scheme = url?.protocol === 'https:' ? 'https' : 'http';
  const port = url?.port ? Number(url.port) : undefined;
  const postData = request.postData;
  const requestBody: RedactedBody | undefined = postData && {
    text: postData.text ?? '',
    mimeType: postData.mimeType,
    size: request.bodySize,
    ...(postData.params && { params: postData.params }),
    ...(postData.comment && { comment: postData.comment }),
  };
  const content = response.content;
  const echo = (text: string) => redactUrlEcho(text, x.url, request.url);
  const exchange: RedactedExchange = {
    id: x.id,
    kind: x.platform === 'http-client' ? 'client' : 'server',
    startedAt: x.startedAt,
    durationMs: x.durationMs,
    method: request.method,
    url: request.url,
    scheme,
    host: url?.hostname.replace(/^\[|\]$/g, '') ?? '',
    ...(port !== undefined && { port }),
    path: url?.pathname ?? '',
    query: request.queryString,
    ...(x.route !== undefined && { route: x.route }),
    httpVersion: request.httpVersion,
    requestHeaders: request.headers,
    ...(requestBody && { requestBody }),
    status: response.status,
    statusText: response.statusText,
    responseHeaders: response.headers,
    responseBody: {
      text: content.text ?? '',
      ...(content.encoding === 'base64' && { encoding: 'base64' as const }),
      mimeType: headerValue(response.headers, 'content-type') ?? '',
      size: content.size,
      ...(content.comment && { comment: content.comment }),
    },
    clientIp: x.clientIp,
    aborted: x.aborted,
    group: {
      id: maskApiKey(x.group.apiKey),
      ...(x.group.label !== undefined && { label: x.group.label }),
      ...(x.group.email !== undefined && { email: x.group.email }),
    },
  };
  if (x.errors) {
    exchange.errors = x.errors.map((e) => ({
      ...e,
      message: echo(e.message),
      rootErrorMessage: echo(e.rootErrorMessage),
      ...(e.stackTrace !== undefined && { stackTrace: echo(e.stackTrace) }),
    }));
  }
  if (x.failure) exchange.failure = { ...x.failure, message: echo(x.failure.message) };
  return exchange;
}

function headerValue(headers: HarNameValue[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value;
}
