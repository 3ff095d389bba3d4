/*
 * The JSON tokens the scanner reads, checked exactly as JSON.parse checks them: each reader returns the token's end,
 * INVALID when the text is not JSON there, or CUT when the text ends inside a token it could still be.
 */

/** A token end: the text is not JSON there. */
export const INVALID = -1;
/** A token end: the text ends inside the token (a valid start of one). */
export const CUT = -2;

/** Whether the last string `stringEnd` read holds an escape. */
let stringEscaped = false;

/** Whether the last string `stringEnd` read holds an escape (a key to decode before comparing it). */
export function lastStringEscaped(): boolean {
  return stringEscaped;
}

/**
 * The end (after the closing quote) of the JSON string starting at `at`, INVALID or CUT; sets `stringEscaped`. A
 * JSON string may not hold a raw control character, and only the escapes JSON.parse accepts.
 */
export function stringEnd(text: string, at: number): number {
  const n = text.length;
  let i = at + 1;
  stringEscaped = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      stringEscaped = true;
      if (i + 1 >= n) return CUT;
      const e = text.charCodeAt(i + 1);
      if (e === 0x75) {
        for (let k = i + 2; k < i + 6; k++) {
          if (k >= n) return CUT;
          if (!isHex(text.charCodeAt(k))) return INVALID;
        }
        i += 6;
        continue;
      }
      if (!(
        e === 0x22 ||
        e === 0x5c ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ))
        return INVALID;
      i += 2;
      continue;
    }
    if (c < 0x20) return INVALID;
    i++;
  }
  return CUT;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The end of the JSON number at `at`, INVALID or CUT (`-`, `1.`, `1e+` at the end of the text). */
export function numberEnd(text: string, at: number): number {
  const n = text.length;
  let i = at;
  if (text.charCodeAt(i) === 0x2d && ++i >= n) return CUT;
  let c = text.charCodeAt(i);
  if (c === 0x30) c = text.charCodeAt(++i);
  else if (isDigit(c)) while (isDigit((c = text.charCodeAt(++i))));
  else return INVALID;
  if (c === 0x2e) {
    if (++i >= n) return CUT;
    if (!isDigit(text.charCodeAt(i))) return INVALID;
    while (isDigit((c = text.charCodeAt(++i))));
  }
  if (c === 0x65 || c === 0x45) {
    if (++i >= n) return CUT;
    c = text.charCodeAt(i);
    if ((c === 0x2b || c === 0x2d) && ++i >= n) return CUT;
    if (!isDigit(text.charCodeAt(i))) return INVALID;
    while (isDigit(text.charCodeAt(++i)));
  }
  return i;
}

/** The end of `true`, `false` or `null` at `at`, INVALID or CUT. */
export function literalEnd(text: string, at: number, c: number): number {
  const literal = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : '';
  if (!literal) return INVALID;
  if (text.startsWith(literal, at)) return at + literal.length;
  const rest = text.length - at;
  return rest < literal.length && literal.startsWith(text.slice(at)) ? CUT : INVALID;
}
