import type { HarNameValue } from '../interfaces/har.interface';
import { REDACTED } from '../metrics.constants';
import { MetricsOptionsError, type ResolvedMetricsOptions } from '../metrics.options';
import { CompiledJsonPath, jsonPathProblem, type PathStep } from './jsonpath';
import { maskAuthorization } from './mask';
import { DEFAULT_REDACTED_KEYS, MAX_REDACT_DEPTH, URL_HEADERS } from './redaction-defaults';

type HeaderRule = 'redact' | 'mask';
export type BodyKind = 'request' | 'response';

/**
 * A body text after redaction: the text to record (`changed` when it differs from the input), or, when the text could
 * not be proven clean (labelled JSON but not JSON, or cut where a rule needs the whole document), the reason to give
 * in place of the body. The raw text is never returned in that case.
 */
export type RedactedText = { text: string; changed: boolean } | { dropped: string };

/**
 * All redaction rules, compiled once at startup. Every method works on copies owned by the caller and reports
 * whether it changed anything, so untouched bodies can be shipped as received.
 */
export class Redactor {
  private readonly headerRules = new Map<string, HeaderRule>();
  /** Top-level key rules (ReadMe's denylist/allowlist semantics); denylist wins. */
  private readonly deny?: ReadonlySet<string>;
  private readonly allow?: ReadonlySet<string>;
  /** Keys redacted at any depth (the defaults). */
  private readonly deepKeys: ReadonlySet<string>;
  private readonly deepKeyCache = new Map<string, boolean>();
  private readonly deepKeyLengths: Uint8Array;
  /** The first characters of the deep keys, ASCII case-folded with `| 0x20` (a cheap filter before reading a key). */
  private readonly deepKeyFirst = new Uint8Array(128);
  /** Whether top-level keys have rules of their own (denylist, allowlist). */
  private readonly topLevelRules: boolean;
  private readonly paths: Record<BodyKind, CompiledJsonPath[]>;
  /** For text bodies: `key=value`, `key: value`, `"key": value` and `<key>value<` of redacted keys. */
  private readonly textPattern?: RegExp;
  /** Any of those keys anywhere in a text: most texts have none, and this is far cheaper than the pattern. */
  private readonly textProbe?: RegExp;
  /** Whether rules look below the top level (deep keys, JSONPath): then subtrees past MAX_REDACT_DEPTH are redacted. */
  private readonly deepRules: Record<BodyKind, boolean>;
  /** Finds, in JSON text, a key some rule names; null when every body must be parsed (allowlist, wildcard paths). */
  private readonly keyProbe: Record<BodyKind, RegExp | null | undefined>;
  /** The JSONPath rules as steps, when all of them are simple enough for the one-pass scanner (`scanJson`). */
  private readonly pathSteps: Record<BodyKind, (readonly PathStep[])[] | undefined>;

