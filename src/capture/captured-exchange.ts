import type { HarPostParam } from '../interfaces/har.interface';
import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';

/**
 * A finished exchange as handed from capture to format: references and numbers, nothing built yet. Formatting
 * (HAR, redaction, serialization) happens when the batch is sent.
 */
export interface CapturedExchange {
  id: string;
  /** Decides how a handler's result was serialized on the wire (Nest's Express adapter sends Buffers as JSON). */
  platform: 'express' | 'fastify';
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
  route?: string;
  clientIp: string;
  group: MetricsGroupInfo;
}
