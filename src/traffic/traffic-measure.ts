import { performance } from 'node:perf_hooks';
import type { Exchange } from '../capture/exchange';
import { routeTemplateOf } from '../capture/platform';

/** `error.type` of a GraphQL answer with `errors` (one value: the errors' codes are the app's, unbounded). */
export const GRAPHQL_ERROR = 'graphql';

/** What the traffic metrics count of one exchange, taken when it settles. */
export interface TrafficMeasure {
  method: string;
  /** The route template as known when the exchange settles; undefined when no route matched. */
  route?: string;
  status: number;
  /** `error.type` of an exchange that failed with a status below 500 (a GraphQL answer with `errors`). */
  errorType?: string;
  seconds: number;
  /** Bytes; negative when unknown. */
  requestBytes: number;
  responseBytes: number;
}

/** The measure of a settling exchange: a few reads of what capture already holds, no parsing of bodies. */
export function measureExchange(exchange: Exchange, status: number): TrafficMeasure {
  const { req, platformRequest } = exchange;
  const length = req.headers['content-length'];
  const requestBytes =
    length !== undefined
      ? Number(length) >= 0
        ? Number(length)
        : -1
      : req.headers['transfer-encoding'] === undefined
        ? 0
        : (exchange.requestBody?.size ?? -1);
  return {
    method: req.method ?? 'GET',
    // A GraphQL request's endpoint is its operation (src/graphql), read before it is counted.
    route: exchange.graphql?.operation ?? routeTemplateOf(platformRequest),
    status,
    errorType: exchange.graphql?.failed ? GRAPHQL_ERROR : undefined,
    seconds: (performance.now() - exchange.startMark) / 1000,
    requestBytes,
    responseBytes: exchange.responseBytes ?? exchange.responseBody?.size ?? -1,
  };
}

/**
 * Bytes of a response body as the platform writes it (`chunk`): its Content-Length when set, else the chunk's own
 * length; -1 for streams and bodies whose earlier parts were already written (unknown).
 */
export function responseBodyBytes(chunk: unknown, contentLength: unknown, streamed: boolean): number {
  const declared = Number(contentLength ?? NaN);
  if (Number.isInteger(declared) && declared >= 0) return declared;
  if (streamed) return -1;
  if (chunk === undefined || chunk === null) return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return -1;
}