  constructor(
    options: Pick<
      ResolvedMetricsOptions,
      'denylist' | 'allowlist' | 'redactHeaders' | 'redactRequestBody' | 'redactResponseBody' | 'redactDefaults'
    >,
  ) {
    const lower = (names: string[] | undefined) => names && new Set(names.map((n) => n.toLowerCase()));
    this.deny = lower(options.denylist);
    this.allow = this.deny ? undefined : lower(options.allowlist);
    this.deepKeys = new Set(options.redactDefaults ? DEFAULT_REDACTED_KEYS : []);
    this.deepKeyLengths = new Uint8Array(Math.max(0, ...[...this.deepKeys].map((k) => k.length)) + 1);
    for (const k of this.deepKeys) this.deepKeyLengths[k.length] = 1;
    for (const k of this.deepKeys) this.deepKeyFirst[(k.charCodeAt(0) | 0x20) & 0x7f] = 1;
    this.topLevelRules = this.deny !== undefined || this.allow !== undefined;
    if (options.redactDefaults) {
      // One list for headers, query, form and JSON keys and text bodies; the Authorization header is masked instead.
      for (const name of DEFAULT_REDACTED_KEYS) this.headerRules.set(name, 'redact');
      this.headerRules.set('authorization', 'mask');
    }
    for (const name of options.redactHeaders) this.headerRules.set(name.toLowerCase(), 'redact');
    this.paths = {
      request: compilePaths('redactRequestBody', options.redactRequestBody),
      response: compilePaths('redactResponseBody', options.redactResponseBody),
    };
    this.keyProbe = { request: this.probeFor('request'), response: this.probeFor('response') };
    const stepsOf = (paths: CompiledJsonPath[]) =>
      paths.every((p) => p.steps && p.steps.length < STEPS_STRIDE)
        ? paths.map((p) => p.steps as readonly PathStep[])
        : undefined;
    this.pathSteps = { request: stepsOf(this.paths.request), response: stepsOf(this.paths.response) };
    this.deepRules = {
      request: this.deepKeys.size > 0 || this.paths.request.length > 0,
      response: this.deepKeys.size > 0 || this.paths.response.length > 0,
    };
    const textKeys = [...new Set([...this.deepKeys, ...(this.deny ?? [])])];
    if (textKeys.length) {
      // Longest first, so "access_token" is tried before "token" at the same position.
      const keys = textKeys
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|');
      this.textProbe = new RegExp(keys, 'i');
      this.textPattern = new RegExp(
        // key=value, key: value, "key": value, user[key]=value, key[]=value (value: quoted, possibly unfinished in a
        // cut text, or up to a line end or a pair separator)...
        String.raw`(?<![\w-])(["']?)(?:${keys})(?:\]|\[[^\]\s=:]*\])*\1[ \t]*([:=])[ \t]*` +
          String.raw`("(?:[^"\\\r\n]|\\.)*"?|'(?:[^'\\\r\n]|\\.)*'?|[^\s&,;<](?:[^\r\n&,;<]*[^\s&,;<])?)` +
          // ...or an XML element <key attr="x">value<
          String.raw`|<(?:${keys})(?:\s[^<>]*)?>([^<]+)`,
        'gi',
      );
    }
  }

  /** Whether a body of this kind could be changed at all (lets the formatter skip parsing). */
  hasBodyRules(kind: BodyKind): boolean {
    return this.deepKeys.size > 0 || this.deny !== undefined || this.allow !== undefined || this.paths[kind].length > 0;
  }

  /**
   * Whether redaction could change this JSON text. False only when no key any rule names occurs anywhere in it (as a
   * key or not, in any casing: text that is not valid JSON, e.g. with unquoted keys, must not slip past either), which
   * spares scanning most bodies. Texts with any escape are always scanned: an escaped key would slip past.
   */
  mayChangeJson(text: string, kind: BodyKind): boolean {
    const probe = this.keyProbe[kind];
    if (probe === undefined) return false;
    if (probe === null || text.includes('\\')) return true;
    return probe.test(text);
  }

  /** undefined: no body rules; null: no probe possible, always parse. */
  private probeFor(kind: BodyKind): RegExp | null | undefined {
    if (!this.hasBodyRules(kind)) return undefined;
    if (this.allow) return null;
    const keys = new Set([...this.deepKeys, ...(this.deny ?? [])]);
    for (const path of this.paths[kind]) {
      if (path.lastKey === undefined) return null;
      keys.add(path.lastKey.toLowerCase());
    }
    return new RegExp([...keys].map(escapeRegExp).join('|'), 'i');
  }

  hasQueryRules(): boolean {
    return this.deepKeys.size > 0 || this.deny !== undefined || this.allow !== undefined;
  }

  /** A top-level key (header, query parameter, form field, JSON property) that must not keep its value. */
  private isDeniedKey(name: string): boolean {
    const key = name.toLowerCase();
    if (this.deny) return this.deny.has(key) || this.deepKeys.has(key);
    if (this.allow) return !this.allow.has(key);
    return this.deepKeys.has(key);
  }

