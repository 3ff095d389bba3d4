import type { HarNameValue } from '../interfaces/har.interface';
import { REDACTED } from '../metrics.constants';
import { redactEcho, redactHeaders, redactUrl } from './headers-url';
import { redactTree } from './json-tree';
import { applyCuts, JsonScanner } from './json-scanner';
import { type BodyKind, RedactionRules, type RedactorOptions } from './redaction-rules';
import { TextRedactor } from './text-body';

export type { BodyKind } from './redaction-rules';

/**
 * A body text after redaction: the text to record (`changed` when it differs from the input), or, when the text could
 * not be proven clean (labelled JSON but not JSON, or cut where a rule needs the whole document), the reason to give
 * in place of the body. The raw text is never returned in that case.
 */
export type RedactedText = { text: string; changed: boolean } | { dropped: string };

/**
 * All redaction rules, compiled once at startup. Every method works on copies owned by the caller and reports
 * whether it changed anything, so untouched bodies can be shipped as received. The work is done by pieces by role:
 * RedactionRules (the compiled options), headers-url.ts, TextRedactor (forms, other text), JsonScanner (JSON text in
 * one pass) and redactTree (parsed documents, jsonpath-plus).
 */
export class Redactor {
  private readonly rules: RedactionRules;
  private readonly texts: TextRedactor;
  /** Per body kind; undefined when a JSONPath rule is one only jsonpath-plus applies. */
  private readonly scanners: Record<BodyKind, JsonScanner | undefined>;

  constructor(options: RedactorOptions) {
    const rules = (this.rules = new RedactionRules(options));
    this.texts = new TextRedactor(rules);
    const scanner = (kind: BodyKind) => {
      const steps = rules.pathSteps[kind];
      return steps && new JsonScanner(rules, steps, rules.deepRules[kind]);
    };
    this.scanners = { request: scanner('request'), response: scanner('response') };
  }

  /** Whether a body of this kind could be changed at all (lets the formatter skip parsing). */
  hasBodyRules(kind: BodyKind): boolean {
    return this.rules.hasBodyRules(kind);
  }

  /**
   * Whether redaction could change this JSON text. False only when no key any rule names occurs anywhere in it (as a
   * key or not, in any casing: text that is not valid JSON, e.g. with unquoted keys, must not slip past either), which
   * spares scanning most bodies. Texts with any escape are always scanned: an escaped key would slip past.
   */
  mayChangeJson(text: string, kind: BodyKind): boolean {
    return this.rules.mayChangeJson(text, kind);
  }

  hasQueryRules(): boolean {
    return this.rules.hasQueryRules();
  }

  /**
   * A GraphQL argument, input field or variable key that must not keep its value: the default keys and the
   * denylist, at any depth (src/graphql). An allowlist still applies to the body's top-level keys afterwards.
   */
  isSecretName(name: string): boolean {
    return this.rules.isSecretName(name);
  }

  /** Whether a name `isSecretName` redacts could occur in a text (any casing); false spares parsing it. */
  mayNameSecret(text: string): boolean {
    return this.texts.mayNameSecret(text);
  }

  /**
   * Headers: the default and configured names are redacted (`authorization` masked); URL-valued headers (`Location`,
   * `Content-Location`, `Referer`) keep their URL with its query values and userinfo redacted like the request URL.
   */
  headers(headers: HarNameValue[]): HarNameValue[] {
    return redactHeaders(this.rules, headers);
  }

  /** Query or form parameters (names kept; bracket names match by base name and by each segment). */
  params<T extends { name: string; value?: string }>(params: T[]): T[] {
    return params.map((p) =>
      p.value !== undefined && this.rules.isDeniedParam(p.name) ? { ...p, value: REDACTED } : p,
    );
  }

  /**
   * A URL with the values of redacted query parameters replaced, and the password of its userinfo
   * (`http://user:secret@host`; a user alone, often a token, entirely) always replaced, whatever the options; the URL
   * string itself when nothing applies.
   */
  url(url: string): string {
    return redactUrl(this.rules, url);
  }

  /** An `application/x-www-form-urlencoded` body text (possibly cut): redacted like a query string. */
  formText(text: string): { text: string; changed: boolean } {
    return this.texts.formText(text);
  }

  /**
   * Any body text, as its `Content-Type` labels it: JSON (and `+json`) through `jsonText`, urlencoded forms through
   * `formText`, other text through `text`. `truncated`: the text was cut at `maxBodyBytes` (JSON is then read up to
   * the cut). The one entry point the format stage needs for body texts.
   */
  bodyText(text: string, mimeType: string, kind: BodyKind, truncated = false): RedactedText {
    if (JSON_MIME.test(mimeType)) return this.jsonText(text, kind, truncated);
    if (FORM_MIME.test(mimeType)) return this.formText(text);
    return this.text(text);
  }

