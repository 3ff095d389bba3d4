import { REDACTED } from '../metrics.constants';
import { redactQuery } from './headers-url';
import { escapeRegExp, type RedactionRules } from './redaction-rules';

/** Body texts that are not JSON: urlencoded forms, and any other text (plain, XML, HTML, logs…). */
export class TextRedactor {
  /** For text bodies: `key=value`, `key: value`, `"key": value` and `<key>value<` of redacted keys. */
  private readonly pattern?: RegExp;
  /** Any of those keys anywhere in a text: most texts have none, and this is far cheaper than the pattern. */
  private readonly probe?: RegExp;

  constructor(private readonly rules: RedactionRules) {
    if (rules.textKeys.length) {
      // Longest first, so "access_token" is tried before "token" at the same position.
      const keys = [...rules.textKeys]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|');
      // (The Kelvin sign lower-cases to k, as isSecretName reads it, but the `i` flag does not fold it.)
      this.probe = new RegExp(`${keys}|\u212A`, 'i');
      this.pattern = new RegExp(
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

  /** See Redactor.mayNameSecret. */
  mayNameSecret(text: string): boolean {
    return this.probe?.test(text) ?? false;
  }

  /** See Redactor.formText. */
  formText(text: string): { text: string; changed: boolean } {
    if (!this.rules.hasQueryRules() || !text) return { text, changed: false };
    const query = redactQuery(this.rules, text);
    return query === undefined ? { text, changed: false } : { text: query, changed: true };
  }

  /** See Redactor.text. */
  text(text: string): { text: string; changed: boolean } {
    if (!this.pattern || !text || !this.probe?.test(text)) return { text, changed: false };
    // Matched on a copy with the Kelvin sign folded to k (same length, so offsets hold), replaced in the original.
    const subject = text.includes('\u212A') ? text.replaceAll('\u212A', 'k') : text;
    let out = '';
    let copied = 0;
    let changed = false;
    for (const m of subject.matchAll(this.pattern)) {
      const secret = m[3] ?? m[4] ?? '';
      const quote = secret[0] === '"' || secret[0] === "'" ? secret[0] : '';
      const replacement = quote ? `${quote}${REDACTED}${quote}` : REDACTED;
      if (secret === replacement) continue;
      const at = m.index + m[0].length - secret.length;
      out += text.slice(copied, at) + replacement;
      copied = at + secret.length;
      changed = true;
    }
    return changed ? { text: out + text.slice(copied), changed: true } : { text, changed: false };
  }
}
