import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import { cutComment, formFields, queryOf, redactError } from '../format/redacted-exchange';
import type { Redactor } from '../redact/redactor';
import { bodyLiteral } from './body-literal';
import type { FixedParts, HeaderName } from './fixed-parts';

/** What every entry of a writer shares: the options' parts, rendered once. */
export interface EntryConstants {
  maxBodyBytes: number;
  /** `,"_serviceVersion":…,"_tags":…` or ''. */
  customFields: string;
}

/** What the request's headers told the entry (first occurrence of each, as `headerValue` found them). */
interface HeaderFacts {
  contentType: string | undefined;
  /** The redacted value. */
  contentLength: string | undefined;
  /** The redacted value. */
  location: string | undefined;
}

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;
const FORM = /^application\/x-www-form-urlencoded\b/i;
const MULTIPART = /^multipart\/form-data\b/i;
const ABORTED = ',"comment":"the client closed the connection before the response was complete"';

/**
 * One HAR entry of a captured exchange, written straight to its JSON text: each variable string redacted and
 * escaped as it is appended, the fixed parts from `FixedParts`. Byte for byte what `JSON.stringify` gave of the
 * `HarEntry` the object path (`RecordFormatter`) builds, without the `RedactedExchange` and the HAR objects.
 * Not for GraphQL exchanges (their documents, variables and echoes are redacted by src/graphql on the object path).
 *
 * Returns the entry's fields from `startedDateTime` to its last custom field, without braces, and sets `pageref`.
 */
export class EntryWriter {
  /** The last entry's `pageref` JSON (read right after `fields`, so no object is made per entry). */
  pageref = '';
  private readonly facts: HeaderFacts = { contentType: undefined, contentLength: undefined, location: undefined };

  constructor(
    private readonly redactor: Redactor,
    private readonly fixed: FixedParts,
    private readonly constants: EntryConstants,
  ) {}

  fields(x: CapturedExchange, parentId?: string): string {
    const { redactor, fixed, facts } = this;
    const url = redactor.url(x.url);
    const origin = ORIGIN.exec(url)?.[0] ?? '';
    this.pageref = x.route === undefined || x.route === '' ? JSON.stringify(url) : fixed.pageref(origin, x.route);
    const version = JSON.stringify(x.httpVersion);
    const requestHeaders = this.headersOfFlat(x.requestHeaders);
    const requestType = facts.contentType ?? '';
    const length = Number(facts.contentLength);
    const responseHeaders = x.responseHead ? this.headersOfHead(x.responseHead) : this.headersOfFlat(x.responseHeaders);
    const responseType = facts.contentType || 'application/octet-stream';
    const location = facts.location ?? '';
    const time = num(x.durationMs);
    let out =
      `"startedDateTime":"${fixed.isoTime(x.startedAt)}","time":${time},"request":{"method":` +
      `${JSON.stringify(x.method)},"url":${JSON.stringify(url)},"httpVersion":${version},"cookies":[],"headers":` +
      `${requestHeaders},"queryString":${this.query(x.url)}${this.postData(x.requestBody, requestType)}` +
      `,"headersSize":-1,"bodySize":${Number.isFinite(length) ? length : -1}},"response":{"status":${num(x.status)}` +
      `,"statusText":${JSON.stringify(x.statusText)},"httpVersion":${version},"cookies":[],"headers":` +
      `${responseHeaders},"content":${this.content(x, responseType, url)},"redirectURL":${JSON.stringify(location)}` +
      `,"headersSize":-1,"bodySize":-1${x.aborted ? ABORTED : ''}},"cache":{},"timings":{"send":0,"wait":${time}` +
      `,"receive":0}${this.constants.customFields}`;
    if (x.errors) out += `,"_errors":${JSON.stringify(x.errors.map((e) => redactError(redactor, e, x.url, url)))}`;
    if (parentId !== undefined) out += `,"_parentId":${JSON.stringify(parentId)},"_outgoing":true`;
    if (x.failure) {
      out += `,"_error":${JSON.stringify({ ...x.failure, message: redactor.echo(x.failure.message, x.url, url) })}`;
    }
    return out;
  }

