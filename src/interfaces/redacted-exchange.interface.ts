import type { ReportedError } from './reported-error.interface';
import type { HarNameValue, HarPostParam } from './har.interface';

/*
 * The format stage's output: one exchange after every redaction rule was applied, as plain strings. It is the one
 * source of truth for what may leave the server: the ReadMe (HAR) writer and the OpenTelemetry span builder both
 * write from it, and write nothing it does not hold.
 */

/** A body as it may leave the server: redacted, cut to `maxBodyBytes`. */
export interface RedactedBody {
  /** UTF-8 text, or base64 of the kept bytes when `encoding` is set; '' when the body is not recorded. */
  text: string;
  encoding?: 'base64';
  /** MIME type from the Content-Type header ('' when there was none). */
  mimeType: string;
  /** Size in bytes of the whole body as sent (before any cut); -1 when unknown (streams). */
  size: number;
  /** Form bodies (urlencoded, multipart) as redacted fields; file parts carry fileName/contentType, never bytes. */
  params?: HarPostParam[];
  /** Why `text` is missing or shorter than the body: cut to budget, stream, binary, could not be proven clean. */
  comment?: string;
}

/** Who called, as it may leave the server: the API key only as its masked hash. */
export interface RedactedGroup {
  /** `sha512-<base64 sha512 of the key>?<last 4 chars>`. */
  id: string;
  label?: string;
  email?: string;
}

/** One recorded exchange after redaction. */
export interface RedactedExchange {
  /** uuid v4, the record's `_id`; an outgoing call has its own. */
  id: string;
  /** `server`: a request the app answered; `client`: an outgoing call the app made while handling one. */
  kind: 'server' | 'client';
  /** For an outgoing call: the `id` of the request that made it. */
  parentId?: string;
  /** Epoch milliseconds. */
  startedAt: number;
  durationMs: number;
  method: string;
  /** Absolute URL built from validated parts; query values and userinfo passwords redacted. */
  url: string;
  scheme: 'http' | 'https';
  /** Host name (no port). */
  host: string;
  port?: number;
  /** The path, without query or fragment. */
  path: string;
  /** The query string as redacted pairs, in order. */
  query: HarNameValue[];
  /** The route template (`/api/orders/:id`, global prefix and version included); undefined for unknown routes. */
  route?: string;
  /** Route parameters (`{ id: '42' }`), redacted like query parameters. */
  pathParams?: Record<string, string>;
  /** `HTTP/1.1`, `HTTP/2.0`. */
  httpVersion: string;
  requestHeaders: HarNameValue[];
  /** Undefined when the request had no body. */
  requestBody?: RedactedBody;
  /** 0 when no response was sent (client aborted, outgoing call failed without one). */
  status: number;
  statusText: string;
  responseHeaders: HarNameValue[];
  responseBody: RedactedBody;
  clientIp: string;
  /** The client went away before the response was complete. */
  aborted: boolean;
  /** Errors reported while the request was open; messages and stacks with URL echoes redacted. */
  errors?: ReportedError[];
  /** For an outgoing call that failed without a response (network error, timeout). */
  failure?: { code?: string; message: string };
  group: RedactedGroup;
  /** Outgoing calls made and finished while this request was open (kind `client`, parentId = this id). */
  outgoing?: RedactedExchange[];
  /** The `serviceVersion` option, when set. */
  serviceVersion?: string;
  /** The `tags` option, when set. */
  tags?: string[];
  /** A GraphQL request (docs/graphql.md). */
  graphql?: RedactedGraphql;
}

/** A GraphQL request as it may leave the server. */
export interface RedactedGraphql {
  /** The endpoint: `query GetOrder`, `mutation { refund }`, `batch: …`; undefined when the operation is unknown. */
  operation?: string;
  /** The selected operation of each request (one, or one per request of a batch); undefined when unknown. */
  operations: ({ type: 'query' | 'mutation' | 'subscription'; name?: string } | undefined)[];
  /** The response had `errors` (or a resolver threw): recorded as failed whatever the HTTP status. */
  failed: boolean;
  /** The document, redacted (a single request; not for batches). */
  document?: string;
}