  /**
   * A GraphQL argument, input field or variable key that must not keep its value: the default keys and the
   * denylist, at any depth (src/graphql). An allowlist still applies to the body's top-level keys afterwards.
   */
  isSecretName(name: string): boolean {
    const key = name.toLowerCase();
    return this.deepKeys.has(key) || this.deny?.has(key) === true;
  }

  /** Whether a name `isSecretName` redacts could occur in a text (any casing); false spares parsing it. */
  mayNameSecret(text: string): boolean {
    return this.textProbe?.test(text) ?? false;
  }

  /**
   * A query or form parameter name that must not keep its value: by its base name and by each bracketed segment
   * (`password[]`, `user[password]`, `a[b][token]`), as qs-style parsers read them.
   */
  private isDeniedParam(name: string): boolean {
    const bracket = name.indexOf('[');
    if (bracket < 0) return this.isDeniedKey(name);
    if (bracket > 0 && this.isDeniedKey(name.slice(0, bracket))) return true;
    BRACKET_SEGMENT.lastIndex = bracket;
    for (let m = BRACKET_SEGMENT.exec(name); m; m = BRACKET_SEGMENT.exec(name)) {
      const segment = m[1] as string;
      // `[]` and `[0]` are positions, not names (an allowlist does not have to list them).
      if (segment !== '' && !/^\d+$/.test(segment) && this.isDeniedKey(segment)) return true;
    }
    return false;
  }

  /**
   * Headers: the default and configured names are redacted (`authorization` masked); URL-valued headers (`Location`,
   * `Content-Location`, `Referer`) keep their URL with its query values and userinfo redacted like the request URL.
   */
  headers(headers: HarNameValue[]): HarNameValue[] {
    return headers.map((header) => {
      const name = header.name.toLowerCase();
      const rule = this.headerRules.get(name) ?? (this.isHeaderDenied(name) ? 'redact' : undefined);
      if (rule === 'mask') return { name: header.name, value: maskAuthorization(header.value) };
      if (rule === 'redact') return { name: header.name, value: REDACTED };
      if (URL_HEADER_SET.has(name)) {
        const value = this.url(header.value);
        return value === header.value ? header : { name: header.name, value };
      }
      return header;
    });
  }

  private isHeaderDenied(name: string): boolean {
    if (this.deny) return this.deny.has(name);
    return this.allow ? !this.allow.has(name) : false;
  }

  /** Query or form parameters (names kept; bracket names match by base name and by each segment). */
  params<T extends { name: string; value?: string }>(params: T[]): T[] {
    return params.map((p) => (p.value !== undefined && this.isDeniedParam(p.name) ? { ...p, value: REDACTED } : p));
  }

  /**
   * A URL with the values of redacted query parameters replaced, and the password of its userinfo
   * (`http://user:secret@host`; a user alone, often a token, entirely) always replaced, whatever the options; the URL
   * string itself when nothing applies.
   */
  url(url: string): string {
    if (url.includes('@')) url = withoutUserinfoSecret(url);
    const q = url.indexOf('?');
    if (q < 0 || !this.hasQueryRules()) return url;
    const hash = url.indexOf('#', q);
    const query = this.query(url.slice(q + 1, hash < 0 ? undefined : hash));
    return query === undefined ? url : `${url.slice(0, q + 1)}${query}${hash < 0 ? '' : url.slice(hash)}`;
  }

  /** An urlencoded query or form text with the values of redacted names replaced; undefined when nothing changed. */
  private query(query: string): string | undefined {
    let changed = false;
    const parts = query.split('&').map((part) => {
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      if (eq < 0 || !this.isDeniedParam(safeDecode(rawName))) return part;
      if (part.slice(eq + 1) !== ENCODED_REDACTED) changed = true;
      return `${rawName}=${ENCODED_REDACTED}`;
    });
    return changed ? parts.join('&') : undefined;
  }

