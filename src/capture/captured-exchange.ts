import type { HarPostParam } from '../interfaces/har.interface';
import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { ReportedError } from './reported-error';

/**
 * A finished exchange as handed from capture to format: references and numbers, nothing built yet. Formatting
 * (HAR, redaction, serialization) happens when the batch is sent.
 */
export interface CapturedExchange {
  id: string;
  /**
   * Decides how a body was serialized on the wire (Nest's Express adapter sends Buffers as JSON); `http-client`
   * for outgoing calls.
   */
  platform: 'express' | 'fastify' | 'http-client';
  startedAt: number;
  durationMs: number;
  /** The client went away before the response was complete. */
  aborted: boolean;
  method: string;
  /** scheme://host/path?query, as the client asked for it. */
  url: string;
  httpVersion: string;
  /** Node's `rawHeaders` (name, value, name, value…): the request headers as received. */
  requestHeaders: string[];
  requestBody: unknown;
  requestRawBody?: Buffer;
  requestFiles: HarPostParam[];
  status: number;
  statusText: string;
  /** The response head as sent (Node's header block), or the headers set so far when none was sent. */
  responseHead?: string;
  responseHeaders: Record<string, number | string | string[] | undefined>;
  responseBody: unknown;
  hasResponseBody: boolean;
  /** The route's rules said not to record the request body (`captureRequestBody` / `@MetricsCapture()`). */
  requestBodyOmitted?: true;
  /** The route's rules said not to record the response body. */
  responseBodyOmitted?: true;
  route?: string;
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
}
