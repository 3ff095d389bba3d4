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

/** A validated JSONPath expression, ready to apply. */
export class CompiledJsonPath {
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
      if (parent && parentProperty !== null && parent[parentProperty] !== replacement) {
        parent[parentProperty] = replacement;
        changed = true;
      }
    }
    return { value: json, changed };
  }
}