  /** An `application/x-www-form-urlencoded` body text (possibly cut): redacted like a query string. */
  formText(text: string): { text: string; changed: boolean } {
    if (!this.hasQueryRules() || !text) return { text, changed: false };
    const query = this.query(text);
    return query === undefined ? { text, changed: false } : { text: query, changed: true };
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

  /** Whether a key is redacted at any depth. Bodies repeat their keys, so the case-folded answer is remembered. */
  private isDeepKey(key: string): boolean {
    // Most keys are rejected by their length alone. Lower-casing never shortens a string, and the one character it
    // lengthens (U+0130) yields a non-ASCII mark, so a key the (ASCII) deep keys could match has one of their lengths.
    if (this.deepKeyLengths[key.length] !== 1) return false;
    let deep = this.deepKeyCache.get(key);
    if (deep === undefined) {
      deep = this.deepKeys.has(key.toLowerCase());
      if (this.deepKeyCache.size >= DEEP_KEY_CACHE_SIZE) this.deepKeyCache.clear(); // bounded: keys can be data
      this.deepKeyCache.set(key, deep);
    }
    return deep;
  }

  /**
   * Whether the unescaped key of `length` characters at `at` in `text` could be a deep key, without reading it: by
   * its length and first character. Non-ASCII first characters always pass (some lower-case to ASCII: K, the Kelvin
   * sign, is k).
   */
  private mayBeDeepKeyAt(text: string, at: number, length: number): boolean {
    if (this.deepKeyLengths[length] !== 1) return false;
    const c = text.charCodeAt(at);
    return c >= 0x80 || this.deepKeyFirst[c | 0x20] === 1;
  }

  /** Redacts a parsed JSON or form body in place (the caller owns it). Returns the new root and whether it changed. */
  body(value: unknown, kind: BodyKind): { value: unknown; changed: boolean } {
    let changed = false;
    if (value !== null && typeof value === 'object') {
      if (!Array.isArray(value)) {
        const record = value as Record<string, unknown>;
        for (const key of Object.keys(record)) {
          if (this.isDeniedKey(key) && record[key] !== REDACTED) {
            record[key] = REDACTED;
            changed = true;
          }
        }
      }
      if (this.deepRules[kind] && this.redactDeep(value, 0)) changed = true;
    }
    for (const path of this.paths[kind]) {
      const result = path.replaceIn(value, REDACTED);
      value = result.value;
      changed ||= result.changed;
    }
    return { value, changed };
  }

  /**
   * Redacts deep keys at every depth of a parsed document (the root is depth 0). A container past MAX_REDACT_DEPTH
   * is replaced whole: no depth limit may leave a value unredacted (and jsonpath-plus, which runs next, recurses).
   */
  private redactDeep(node: object, depth: number): boolean {
    let changed = false;
    const isArray = Array.isArray(node);
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (!isArray && this.isDeepKey(key)) {
        if (child !== REDACTED) {
          record[key] = REDACTED;
          changed = true;
        }
      } else if (child !== null && typeof child === 'object') {
        if (depth + 1 > MAX_REDACT_DEPTH) {
          record[key] = REDACTED;
          changed = true;
        } else if (this.redactDeep(child, depth + 1)) changed = true;
      }
    }
    return changed;
  }

  /**
   * Text that is not JSON (`text/plain`, XML, HTML, logs…), possibly cut: the values of the default and `denylist`
   * keys written `key=value`, `key: value`, `"key": "value"`, `user[key]=value` or `<key>value</key>` are replaced.
   */
  text(text: string): { text: string; changed: boolean } {
    if (!this.textPattern || !text || !this.textProbe?.test(text)) return { text, changed: false };
    let changed = false;
    const result = text.replace(
      this.textPattern,
      (match: string, _q: unknown, _sep: unknown, value: string | undefined, element: string | undefined) => {
        const secret = value ?? element ?? '';
        const quote = secret[0] === '"' || secret[0] === "'" ? secret[0] : '';
        const replacement = quote ? `${quote}${REDACTED}${quote}` : REDACTED;
        if (secret === replacement) return match;
        changed = true;
        return match.slice(0, match.length - secret.length) + replacement;
      },
    );
    return changed ? { text: result, changed } : { text, changed: false };
  }