  /** Name, value pairs (Node's `rawHeaders` shape) as the HAR headers array; notes the headers the entry reads. */
  private headersOfFlat(flat: string[]): string {
    this.resetFacts();
    let out = '[';
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (i > 0) out += ',';
      out += this.header(flat[i] as string, flat[i + 1] as string);
    }
    return out + ']';
  }

  /** The response head as Node wrote it (`HTTP/1.1 200 OK\r\nname: value\r\n…`), read line by line. */
  private headersOfHead(head: string): string {
    this.resetFacts();
    let out = '[';
    let first = true;
    let start = head.indexOf('\r\n');
    while (start >= 0) {
      start += 2;
      const end = head.indexOf('\r\n', start);
      const line = end < 0 ? head.slice(start) : head.slice(start, end);
      const colon = line.indexOf(':');
      if (colon > 0) {
        out += (first ? '' : ',') + this.header(line.slice(0, colon), line.slice(colon + 1).trim());
        first = false;
      }
      start = end;
    }
    return out + ']';
  }

  private header(name: string, value: string): string {
    const header: HeaderName = this.fixed.header(name);
    if (header.role === '' && value === header.lastValue) return header.lastPair as string;
    const redacted = this.fixed.redactedValue(header, value);
    const { facts } = this;
    switch (header.role) {
      case 'content-type':
        facts.contentType ??= value;
        break;
      case 'content-length':
        facts.contentLength ??= redacted;
        break;
      case 'location':
        facts.location ??= redacted;
        break;
    }
    const pair = `${header.open}${JSON.stringify(redacted)}}`;
    header.lastValue = value;
    header.lastPair = pair;
    return pair;
  }

  private resetFacts(): void {
    this.facts.contentType = undefined;
    this.facts.contentLength = undefined;
    this.facts.location = undefined;
  }

  private query(url: string): string {
    if (!url.includes('?')) return '[]';
    return JSON.stringify(this.redactor.params(queryOf(url)));
  }

  /** `,"postData":{…}`, or '' when the request had no body. */
  private postData(body: CapturedBody | undefined, mimeType: string): string {
    if (!body) return '';
    const open = `,"postData":{"mimeType":${JSON.stringify(mimeType)}`;
    if (body.comment) return `${open},"text":""${comment(body.comment)}}`;
    const form = FORM.test(mimeType);
    if (form || MULTIPART.test(mimeType)) {
      const params = [...formFields(body, form, this.redactor), ...(body.files ?? [])];
      const cut = body.truncated ? `fields cut to ${this.constants.maxBodyBytes} bytes of ${body.size}` : '';
      return `${open},"params":${JSON.stringify(params)}${comment(cut)}}`;
    }
    if (body.encoding === 'base64') {
      return `${open},"text":""${comment(`binary body of ${body.size} bytes, not captured`)}}`;
    }
    const type = body.source === 'parsed' ? 'application/json' : mimeType;
    const literal = bodyLiteral(this.redactor, body.text, type, 'request', body.truncated);
    if (typeof literal !== 'string') return `${open},"text":""${comment(literal.dropped)}}`;
    return `${open},"text":${literal}${body.truncated ? comment(this.cut(body)) : ''}}`;
  }

  /** The response's `content` object. */
  private content(x: CapturedExchange, mimeType: string, url: string): string {
    const body = x.responseBody;
    const type = JSON.stringify(mimeType);
    if (x.method === 'HEAD' || x.status === 204 || x.status === 304 || !body) {
      return `{"size":0,"mimeType":${type},"text":""}`;
    }
    const open = `{"size":${num(body.size)},"mimeType":${type}`;
    if (body.comment) return `${open},"text":""${comment(body.comment)}}`;
    if (body.encoding === 'base64') {
      return `${open},"text":${JSON.stringify(body.text)},"encoding":"base64"${body.truncated ? comment(this.cut(body)) : ''}}`;
    }
    const typeOfText = body.source === 'parsed' ? 'application/json' : mimeType;
    let literal;
    if (url === x.url) {
      literal = bodyLiteral(this.redactor, body.text, typeOfText, 'response', body.truncated);
    } else {
      // The URL had something redacted: error bodies echo it (Nest's 404 "Cannot GET /path?query"), so the text is
      // redacted, then its echoes of the URL, then escaped.
      const result = body.text
        ? this.redactor.bodyText(body.text, typeOfText, 'response', body.truncated)
        : { text: '', changed: false };
      literal = 'dropped' in result ? result : JSON.stringify(this.redactor.echo(result.text, x.url, url));
    }
    if (typeof literal !== 'string') return `${open},"text":""${comment(literal.dropped)}}`;
    return `${open},"text":${literal}${body.truncated ? comment(this.cut(body)) : ''}}`;
  }

  private cut(body: CapturedBody): string {
    return cutComment(this.constants.maxBodyBytes, body.size);
  }
}

/** `,"comment":…` when there is one (the object path sets a comment only when it is not empty). */
function comment(text: string | undefined): string {
  return text ? `,"comment":${JSON.stringify(text)}` : '';
}

/** A number as `JSON.stringify` writes it. */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}
