import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import { omittedBody } from './body-capture';
import type { Exchange } from './exchange';
import { clientIpOf, originalUrlOf, originOf, pathParamsOf, routeTemplateOf } from './platform';
import type { RouteRules } from './route-rules';

/** What the response settled with: read from Node's response at close, or the pending head (sync mode). */
export type SettledResponse = Pick<
  CapturedExchange,
  'status' | 'statusText' | 'responseHead' | 'responseHeaders' | 'aborted'
>;

/**
 * The record, from what capture took: strings and numbers only, nothing of the app read later. The request body was
 * taken by then (ExchangeRecorder.takeRequestBody). Bodies the rules leave out are never handed on.
 */
export function snapshotOf(
  exchange: Exchange,
  response: SettledResponse,
  rules: Pick<RouteRules, 'captureRequestBody' | 'captureResponseBody'>,
): Omit<CapturedExchange, 'group'> {
  const { req, platformRequest } = exchange;
  let responseBody = exchange.responseBody;
  if (responseBody && responseBody.size < 0 && response.responseHead) {
    const length = /\r\ncontent-length: *(\d+)/i.exec(response.responseHead)?.[1];
    if (length !== undefined) responseBody = { ...responseBody, size: Number(length) };
  }
  let requestBody = exchange.requestBody;
  // captureRequestBody / captureResponseBody / @MetricsCapture(): the bodies are never handed on.
  if (!rules.captureRequestBody && requestBody) requestBody = omittedBody(requestBody.size, 'captureRequestBody');
  if (!rules.captureResponseBody && responseBody) responseBody = omittedBody(responseBody.size, 'captureResponseBody');
  // One object literal of fixed shape (no spreads): this runs for every recorded request.
  const captured: Omit<CapturedExchange, 'group'> = {
    id: exchange.id,
    platform: platformRequest !== req && (platformRequest as { raw?: unknown }).raw === req ? 'fastify' : 'express',
    startedAt: exchange.startedAt,
    durationMs: performance.now() - exchange.startMark,
    aborted: response.aborted,
    method: req.method ?? 'GET',
    url: originOf(platformRequest, req) + originalUrlOf(req),
    httpVersion: `HTTP/${req.httpVersion}`,
    requestHeaders: req.rawHeaders,
    requestBody,
    status: response.status,
    statusText: response.statusText,
    responseHeaders: response.responseHeaders,
    responseHead: response.responseHead,
    responseBody,
    route: routeTemplateOf(platformRequest),
    pathParams: pathParamsOf(platformRequest),
    clientIp: clientIpOf(platformRequest, req),
    errors: exchange.errors,
    // Completed at hand-over (the group may still be pending); present from the start, so the shape never changes.
    outgoing: undefined,
  };
  if (exchange.graphql) captured.graphql = exchange.graphql;
  return captured;
}

function headerString(value: unknown): string {
  return Array.isArray(value)
    ? value.join(', ')
    : typeof value === 'string'
      ? value
      : value === undefined
        ? ''
        : String(value);
}

/** Node's header object (`getHeaders()`) as name, value pairs. */
export function pairsOf(headers: Record<string, number | string | string[] | undefined>): string[] {
  const pairs: string[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) pairs.push(name, String(item));
    else pairs.push(name, headerString(value));
  }
  return pairs;
}
