import { REDACTED } from '../metrics.constants';
import { type PathChild, PathAutomaton, type PathNode } from './path-automaton';
import type { PathStep } from './jsonpath';
import { MAX_REDACT_DEPTH } from './redaction-defaults';
import { CUT, lastStringEscaped, literalEnd, numberEnd, stringEnd } from './json-tokens';
import type { RedactionRules } from './redaction-rules';

/** A redacted value as JSON text. */
export const REDACTED_JSON = JSON.stringify(REDACTED);

/**
 * The one-pass JSON redaction: reads JSON text without trusting it and without building the object tree, checking
 * the grammar exactly as JSON.parse does (so it can tell a text that is not JSON), following the key path (escaped
 * keys decoded, every duplicate key redacted, a UTF-8 BOM skipped) and noting where the values the rules name stand:
 * default keys at any depth, `denylist`/`allowlist` at the top level, JSONPath rules made of names, `*` and indexes
 * (see PathAutomaton). A container past MAX_REDACT_DEPTH that rules would have to look into is redacted whole.
 *
 * A key is compared where it stands (by length, then in place): nothing is allocated for the keys it keeps, and the
 * open containers are kept in arrays, not on the call stack, so no nesting depth can overflow it. One scanner per
 * body kind, reused (scans are synchronous).
 */
export class JsonScanner {
  /**
   * After `scan`: the values to replace by REDACTED_JSON, as [from, to) offset pairs in text order, in the first
   * `cutCount` entries (reused: a scan allocates nothing). Values whose text already is REDACTED_JSON are left out: 0
   * means the text stays as it is.
   */
  cuts = new Int32Array(64);
  cutCount = 0;
  private readonly automaton: PathAutomaton;
  private readonly dead: PathNode;
  /** Whether rules look below the top level: then containers past MAX_REDACT_DEPTH are redacted. */
  private readonly capDepth: boolean;
  // The open containers: their rules' node, whether each is an array, its items so far.
  private nodes: PathNode[] = [];
  private arrays: boolean[] = [];
  private counts: number[] = [];

  constructor(
    private readonly rules: RedactionRules,
    steps: readonly (readonly PathStep[])[],
    capDepth: boolean,
  ) {
    this.automaton = new PathAutomaton(steps);
    this.dead = this.automaton.next([], undefined) as PathNode;
    this.capDepth = capDepth;
  }

