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

/** Character classes of ASCII codes: one table read per character instead of a chain of comparisons. */
const IGNORED = 1;
const NAME_START = 2;
const NAME_CONTINUE = 4;
const PUNCT = 8;
const NUMBER_CONTINUE = 16;
/** Characters `skipBalanced` stops at: brackets, quotes, comments. */
const STRUCTURE = 32;
const CLASSES = new Uint8Array(128);
const mark = (codes: Iterable<number>, cls: number) => {
  for (const c of codes) CLASSES[c] = (CLASSES[c] as number) | cls;
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const codes = (chars: string) => [...chars].map((c) => c.charCodeAt(0));
mark([0x20, 0x09, 0x0a, 0x0d, 0x2c], IGNORED);
mark([...range(0x41, 0x5a), ...range(0x61, 0x7a), 0x5f], NAME_START | NAME_CONTINUE);
mark(range(0x30, 0x39), NAME_CONTINUE | NUMBER_CONTINUE);
mark(codes('.eE+-'), NUMBER_CONTINUE);
mark(codes('!$&():=@[]{|}'), PUNCT);
mark(codes('{}()[]"#'), STRUCTURE);

function classOf(c: number): number {
  return c < 128 ? (CLASSES[c] as number) : c === 0xfeff ? IGNORED : 0;
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

  /** Moves to `offset`: the next token is read from there. */
  seek(offset: number): void {
    this.pos = offset;
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
      if (classOf(c) & IGNORED) {
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
    const cls = classOf(c);
    if (cls & NAME_START) {
      i++;
      while (i < length && classOf(text.charCodeAt(i)) & NAME_CONTINUE) i++;
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
      while (i < length && classOf(text.charCodeAt(i)) & NUMBER_CONTINUE) i++;
      this.kind = TokenKind.Number;
    } else if (c === 0x2e && text.charCodeAt(i + 1) === 0x2e && text.charCodeAt(i + 2) === 0x2e) {
      i += 3;
      this.punct = 0x2e;
      this.kind = TokenKind.Punct;
    } else if (cls & PUNCT) {
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

/**
 * After an opening bracket (the current token): moves past its matching close, reading strings and comments so a
 * bracket inside them does not count, without making tokens (what capture does not need to read). At the end of a
 * cut text it stops there.
 */
export function skipBalanced(lexer: GraphqlLexer): void {
  const text = lexer.text;
  const length = text.length;
  let depth = 1;
  let i = lexer.end;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (!(classOf(c) & STRUCTURE)) {
      i++;
    } else if (c === 0x22) {
      i = text.startsWith('"""', i) ? blockStringEnd(text, i + 3) : stringEnd(text, i + 1);
    } else if (c === 0x23) {
      while (i < length && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
    } else {
      i++;
      if (c === 0x7b || c === 0x28 || c === 0x5b) depth++;
      else if (--depth === 0) break;
    }
  }
  lexer.seek(i);
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