  /**
   * Text that repeats the request URL (Nest's 404 "Cannot GET /path?query", error messages and stacks): wherever the
   * original URL, or its path and query, occurs as is, JSON-escaped (`\"`, `\\`, `\u…` as in an error body) or
   * percent-decoded, it is replaced by the same form of the redacted URL. The text itself when nothing applies.
   */
  echo(text: string, originalUrl: string, redactedUrl: string): string {
    return redactEcho(text, originalUrl, redactedUrl);
  }

  /** Redacts a parsed JSON or form body in place (the caller owns it). Returns the new root and whether it changed. */
  body(value: unknown, kind: BodyKind): { value: unknown; changed: boolean } {
    return redactTree(this.rules, value, kind);
  }

  /**
   * Text that is not JSON (`text/plain`, XML, HTML, logs…), possibly cut: the values of the default and `denylist`
   * keys written `key=value`, `key: value`, `"key": "value"`, `user[key]=value` or `<key>value</key>` are replaced.
   */
  text(text: string): { text: string; changed: boolean } {
    return this.texts.text(text);
  }

  /**
   * Redacts JSON text without trusting it and without building the object tree (JsonScanner): one pass over the text
   * that checks the JSON grammar, follows the key path (escaped keys decoded, every duplicate key redacted, a UTF-8
   * BOM skipped) and replaces, in place, the values the rules name: default keys at any depth, `denylist`/`allowlist`
   * at the top level, JSONPath rules made of names, `*` and indexes. A container past MAX_REDACT_DEPTH that rules
   * would have to look into is replaced whole. With `truncated` (text cut at `maxBodyBytes`) the text is read up to
   * the cut, and an unfinished value of a redacted key is replaced. Formatting is kept; an untouched text is returned
   * as is. A text in which no key any rule names occurs (see `mayChangeJson`) is not scanned.
   *
   * Text that is not JSON, or that only jsonpath-plus can redact (slices, unions, negative indexes), is parsed: the
   * redacted re-serialization is returned when it parses, `{ dropped }` otherwise; never the raw text.
   */
  jsonText(text: string, kind: BodyKind, truncated = false): RedactedText {
    if (!this.rules.mayChangeJson(text, kind)) return { text, changed: false };
    const scanner = this.scanners[kind];
    if (scanner?.scan(text, truncated)) {
      const count = scanner.cutCount;
      return count ? { text: applyCuts(text, scanner.cuts, count), changed: true } : { text, changed: false };
    }
    return this.unscannable(text, kind, truncated, scanner !== undefined);
  }

  /**
   * The body text redacted as `jsonText` does, written as a JSON string literal (quotes included, escaped exactly as
   * `JSON.stringify` escapes: `\"`, `\\`, `\n`-style and `\u00xx` control characters, lone surrogates as `\udxxx`),
   * for a record writer to append as is: `JSON.stringify(jsonText(text, kind, truncated).text)`, byte for byte, or
   * the same `{ dropped }` reason. The scanner's cuts are applied and the literal is written by one JSON.stringify of
   * the result: V8's native escaping beats a JavaScript copy loop on every Node measured (see docs/performance.md).
   */
  jsonLiteral(text: string, kind: BodyKind, truncated: boolean): string | { dropped: string } {
    const result = this.jsonText(text, kind, truncated);
    return 'dropped' in result ? result : JSON.stringify(result.text);
  }

  /** JSON text the scanner could not read (not JSON, or a rule only jsonpath-plus applies): parsed, or dropped. */
  private unscannable(text: string, kind: BodyKind, truncated: boolean, scanned: boolean): RedactedText {
    if (truncated) {
      return {
        dropped: scanned
          ? 'body labelled JSON that is not valid JSON up to the cut, not captured (it could hold secrets)'
          : 'body cut at maxBodyBytes where a JSONPath rule needs the whole document, not captured',
      };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.charCodeAt(0) === BOM ? text.slice(1) : text);
    } catch {
      return { dropped: 'body labelled JSON that is not valid JSON, not captured (it could hold secrets)' };
    }
    // Always the re-serialization: the raw text may hold duplicate keys JSON.parse kept only the last of.
    const serialized = JSON.stringify(redactTree(this.rules, parsed, kind).value);
    return { text: serialized, changed: serialized !== text };
  }
}

const BOM = 0xfeff;
/** The Content-Types read as JSON (`bodyText` sends these to `jsonText`). */
export const JSON_MIME = /^application\/(?:[\w.+-]+\+)?json\b|\+json\b/i;
const FORM_MIME = /^application\/x-www-form-urlencoded\b/i;
