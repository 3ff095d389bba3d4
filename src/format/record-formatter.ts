import { arch, platform, release } from 'node:os';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { HarCreator, HarEntry, HarPostData } from '../interfaces/har.interface';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';
import type { RedactedExchange } from '../interfaces/redacted-exchange.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../metrics.constants';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { Redactor } from '../redact/redactor';
import { headerValue, redactExchange } from './redacted-exchange';

export const HAR_CREATOR: HarCreator = {
  name: 'readme-metrics (node)',
  version: PACKAGE_VERSION,
  comment: `${arch()}-${platform()}${release()}/${process.versions.node} ${PACKAGE_NAME}`,
};

/** Turns captured exchanges into ReadMe Metrics records: redacted first (RedactedExchange), then written as HAR 1.2. */
export class RecordFormatter {
  constructor(
    readonly options: ResolvedMetricsOptions,
    readonly redactor: Redactor,
  ) {}

  /** The redacted exchange: what both the HAR writer and the span builders write from. */
  redact(x: CapturedExchange): RedactedExchange {
    return redactExchange(x, this.redactor, this.options);
  }

  format(x: CapturedExchange): MetricsRecord {
    return this.record(this.redact(x));
  }

  /** The ReadMe record of a redacted exchange; its outgoing calls follow it in the same HAR log. */
  record(x: RedactedExchange): MetricsRecord {
    const entries = [this.entry(x), ...(x.outgoing ?? []).map((call) => this.entry(call))];
    return {
      _id: x.id,
      _version: 3,
      group: x.group,
      clientIPAddress: x.clientIp,
      development: this.options.developmentMode,
      request: { log: { version: '1.2', creator: HAR_CREATOR, entries } },
    };
  }

  private entry(x: RedactedExchange): HarEntry {
    const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(x.url)?.[0] ?? '';
    const requestLength = Number(headerValue(x.requestHeaders, 'content-length'));
    const body = x.requestBody;
    let postData: HarPostData | undefined;
    if (body) {
      postData = body.params
        ? { mimeType: body.mimeType, params: body.params }
        : { mimeType: body.mimeType, text: body.text };
      if (body.comment) postData.comment = body.comment;
    }
    const content = x.responseBody;
    const entry: HarEntry = {
      // GraphQL: the operation is the endpoint (`http://host/graphql#query GetOrder`), see docs/graphql.md.
      pageref: x.graphql?.operation ? `${origin}${x.path}#${x.graphql.operation}` : x.route ? origin + x.route : x.url,
      startedDateTime: new Date(x.startedAt).toISOString(),
      time: x.durationMs,
      request: {
        method: x.method,
        url: x.url,
        httpVersion: x.httpVersion,
        cookies: [],
        headers: x.requestHeaders,
        queryString: x.query,
        ...(postData && { postData }),
        headersSize: -1,
        bodySize: Number.isFinite(requestLength) ? requestLength : -1,
      },
      response: {
        status: x.status,
        statusText: x.statusText,
        httpVersion: x.httpVersion,
        cookies: [],
        headers: x.responseHeaders,
        content: {
          size: content.size,
          mimeType: content.mimeType,
          text: content.text,
          ...(content.encoding && { encoding: content.encoding }),
          ...(content.comment && { comment: content.comment }),
        },
        redirectURL: headerValue(x.responseHeaders, 'location') ?? '',
        headersSize: -1,
        bodySize: -1,
        ...(x.aborted && { comment: 'the client closed the connection before the response was complete' }),
      },
      cache: {},
      timings: { send: 0, wait: x.durationMs, receive: 0 },
    };
    if (this.options.serviceVersion !== undefined) entry._serviceVersion = this.options.serviceVersion;
    if (this.options.tags !== undefined) entry._tags = this.options.tags;
    if (x.errors) entry._errors = x.errors;
    if (x.parentId !== undefined) {
      entry._parentId = x.parentId;
      entry._outgoing = true;
    }
    if (x.failure) entry._error = x.failure;
    return entry;
  }
}