  /**
   * Redacts JSON text without trusting it and without building the object tree: one pass over the text that checks
   * the JSON grammar, follows the key path (escaped keys decoded, every duplicate key redacted, a UTF-8 BOM skipped)
   * and replaces, in place, the values the rules name: default keys at any depth, `denylist`/`allowlist` at the top
   * level, JSONPath rules made of names, `*` and indexes. A container past MAX_REDACT_DEPTH that rules would have to
   * look into is replaced whole. With `truncated` (text cut at `maxBodyBytes`) the text is read up to the cut, and an
   * unfinished value of a redacted key is replaced. Formatting is kept; an untouched text is returned as is.
   *
   * Text that is not JSON, or that only jsonpath-plus can redact (slices, unions, negative indexes), is parsed: the
   * redacted re-serialization is returned when it parses, `{ dropped }` otherwise; never the raw text.
   */
  jsonText(text: string, kind: BodyKind, truncated = false): RedactedText {
    if (!this.mayChangeJson(text, kind)) return { text, changed: false };
    const paths = this.pathSteps[kind];
    if (paths) {
      const scanned = this.scanJson(text, kind, truncated, paths);
      if (scanned) return scanned;
    }
    if (truncated) {
      return {
        dropped: paths
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
    const serialized = JSON.stringify(this.body(parsed, kind).value);
    return { text: serialized, changed: serialized !== text };
  }

  /** The single pass of `jsonText`; undefined when the text is not JSON (up to the cut, when truncated). */
  private scanJson(
    text: string,
    kind: BodyKind,
    truncated: boolean,
    paths: readonly (readonly PathStep[])[],
  ): { text: string; changed: boolean } | undefined {
    const n = text.length;
    const capDepth = this.deepRules[kind];
    const rootStates = paths.map((_, i) => i * STEPS_STRIDE);
    const wholeDocument = paths.some((steps) => steps.length === 0);
    // The open containers: whether each is an array, the JSONPath states waiting for its keys, its element count.
    const isArray: boolean[] = [];
    const frameStates: (readonly number[])[] = [];
    const counts: number[] = [];
    let depth = 0;
    let pos = text.charCodeAt(0) === BOM ? 1 : 0;
    let mode = VALUE;
    // The rules' decision for the value about to be read: null to redact it, else the states for its children.
    let next: readonly number[] | null = rootStates;
    // The redacted value being skipped (its start, and the depth it sits at); -1 when none.
    let redactFrom = -1;
    let redactDepth = 0;
    let out: string[] | undefined;
    let copied = 0;
    let changed = false;
    let ended = false;

    for (;;) {
      if (ended) {
        // A value ended at `pos`: when it was the redacted one, its text is replaced.
        ended = false;
        if (redactFrom >= 0 && depth === redactDepth) {
          (out ??= []).push(text.slice(copied, redactFrom), REDACTED_JSON);
          if (pos - redactFrom !== REDACTED_JSON.length || !text.startsWith(REDACTED_JSON, redactFrom)) changed = true;
          copied = pos;
          redactFrom = -1;
        }
        mode = depth === 0 ? END : AFTER_VALUE;
      }
      let c = text.charCodeAt(pos);
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
      if (pos >= n) break;
      if (mode === VALUE) {
        if (c === 0x7b || c === 0x5b) {
          if (redactFrom < 0) {
            if (depth === 0) next = wholeDocument ? null : rootStates;
            else if (capDepth && depth > MAX_REDACT_DEPTH) next = null;
            if (next === null) {
              redactFrom = pos;
              redactDepth = depth;
            }
          }
          isArray[depth] = c === 0x5b;
          frameStates[depth] = redactFrom < 0 ? (next as readonly number[]) : NO_STATES;
          counts[depth] = 0;
          depth++;
          pos++;
          mode = c === 0x7b ? FIRST_KEY : FIRST_ITEM;
          continue;
        }
        if (redactFrom < 0 && next === null && depth > 0) {
          redactFrom = pos;
          redactDepth = depth;
        }
        if (c === 0x22) {
          const end = stringEnd(text, pos);
          if (end === CUT && truncated) break;
          if (end < 0) return undefined;
          pos = end;
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          NUMBER.lastIndex = pos;
          if (NUMBER.test(text)) pos = NUMBER.lastIndex;
          else {
            PARTIAL_NUMBER.lastIndex = pos;
            if (truncated && PARTIAL_NUMBER.test(text)) break;
            return undefined;
          }
        } else {
          const literal = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : '';
          if (literal && text.startsWith(literal, pos)) pos += literal.length;
          else if (truncated && literal && n - pos < literal.length && literal.startsWith(text.slice(pos))) break;
          else return undefined;
        }
        ended = true;
        continue;
      }
      if (mode === AFTER_VALUE || mode === FIRST_ITEM) {
        const array = isArray[depth - 1] === true;
        if (mode === FIRST_ITEM ? c === 0x5d : c === (array ? 0x5d : 0x7d)) {
          pos++;
          depth--;
          ended = true;
          continue;
        }
        if (mode === AFTER_VALUE) {
          if (c !== 0x2c) return undefined;
          pos++;
        }
        if (array) {
          if (redactFrom < 0) {
            const index = mode === FIRST_ITEM ? 0 : (counts[depth - 1] as number) + 1;
            counts[depth - 1] = index;
            const states = frameStates[depth - 1] as readonly number[];
            next = states.length ? this.childRule(String(index), false, false, states, paths) : NO_STATES;
          }
          mode = VALUE;
        } else mode = KEY;
        continue;
      }
      if (mode === KEY || mode === FIRST_KEY) {
        if (c === 0x7d && mode === FIRST_KEY) {
          pos++;
          depth--;
          ended = true;
          continue;
        }
        if (c !== 0x22) return undefined;
        const start = pos;
        const keyEnd = stringEnd(text, pos);
        if (keyEnd === CUT && truncated) break;
        if (keyEnd < 0) return undefined;
        pos = keyEnd;
        c = text.charCodeAt(pos);
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
        if (pos >= n) break;
        if (c !== 0x3a) return undefined;
        pos++;
        if (redactFrom < 0) {
          const states = frameStates[depth - 1] as readonly number[];
          const escaped = hasBackslash(text, start + 1, keyEnd - 1);
          if (
            !escaped &&
            !states.length &&
            !(depth === 1 && this.topLevelRules) &&
            !this.mayBeDeepKeyAt(text, start + 1, keyEnd - start - 2)
          ) {
            next = NO_STATES; // most keys: no rule can name them, no need to read them
          } else {
            const raw = text.slice(start + 1, keyEnd - 1);
            const key = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
            next = this.childRule(key, true, depth === 1, states, paths);
          }
        }
        mode = VALUE;
        continue;
      }
      return undefined; // END: only whitespace may follow the document
    }
    if (mode !== END || ended) {
      if (!truncated && !(ended && depth === 0)) return undefined;
      if (ended && redactFrom >= 0 && depth === redactDepth) {
        (out ??= []).push(text.slice(copied, redactFrom), REDACTED_JSON);
        if (pos - redactFrom !== REDACTED_JSON.length || !text.startsWith(REDACTED_JSON, redactFrom)) changed = true;
        copied = pos;
        redactFrom = -1;
      }
      if (redactFrom >= 0) {
        // Cut inside a redacted value: what there is of it goes.
        (out ??= []).push(text.slice(copied, redactFrom), REDACTED_JSON);
        copied = n;
        changed = true;
      }
    }
    if (!changed || !out) return { text, changed: false };
    out.push(text.slice(copied));
    return { text: out.join(''), changed: true };
  }

  /**
   * The rules' decision for the value under `key` (an object member, or an array index as a string): null to redact
   * it, else the JSONPath states its children continue with .
   */
  private childRule(
    key: string,
    member: boolean,
    atRoot: boolean,
    states: readonly number[],
    paths: readonly (readonly PathStep[])[],
  ): readonly number[] | null {
    if (member && ((atRoot && this.isDeniedKey(key)) || this.isDeepKey(key))) return null;
    let next: number[] | undefined;
    for (const state of states) {
      const steps = paths[Math.floor(state / STEPS_STRIDE)] as readonly PathStep[];
      const matched = state % STEPS_STRIDE;
      const step = steps[matched] as PathStep;
      if (step.key === undefined || step.key === key) {
        if (matched + 1 === steps.length) return null;
        (next ??= []).push(state + 1);
      }
      if (step.descendant) (next ??= []).push(state); // `..key` keeps looking at every depth below
    }
    return next ?? NO_STATES;
  }
}

/** States are encoded as path index * STEPS_STRIDE + steps matched so far. */
const REDACTED_JSON = JSON.stringify(REDACTED);
const ENCODED_REDACTED = encodeURIComponent(REDACTED);
const BOM = 0xfeff;
const URL_HEADER_SET: ReadonlySet<string> = new Set(URL_HEADERS);
const BRACKET_SEGMENT = /\[([^\]]*)\]/g;
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;
const JSON_MIME = /^application\/(?:[\w.+-]+\+)?json\b|\+json\b/i;
const FORM_MIME = /^application\/x-www-form-urlencoded\b/i;
/**
 * JSON tokens (sticky: matched at a position), and what a text cut inside one ends with. A JSON string may not hold a
 * raw control character: the scanner accepts exactly what JSON.parse accepts.
 */
// eslint-disable-next-line no-control-regex
const STRING = /"[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*"/y;
const PARTIAL_STRING =
  // eslint-disable-next-line no-control-regex
  /"[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*(?:\\(?:u[0-9a-fA-F]{0,3})?)?$/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const PARTIAL_NUMBER = /-?(?:0|[1-9]\d*)?(?:\.\d*)?(?:[eE][+-]?\d*)?$/y;
/** stringEnd: the text ends inside the string (a valid start of one). */
const CUT = -2;

/**
 * The end (after the closing quote) of the JSON string starting at `at`, -1 when it is not a valid one, CUT when the
 * text ends inside it. A string with no escape (most of them) is read with a plain loop; one with an escape, a raw
 * control character (JSON forbids them) or no end is matched by the exact token patterns.
 */
function stringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c || c < 0x20) break;
  }
  STRING.lastIndex = at;
  if (STRING.test(text)) return STRING.lastIndex;
  PARTIAL_STRING.lastIndex = at;
  return PARTIAL_STRING.test(text) ? CUT : -1;
}

/** Whether text[from, to) holds a backslash (a key's characters: short). */
function hasBackslash(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 0x5c) return true;
  return false;
}

/** Scanner modes: what the next token must be. */
const VALUE = 0;
const FIRST_KEY = 1;
const KEY = 2;
const FIRST_ITEM = 3;
const AFTER_VALUE = 4;
const END = 5;
const STEPS_STRIDE = 1024;
const NO_STATES: readonly number[] = [];
const DEEP_KEY_CACHE_SIZE = 4096;

function compilePaths(option: string, expressions: string[]): CompiledJsonPath[] {
  return expressions.map((expression, i) => {
    const problem = jsonPathProblem(expression);
    if (problem) throw new MetricsOptionsError(`"${option}[${i}]" (${JSON.stringify(expression)}): ${problem}.`);
    return new CompiledJsonPath(expression);
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

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
