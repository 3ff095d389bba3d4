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
      this.probe = new RegExp(keys, 'i');
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
    let changed = false;
    const result = text.replace(
      this.pattern,
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
}
