/*
 * A GraphQL lexer (spec §2.1) that never throws and never trusts its input: documents arrive cut at `maxBodyBytes`,
 * malformed, or hostile. It allocates nothing per token: `next()` moves to the next token and leaves its kind and
 * offsets in fields. Unterminated strings end at the line end (as the spec's lexer reads them), unterminated block
 * strings at the end of the text, so a cut secret is still one token that redaction can replace.
 */

export const enum TokenKind {
  End,
  /** One of `! $ & ( ) : = @ [ ] { | }` (its code in `punct`), or `...` (punct 0x2e). */
  Punct,
  Name,
  /** `"..."`, escapes included. */
  String,
  /** `"""..."""`. */
  BlockString,
  Number,
  /** A character GraphQL does not know: skipped, kept as a token so nothing is silently merged. */
  Other,
}

export class GraphqlLexer {
  kind: TokenKind = TokenKind.End;
  /** Offsets of the current token in the text: [start, end). */
  start = 0;
  end = 0;
  /** The character code of a punctuator (0x2e for `...`). */
  punct = 0;
  private pos = 0;
  /** Called with the [start, end) of each comment (`#` included) as it is skipped. */
  onComment?: (start: number, end: number) => void;

  constructor(readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  /** The current token's text (names: the name; strings: with their quotes). */
  value(): string {
    return this.text.slice(this.start, this.end);
  }

  next(): TokenKind {
    const text = this.text;
    const length = text.length;
    let i = this.pos;
    // Ignored tokens: white space, line terminators, commas, comments, BOM.
    for (;;) {
      if (i >= length) {
        this.start = this.end = this.pos = length;
        return (this.kind = TokenKind.End);
      }
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x2c || c === 0xfeff) {
        i++;
      } else if (c === 0x23) {
        const start = i;
        while (i < length && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
        this.onComment?.(start, i);
      } else {
        break;
      }
    }
    this.start = i;
    const c = text.charCodeAt(i);
    if (isNameStart(c)) {
      i++;
      while (i < length && isNameContinue(text.charCodeAt(i))) i++;
      this.kind = TokenKind.Name;
    } else if (c === 0x22) {
      if (text.charCodeAt(i + 1) === 0x22 && text.charCodeAt(i + 2) === 0x22) {
        i = blockStringEnd(text, i + 3);
        this.kind = TokenKind.BlockString;
      } else {
        i = stringEnd(text, i + 1);
        this.kind = TokenKind.String;
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i++;
      // Loose on purpose: digits, `.`, exponents and their signs; what follows a number is never a name in valid text.
      while (i < length && isNumberContinue(text.charCodeAt(i))) i++;
      this.kind = TokenKind.Number;
    } else if (c === 0x2e && text.charCodeAt(i + 1) === 0x2e && text.charCodeAt(i + 2) === 0x2e) {
      i += 3;
      this.punct = 0x2e;
      this.kind = TokenKind.Punct;
    } else if (isPunct(c)) {
      i++;
      this.punct = c;
      this.kind = TokenKind.Punct;
    } else {
      i++;
      this.kind = TokenKind.Other;
    }
    this.end = this.pos = i;
    return this.kind;
  }
}

/** After the opening quote: the offset just past the closing quote, or the line end / text end when there is none. */
function stringEnd(text: string, i: number): number {
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x0a || c === 0x0d) return i;
    i += c === 0x5c ? 2 : 1;
  }
  return length;
}

/** After the opening `"""`: past the closing `"""` (`\"""` is an escape), or the text end. */
function blockStringEnd(text: string, i: number): number {
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && text.startsWith('"""', i + 1)) i += 4;
    else if (c === 0x22 && text.charCodeAt(i + 1) === 0x22 && text.charCodeAt(i + 2) === 0x22) return i + 3;
    else i++;
  }
  return length;
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isNameContinue(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39);
}

function isNumberContinue(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** `! $ & ( ) : = @ [ ] { | }` */
function isPunct(c: number): boolean {
  return (
    c === 0x21 ||
    c === 0x24 ||
    c === 0x26 ||
    c === 0x28 ||
    c === 0x29 ||
    c === 0x3a ||
    c === 0x3d ||
    c === 0x40 ||
    c === 0x5b ||
    c === 0x5d ||
    c === 0x7b ||
    c === 0x7c ||
    c === 0x7d
  );
}
