import type { HarNameValue } from '../interfaces/har.interface';
import { REDACTED } from '../metrics.constants';
import { maskAuthorization } from './mask';
import { URL_HEADERS } from './redaction-defaults';
import type { RedactionRules } from './redaction-rules';

/*
 * Headers, URLs and urlencoded texts (query strings, form bodies), and texts that repeat the request URL.
 */

/** See Redactor.headers. */
export function redactHeaders(rules: RedactionRules, headers: HarNameValue[]): HarNameValue[] {
  return headers.map((header) => {
    const name = header.name.toLowerCase();
    const rule = rules.headerRules.get(name) ?? (rules.isHeaderDenied(name) ? 'redact' : undefined);
    if (rule === 'mask') return { name: header.name, value: maskAuthorization(header.value) };
    if (rule === 'redact') return { name: header.name, value: REDACTED };
    if (URL_HEADER_SET.has(name)) {
      const value = redactUrl(rules, header.value);
      return value === header.value ? header : { name: header.name, value };
    }
    return header;
  });
}

/** See Redactor.url. */
export function redactUrl(rules: RedactionRules, url: string): string {
  if (url.includes('@')) url = withoutUserinfoSecret(url);
  const q = url.indexOf('?');
  if (q < 0 || !rules.hasQueryRules()) return url;
  const hash = url.indexOf('#', q);
  const query = redactQuery(rules, url.slice(q + 1, hash < 0 ? undefined : hash));
  return query === undefined ? url : `${url.slice(0, q + 1)}${query}${hash < 0 ? '' : url.slice(hash)}`;
}

/** An urlencoded query or form text with the values of redacted names replaced; undefined when nothing changed. */
export function redactQuery(rules: RedactionRules, query: string): string | undefined {
  let changed = false;
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !rules.isDeniedParam(safeDecode(rawName))) return part;
    if (part.slice(eq + 1) !== ENCODED_REDACTED) changed = true;
    return `${rawName}=${ENCODED_REDACTED}`;
  });
  return changed ? parts.join('&') : undefined;
}

/** See Redactor.echo. */
export function redactEcho(text: string, originalUrl: string, redactedUrl: string): string {
  if (originalUrl === redactedUrl || !text) return text;
  const originalOrigin = ORIGIN.exec(originalUrl)?.[0] ?? '';
  const redactedOrigin = ORIGIN.exec(redactedUrl)?.[0] ?? '';
  const pairs: [string, string][] = [[originalUrl, redactedUrl]];
  const from = originalUrl.slice(originalOrigin.length);
  const to = redactedUrl.slice(redactedOrigin.length);
  if (from && from !== to) pairs.push([from, to]);
  let result = text;
  for (const [original, redacted] of pairs) {
    const decoded = safeDecode(original);
    const forms: [string, string][] = [
      [original, redacted],
      [jsonEscaped(original), jsonEscaped(redacted)],
      [decoded, safeDecode(redacted)],
      [jsonEscaped(decoded), jsonEscaped(safeDecode(redacted))],
    ];
    for (const [form, replacement] of forms) {
      if (form !== replacement && result.includes(form)) result = result.replaceAll(form, replacement);
    }
  }
  return result;
}

const ENCODED_REDACTED = encodeURIComponent(REDACTED);
const URL_HEADER_SET: ReadonlySet<string> = new Set(URL_HEADERS);
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/** JSON's escaping of a string, without the quotes (how an error body repeats a URL). */
function jsonEscaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** `scheme://user:password@host…` with the password (or a lone user, often a token) replaced. */
function withoutUserinfoSecret(url: string): string {
  const authority = /^([a-z][a-z0-9+.-]*:)?\/\/([^/?#]*)@/i.exec(url);
  if (!authority) return url;
  const userinfo = authority[2] as string;
  const colon = userinfo.indexOf(':');
  const kept = colon < 0 ? ENCODED_REDACTED : `${userinfo.slice(0, colon)}:${ENCODED_REDACTED}`;
  if (kept === userinfo) return url;
  return `${authority[1] ?? ''}//${kept}@${url.slice(authority[0].length)}`;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
