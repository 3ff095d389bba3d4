import { JSONPath } from 'jsonpath-plus';

/*
 * JSONPath as used for redaction: jsonpath-plus evaluates (script evaluation off), but it accepts almost any string
 * (`$.[` quietly means `$..`), so expressions are first checked against the grammar we support. A bad entry stops
 * the app at startup: silently sending a body unredacted is the failure we exist to prevent.
 */

const NAME = String.raw`[\p{L}\p{N}_\-]+`;
const QUOTED = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`;
const INDEX = String.raw`-?\d+`;
const SLICE = String.raw`-?\d*:-?\d*(?::-?\d+)?`;
const SELECTOR = String.raw`\*|${SLICE}|(?:${INDEX}|${QUOTED})(?:\s*,\s*(?:${INDEX}|${QUOTED}))*`;
const SEGMENT = String.raw`\.\.(?:${NAME}|\*|\[(?:${SELECTOR})\])|\.(?:${NAME}|\*)|\[(?:${SELECTOR})\]`;
const GRAMMAR = new RegExp(String.raw`^\$(?:${SEGMENT})*$`, 'u');

/** Why the expression is not a supported JSONPath, or undefined when it is. */
export function jsonPathProblem(expression: string): string | undefined {
  if (!expression.startsWith('$')) return 'a JSONPath starts with "$" (e.g. "$.user.password")';
  if (/\[\s*\?|\(\s*@/.test(expression))
    return 'filter and script expressions are not supported (script evaluation is off)';
  if (!GRAMMAR.test(expression))
    return "it is not a valid JSONPath (supported: .name, ..name, *, [n], ['name'], [a:b], [a,b])";
  return undefined;
}

/** One step of a simple path: a key (or any key), as a child (`.a`) or at any depth below (`..a`). */
export interface PathStep {
  /** The key to match, compared with JSON keys as strings (`[0]` is "0"); undefined for `*`. */
  key?: string;
  descendant: boolean;
}

const STEP =
  /\.\.(?<dname>[\p{L}\p{N}_-]+|\*)|\.(?<name>[\p{L}\p{N}_-]+|\*)|(?<deep>\.\.)?\[\s*(?:(?<index>0|[1-9]\d*)|(?<star>\*)|(?<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))\s*\]/uy;

/**
 * The steps of a path made only of names, `*` and non-negative indexes (`$.a[0].b`, `$..password`, `$.items[*].c`);
 * undefined for slices, unions and negative indexes, which only jsonpath-plus applies.
 */
function simpleSteps(expression: string): PathStep[] | undefined {
  const steps: PathStep[] = [];
  STEP.lastIndex = 1;
  while (STEP.lastIndex < expression.length) {
    const m = STEP.exec(expression);
    if (!m?.groups) return undefined;
    const { dname, name, deep, index, star, quoted } = m.groups;
    const word = dname ?? name;
    if (word !== undefined) steps.push({ key: word === '*' ? undefined : word, descendant: dname !== undefined });
    else if (star !== undefined) steps.push({ descendant: deep !== undefined });
    else {
      // Escapes inside quotes: leave their reading to jsonpath-plus.
      if (quoted?.includes('\\')) return undefined;
      steps.push({ key: index ?? quoted?.slice(1, -1), descendant: deep !== undefined });
    }
  }
  return steps;
}

/** A validated JSONPath expression, ready to apply. */
export class CompiledJsonPath {
  /** Set when the path is simple enough to be applied without jsonpath-plus (see Redactor.stringify). */
  readonly steps?: readonly PathStep[];

  /**
   * The key the expression ends with (`number` in `$.cards[*].number`), when it ends with a plain name: a document
   * without that key cannot match. Undefined for paths ending in `*`, an index, a slice or `$`.
   */
  readonly lastKey?: string;

  constructor(readonly expression: string) {
    const last = /(?:\.\.?(?<name>[\p{L}\p{N}_-]+)|\[\s*(?<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\])$/u.exec(
      expression,
    );
    const name = last?.groups?.name ?? last?.groups?.quoted?.slice(1, -1);
    this.lastKey = name !== undefined && !name.includes('\\') ? name : undefined;
    this.steps = simpleSteps(expression);
  }

  /**
   * Replaces every matched value of `json` (a copy owned by the caller) by `replacement`.
   * Returns the new root (a match of `$` replaces the whole document) and whether anything changed.
   */
  replaceIn(json: unknown, replacement: string): { value: unknown; changed: boolean } {
    if (json === null || typeof json !== 'object') return { value: json, changed: false };
    if (this.expression === '$') return { value: replacement, changed: true };
    const matches = JSONPath({
      path: this.expression,
      json,
      resultType: 'all',
      eval: false,
      wrap: true,
    }) as { parent: Record<string, unknown> | null; parentProperty: string | number | null }[];
    let changed = false;
    for (const { parent, parentProperty } of matches) {
      // jsonpath-plus also indexes into strings ("abc"[0]): only JSON objects and arrays hold values to replace.
      if (parent && typeof parent === 'object' && parentProperty !== null && parent[parentProperty] !== replacement) {
        parent[parentProperty] = replacement;
        changed = true;
      }
    }
    return { value: json, changed };
  }
}
