import type { GraphqlOperationSummary } from '../graphql/graphql-operation-name';
import type { HarPostParam } from './har.interface';
import type { MetricsGroupInfo } from './metrics-group.interface';
import type { ReportedError } from './reported-error.interface';

/**
 * A body as capture took it: the bytes that went over the wire (or, for a request body the platform parsed without
 * keeping its bytes, a JSON snapshot of the parsed value taken before the handler ran), cut to `maxBodyBytes` at
 * that moment. Plain strings: nothing here refers to an object of the app.
 */
export interface CapturedBody {
  /** UTF-8 text, or base64 of the kept bytes when `encoding` is set. '' when not captured (see `comment`). */
  text: string;
  encoding?: 'base64';
  /** Size in bytes of the whole body (before the cut); -1 when unknown. */
  size: number;
  /** `text` holds only the first `maxBodyBytes` bytes of the body. */
  truncated: boolean;
  /**
   * `wire`: the bytes as sent or received. `parsed`: JSON of the value the app's body parser produced (no raw bytes
   * were kept): form fields are rebuilt from it.
   */
  source: 'wire' | 'parsed';
  /** Multipart file parts: field name, file name and type; never the file bytes. */
  files?: HarPostParam[];
  /** Why `text` is empty: a stream, a body the app did not parse, a value that could not be serialized. */
  comment?: string;
}

/** A finished exchange as handed from capture to format: plain strings and numbers only. */
export interface CapturedExchange {
  id: string;
  /** `express`/`fastify`: a request the app answered; `http-client`: an outgoing call it made. */
  platform: 'express' | 'fastify' | 'http-client';
  startedAt: number;
  durationMs: number;
  /** The client went away before the response was complete. */
  aborted: boolean;
  method: string;
  /** scheme://host/path?query, as the client asked for it. */
  url: string;
  httpVersion: string;
  /** Request headers as received: name, value, name, value… */
  requestHeaders: string[];
  /** Undefined when the request had no body. */
  requestBody?: CapturedBody;
  /** 0 when no response reached the client (it went away first, or an outgoing call failed without one). */
  status: number;
  statusText: string;
  /** Response headers as set when no head was sent (name, value, name, value…); empty when `responseHead` is set. */
  responseHeaders: string[];
  /** The response head as Node wrote it (`HTTP/1.1 200 OK\r\nname: value\r\n…`), parsed by the format stage. */
  responseHead?: string;
  /** Undefined when no body was sent (HEAD, 204, 304, empty answers). */
  responseBody?: CapturedBody;
  /** The route template (`/api/orders/:id`), undefined for unmatched routes. */
  route?: string;
  /** Route parameters as strings (a copy). */
  pathParams?: Record<string, string>;
  clientIp: string;
  group: MetricsGroupInfo;
  /** Errors reported during the request (`_errors`). */
  errors?: ReportedError[];
  /** Outgoing calls made and finished during the request, shipped after it in the same HAR log. */
  outgoing?: CapturedExchange[];
  /** For an outgoing call: the `_id` of the incoming request that made it. */
  parentId?: string;
  /** For an outgoing call that failed without a response (network error, timeout). */
  failure?: { code?: string; message: string };
  /** A GraphQL request: its operations, and whether the response had `errors` (docs/graphql.md). */
  graphql?: CapturedGraphql;
}

/** What capture learned of a GraphQL request. */
export interface CapturedGraphql extends GraphqlOperationSummary {
  /** The response's `errors` array was not empty (or a resolver threw): the exchange failed, whatever its status. */
  failed: boolean;
}
