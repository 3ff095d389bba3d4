import { REDACTED } from '../metrics.constants';
import { MAX_REDACT_DEPTH } from './redaction-defaults';
import type { BodyKind, RedactionRules } from './redaction-rules';

/**
 * Redacts a parsed JSON or form body in place (the caller owns it): the denylist/allowlist at the top level, the
 * default keys at any depth, then the JSONPath rules through jsonpath-plus. Returns the new root (a `$` rule replaces
 * it) and whether anything changed. The reference the one-pass scanner is tested against, and the route for what the
 * scanner leaves to jsonpath-plus (slices, unions, negative indexes).
 */
export function redactTree(
  rules: RedactionRules,
  value: unknown,
  kind: BodyKind,
): { value: unknown; changed: boolean } {
  let changed = false;
  if (value !== null && typeof value === 'object') {
    if (!Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (rules.isDeniedKey(key) && record[key] !== REDACTED) {
          record[key] = REDACTED;
          changed = true;
        }
      }
    }
    if (rules.deepRules[kind] && redactDeep(rules, value, 0)) changed = true;
  }
  for (const path of rules.paths[kind]) {
    const result = path.replaceIn(value, REDACTED);
    value = result.value;
    changed ||= result.changed;
  }
  return { value, changed };
}

/**
 * Redacts deep keys at every depth of a parsed document (the root is depth 0). A container past MAX_REDACT_DEPTH
 * is replaced whole: no depth limit may leave a value unredacted (and jsonpath-plus, which runs next, recurses).
 */
function redactDeep(rules: RedactionRules, node: object, depth: number): boolean {
  let changed = false;
  const isArray = Array.isArray(node);
  const record = node as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const child = record[key];
    if (!isArray && rules.deepKeys.has(key)) {
      if (child !== REDACTED) {
        record[key] = REDACTED;
        changed = true;
      }
    } else if (child !== null && typeof child === 'object') {
      if (depth + 1 > MAX_REDACT_DEPTH) {
        record[key] = REDACTED;
        changed = true;
      } else if (redactDeep(rules, child, depth + 1)) changed = true;
    }
  }
  return changed;
}
