/**
 * A set of names compared case-insensitively (as `name.toLowerCase()`), that can also test a name where it stands in
 * a text (`hasAt`), without slicing it out: the JSON scanner asks this of every key it may have to redact, and most
 * keys are kept, so asking must allocate nothing.
 */
export class KeySet {
  /** The names, lower-cased. */
  readonly names: ReadonlySet<string>;
  /** The names by length: a key of another length is rejected without reading it. */
  private readonly byLength: (string[] | undefined)[] = [];
  /** Whether every name is ASCII: else names are compared as lower-cased copies (a configured `İd` is 3 characters). */
  private readonly ascii: boolean;

  constructor(names: Iterable<string>) {
    this.names = new Set([...names].map((n) => n.toLowerCase()));
    for (const name of this.names) (this.byLength[name.length] ??= []).push(name);
    this.ascii = [...this.names].every((name) => isAscii(name));
  }

  get size(): number {
    return this.names.size;
  }

  /** Whether the set holds `name`, in any casing. */
  has(name: string): boolean {
    return this.hasAt(name, 0, name.length);
  }

  /** Whether the set holds `text[start, end)`, in any casing. */
  hasAt(text: string, start: number, end: number): boolean {
    if (!this.ascii) return this.names.has(text.slice(start, end).toLowerCase());
    // Lower-casing never shortens a string, and the one character it lengthens (U+0130) yields a non-ASCII mark, so a
    // key that could match an ASCII name has the name's length.
    const candidates = this.byLength[end - start];
    if (candidates === undefined) return false;
    next: for (const name of candidates) {
      for (let i = start, j = 0; i < end; i++, j++) {
        let c = text.charCodeAt(i);
        // Non-ASCII: leave the folding to toLowerCase (the Kelvin sign K lower-cases to an ASCII k).
        if (c >= 0x80) return this.names.has(text.slice(start, end).toLowerCase());
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        if (c !== name.charCodeAt(j)) continue next;
      }
      return true;
    }
    return false;
  }
}

/** Whether a text is all ASCII. */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}
