import type { BodyKind, Redactor } from '../redact/redactor';

/** A body's JSON string literal (quotes and escapes included), or why it was not recorded. */
export type BodyLiteral = string | { dropped: string };

/** The Content-Types the Redactor reads as JSON (`Redactor.bodyText` sends these to `jsonText`). */
const JSON_MIME = /^application\/(?:[\w.+-]+\+)?json\b|\+json\b/i;

/**
 * The JSON string literal of a JSON body after redaction: byte for byte `JSON.stringify` of `jsonText`'s text.
 * The one call into the Redactor for JSON bodies on the write path: `Redactor.jsonLiteral` does the same in one pass
 * (the scanner writes the escaped literal directly); at merge this body becomes
 * `return redactor.jsonLiteral(text, kind, truncated);`.
 */
function jsonLiteral(redactor: Redactor, text: string, kind: BodyKind, truncated: boolean): BodyLiteral {
  const result = redactor.jsonText(text, kind, truncated);
  return 'dropped' in result ? result : JSON.stringify(result.text);
}

/**
 * Any body text as its (effective) Content-Type labels it, redacted, as a JSON string literal: JSON through
 * `jsonLiteral`, other text through `Redactor.bodyText` (forms, text). Same result as
 * `JSON.stringify(redactor.bodyText(text, mimeType, kind, truncated).text)`.
 */
export function bodyLiteral(
  redactor: Redactor,
  text: string,
  mimeType: string,
  kind: BodyKind,
  truncated: boolean,
): BodyLiteral {
  if (!text) return '""';
  if (JSON_MIME.test(mimeType)) return jsonLiteral(redactor, text, kind, truncated);
  const result = redactor.bodyText(text, mimeType, kind, truncated);
  return 'dropped' in result ? result : JSON.stringify(result.text);
}
