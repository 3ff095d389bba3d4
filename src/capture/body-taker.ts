import type { CapturedBody } from '../interfaces/captured-exchange.interface';
import type { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { TrafficCounter } from '../traffic/traffic-counter';
import type { GraphqlCapture } from '../graphql/graphql-capture';
import {
  captureBytes,
  captureEncoded,
  captureString,
  isStream,
  omittedBody,
  snapshotParsed,
  uploadedFilesOf,
} from './body-capture';
import type { Exchange } from './exchange';
import { parsedBodyOf, rawBodyOf } from './platform';
import type { RoutePolicy } from './route-policy';

/** What the response body is read with: the status and the headers about it, as set when the body is written. */
export interface ResponseHeadOf {
  status: number;
  contentType: string;
  contentEncoding?: string;
  contentLength?: string | number;
}

const STREAMED: CapturedBody = {
  text: '',
  size: -1,
  truncated: false,
  source: 'wire',
  comment: 'streamed body, not captured',
};

/**
 * Takes the bodies as they cross the wire, cut to `maxBodyBytes` right there, each at most once: the request's
 * before the handler runs, the response's as the platform writes it. Sampled-out exchanges are not read.
 */
export class BodyTaker {
  constructor(
    private readonly options: ResolvedMetricsOptions,
    private readonly policy: RoutePolicy,
    private readonly traffic: TrafficCounter,
    private readonly graphql: GraphqlCapture | undefined,
    private readonly logger: MetricsLogger,
  ) {}

  /**
   * Takes the request body once, before the handler runs (the route guard on Express, `preHandler` on Fastify; at
   * close when no handler ran): the raw bytes when the platform kept them, else a JSON snapshot of the parsed body,
   * cut to budget. Multipart bodies are parsed by a route interceptor, after this point: they are taken at close.
   */
  takeRequestBody(exchange: Exchange, atClose = false): void {
    if (exchange.requestBodyTaken) return;
    // Sampled out: no capture work now; should it end in a 5xx (always recorded), the body is taken at close.
    if (!atClose && !this.policy.sampled(exchange)) return;
    try {
      const { req, platformRequest } = exchange;
      const headers = req.headers;
      const length = headers['content-length'];
      if ((length === undefined || length === '0') && headers['transfer-encoding'] === undefined) {
        exchange.requestBodyTaken = true;
        return;
      }
      const size = length === undefined ? -1 : Number(length) >= 0 ? Number(length) : -1;
      if (!this.policy.rulesFor(exchange).captureRequestBody) {
        exchange.requestBody = omittedBody(size, 'captureRequestBody');
        exchange.requestBodyTaken = true;
        return;
      }
      const type = headers['content-type'] ?? '';
      const max = this.options.maxBodyBytes;
      if (/^multipart\/form-data\b/i.test(type)) {
        if (!atClose) return;
        const fields = parsedBodyOf(platformRequest);
        const body = snapshotParsed(fields ?? {}, max, size) ?? {
          text: '{}',
          size,
          truncated: false,
          source: 'parsed',
        };
        exchange.requestBody = { ...body, source: 'parsed', files: uploadedFilesOf(platformRequest) };
        exchange.requestBodyTaken = true;
        return;
      }
      const raw = rawBodyOf(platformRequest);
      if (raw) {
        exchange.requestBody = captureBytes(raw, type, max, raw.length);
      } else {
        const parsed = parsedBodyOf(platformRequest);
        if (parsed === undefined && !atClose) return; // maybe parsed later (a route interceptor)
        exchange.requestBody =
          parsed === undefined
            ? {
                text: '',
                size,
                truncated: false,
                source: 'wire',
                comment: 'body not parsed by the application, not captured',
              }
            : snapshotParsed(parsed, max, size);
      }
      exchange.requestBodyTaken = true;
    } catch (error) {
      exchange.requestBodyTaken = true;
      this.logger.errorOnce('request-body', 'Could not capture a request body', error);
    }
  }

  /**
   * The response body as the platform writes it: `chunk` is what goes to the socket (a string or bytes; a stream is
   * not read). `headersAlreadySent`: earlier writes already went out, so this is the end of a streamed body.
   */
  takeResponseBody(exchange: Exchange, chunk: unknown, headers: ResponseHeadOf, headersAlreadySent = false): void {
    if (exchange.responseBodyTaken || exchange.settled) return;
    exchange.responseBodyTaken = true;
    this.traffic.noteResponse(exchange, chunk, headers.contentLength, headersAlreadySent);
    // Sampled out and not an error: not recorded (a counted GraphQL answer is still read for its errors).
    if (
      headers.status < 500 &&
      !this.policy.sampled(exchange, true) &&
      !(this.traffic.enabled && this.graphql?.applies(exchange))
    ) {
      return;
    }
    try {
      if (headersAlreadySent || isStream(chunk)) {
        exchange.responseBody = STREAMED;
        return;
      }
      if (chunk === undefined || chunk === null) return;
      const max = this.options.maxBodyBytes;
      const length = Number(headers.contentLength ?? NaN);
      const size = Number.isInteger(length) && length >= 0 ? length : -1;
      if (!this.policy.rulesFor(exchange).captureResponseBody) {
        exchange.responseBody = omittedBody(size, 'captureResponseBody');
        return;
      }
      if (typeof chunk === 'string') {
        const body = captureString(chunk, max, 'wire', headers.contentEncoding ? -1 : size);
        exchange.responseBody = body;
      } else if (ArrayBuffer.isView(chunk)) {
        exchange.responseBody = headers.contentEncoding
          ? captureEncoded(chunk as Uint8Array, headers.contentEncoding, headers.contentType, max)
          : captureBytes(chunk as Uint8Array, headers.contentType, max);
      }
    } catch (error) {
      this.logger.errorOnce('response-body', 'Could not capture a response body', error);
    }
  }
}