  /**
   * Reads `text`; false when it is not JSON (up to the cut, with `truncated`: the text was cut at `maxBodyBytes`, and
   * then an unfinished value the rules name is redacted up to the end). True with `cuts` set otherwise.
   */
  scan(text: string, truncated: boolean): boolean {
    const n = text.length;
    this.cutCount = 0;
    // (Cuts are read after the scan: a buffer grown by the last document is let go at the next one.)
    if (this.cuts.length > KEPT_STACK) this.cuts = new Int32Array(64);
    const rules = this.rules;
    const deepKeys = rules.deepKeys;
    const checkDeep = deepKeys.size > 0;
    const topLevelRules = rules.topLevelRules;
    const dead = this.dead;
    const { nodes, arrays, counts } = this;
    let depth = 0;
    let pos = text.charCodeAt(0) === BOM ? 1 : 0;
    let mode = VALUE;
    // The rules' decision for the value about to be read: null to redact it, else the node for its children.
    let next: PathChild = this.automaton.root;
    // The redacted value being skipped (its start, and the depth it sits at); -1 when none.
    let redactFrom = -1;
    let redactDepth = 0;
    let ended = false;

    for (;;) {
      if (ended) {
        // A value ended at `pos`: when it was the redacted one, its text is replaced.
        ended = false;
        if (redactFrom >= 0 && depth === redactDepth) {
          this.cut(text, redactFrom, pos);
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
            if (depth === 0) next = this.automaton.wholeDocument ? null : this.automaton.root;
            else if (this.capDepth && depth > MAX_REDACT_DEPTH) next = null;
            if (next === null) {
              redactFrom = pos;
              redactDepth = depth;
            }
          }
          nodes[depth] = next === null || redactFrom >= 0 ? dead : next;
          arrays[depth] = c === 0x5b;
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
        let end: number;
        if (c === 0x22) end = stringEnd(text, pos);
        else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) end = numberEnd(text, pos);
        else end = literalEnd(text, pos, c);
        if (end < 0) {
          if (end === CUT && truncated) break;
          return this.notJson();
        }
        pos = end;
        ended = true;
        continue;
      }
      if (mode === AFTER_VALUE || mode === FIRST_ITEM) {
        const array = arrays[depth - 1] === true;
        if (mode === FIRST_ITEM ? c === 0x5d : c === (array ? 0x5d : 0x7d)) {
          pos++;
          depth--;
          ended = true;
          continue;
        }
        if (mode === AFTER_VALUE) {
          if (c !== 0x2c) return this.notJson();
          pos++;
        }
        if (array) {
          if (redactFrom < 0) {
            const node = nodes[depth - 1]!;
            if (node.countsItems) {
              const index = mode === FIRST_ITEM ? 0 : counts[depth - 1]! + 1;
              counts[depth - 1] = index;
              next = node.item(index);
            } else next = node.dead ? dead : node.other();
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
        if (c !== 0x22) return this.notJson();
        const start = pos;
        const keyEnd = stringEnd(text, pos);
        if (keyEnd < 0) {
          if (keyEnd === CUT && truncated) break;
          return this.notJson();
        }
        const escaped = lastStringEscaped();
        pos = keyEnd;
        c = text.charCodeAt(pos);
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
        if (pos >= n) break;
        if (c !== 0x3a) return this.notJson();
        pos++;
        if (redactFrom < 0) {
          const node = nodes[depth - 1]!;
          const topLevel = depth === 1 && topLevelRules;
          if (escaped) {
            // Rare: read the key as JSON.parse does, so that an escaped name (`pass\u0077ord`) is the name.
            const key = JSON.parse(text.slice(start, keyEnd)) as string;
            next = (topLevel && rules.isDeniedKey(key)) || deepKeys.has(key) ? null : node.member(key);
          } else if (
            (topLevel && rules.isDeniedKeyAt(text, start + 1, keyEnd - 1)) ||
            (checkDeep && deepKeys.hasAt(text, start + 1, keyEnd - 1))
          ) {
            next = null;
          } else next = node.dead ? dead : node.memberAt(text, start + 1, keyEnd - 1);
        }
        mode = VALUE;
        continue;
      }
      return this.notJson(); // END: only whitespace may follow the document
    }
    if (mode !== END || ended) {
      if (!truncated && !(ended && depth === 0)) return this.notJson();
      if (ended && redactFrom >= 0 && depth === redactDepth) {
        this.cut(text, redactFrom, pos);
        redactFrom = -1;
      }
      // Cut inside a redacted value: what there is of it goes.
      if (redactFrom >= 0) this.push(redactFrom, n);
    }
    this.release();
    return true;
  }

  /** Notes the value text[from, to) for replacement, unless it already is the replacement. */
  private cut(text: string, from: number, to: number): void {
    if (to - from !== REDACTED_JSON.length || !text.startsWith(REDACTED_JSON, from)) this.push(from, to);
  }

  private push(from: number, to: number): void {
    if (this.cutCount + 2 > this.cuts.length) {
      const grown = new Int32Array(this.cuts.length * 2);
      grown.set(this.cuts);
      this.cuts = grown;
    }
    this.cuts[this.cutCount++] = from;
    this.cuts[this.cutCount++] = to;
  }

  private notJson(): false {
    this.cutCount = 0;
    this.release();
    return false;
  }

  /** After a deeply nested document, the stacks are not kept at that size. */
  private release(): void {
    if (this.nodes.length > KEPT_STACK) {
      this.nodes = [];
      this.arrays = [];
      this.counts = [];
    }
  }
}

/** Replaces the values the first `count` entries of `cuts` name (see JsonScanner.cuts) in `text`. */
export function applyCuts(text: string, cuts: Int32Array, count: number): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < count; i += 2) {
    out += text.slice(copied, cuts[i]) + REDACTED_JSON;
    copied = cuts[i + 1]!;
  }
  return out + text.slice(copied);
}

const BOM = 0xfeff;
/** Scanner modes: what the next token must be. */
const VALUE = 0;
const FIRST_KEY = 1;
const KEY = 2;
const FIRST_ITEM = 3;
const AFTER_VALUE = 4;
const END = 5;
const KEPT_STACK = 1024;
