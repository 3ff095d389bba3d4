import { JSON_MIME, type BodyKind, type Redactor } from '../redact/redactor';

/** A body's JSON string literal (quotes and escapes included), or why it was not recorded. */
export type BodyLiteral = string | { dropped: string };

/**
 * Any body text as its (effective) Content-Type labels it, redacted, as a JSON string literal: JSON through
 * `Redactor.jsonLiteral`, other text through `Redactor.bodyText` (forms, text). Same result as
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
  if (JSON_MIME.test(mimeType)) return redactor.jsonLiteral(text, kind, truncated);
  const result = redactor.bodyText(text, mimeType, kind, truncated);
  return 'dropped' in result ? result : JSON.stringify(result.text);
}
