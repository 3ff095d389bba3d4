import type { HarNameValue } from '../interfaces/har.interface';
import { REDACTED } from '../metrics.constants';
import { MetricsOptionsError, type ResolvedMetricsOptions } from '../metrics.options';
import { CompiledJsonPath, jsonPathProblem, type PathStep } from './jsonpath';
import { maskApiKey } from './mask';
import { DEFAULT_REDACTED_HEADERS, DEFAULT_REDACTED_KEYS } from './redaction-defaults';

type HeaderRule = 'redact' | 'mask';
export type BodyKind = 'request' | 'response';

/**
 * All redaction rules, compiled once at startup. Every method works on copies owned by the caller and reports
 * whether it changed anything, so untouched bodies can be shipped as received.
 */
export class Redactor {
  private readonly headerRules = new Map<string, HeaderRule>();
  /** Top-level key rules (ReadMe's denylist/allowlist semantics); denylist wins. */
  private readonly deny?: ReadonlySet<string>;
  private readonly allow?: ReadonlySet<string>;
  /** Keys redacted at any depth (the defaults). */
  private readonly deepKeys: ReadonlySet<string>;
  private readonly deepKeyCache = new Map<string, boolean>();
  private readonly deepKeyLengths: Uint8Array;
  private readonly paths: Record<BodyKind, CompiledJsonPath[]>;
  /** For bodies that claim JSON but do not parse: `"key": "value"` pairs of redacted keys. */
  private readonly textPattern?: RegExp;
  /** Finds, in JSON text, a key some rule names; null when every body must be parsed (allowlist, wildcard paths). */
  private readonly keyProbe: Record<BodyKind, RegExp | null | undefined>;
  /** The JSONPath rules as steps, when all of them are simple enough for `stringify`'s walk. */
  private readonly pathSteps: Record<BodyKind, (readonly PathStep[])[] | undefined>;

  constructor(
    options: Pick<
      ResolvedMetricsOptions,
      'denylist' | 'allowlist' | 'redactHeaders' | 'redactRequestBody' | 'redactResponseBody' | 'redactDefaults'
    >,
  ) {
    const lower = (names: string[] | undefined) => names && new Set(names.map((n) => n.toLowerCase()));
    this.deny = lower(options.denylist);
    this.allow = this.deny ? undefined : lower(options.allowlist);
    this.deepKeys = new Set(options.redactDefaults ? DEFAULT_REDACTED_KEYS : []);
    this.deepKeyLengths = new Uint8Array(Math.max(0, ...[...this.deepKeys].map((k) => k.length)) + 1);
    for (const k of this.deepKeys) this.deepKeyLengths[k.length] = 1;
    if (options.redactDefaults) {
      this.headerRules.set('authorization', 'mask');
      for (const name of DEFAULT_REDACTED_HEADERS) this.headerRules.set(name, 'redact');
    }
    for (const name of options.redactHeaders) this.headerRules.set(name.toLowerCase(), 'redact');
    this.paths = {
      request: compilePaths('redactRequestBody', options.redactRequestBody),
      response: compilePaths('redactResponseBody', options.redactResponseBody),
    };
    this.keyProbe = { request: this.probeFor('request'), response: this.probeFor('response') };
    const stepsOf = (paths: CompiledJsonPath[]) =>
      paths.every((p) => p.steps && p.steps.length < STEPS_STRIDE)
        ? paths.map((p) => p.steps as readonly PathStep[])
        : undefined;
    this.pathSteps = { request: stepsOf(this.paths.request), response: stepsOf(this.paths.response) };
    const textKeys = [...this.deepKeys, ...(this.deny ?? [])];
    if (textKeys.length) {
      const alternatives = textKeys.map((k) => k.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|');
      this.textPattern = new RegExp(`("(?:${alternatives})"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"|[^,}\\]\\s]+)`, 'gi');
    }
  }

  /** Whether a body of this kind could be changed at all (lets the formatter skip parsing). */
  hasBodyRules(kind: BodyKind): boolean {
    return this.deepKeys.size > 0 || this.deny !== undefined || this.allow !== undefined || this.paths[kind].length > 0;
  }

  /**
   * Whether redaction could change this JSON text. False only when no key any rule names occurs in it as a key,
   * which spares parsing most bodies. Texts with any escape are always parsed: an escaped key would slip past.
   */
  mayChangeJson(text: string, kind: BodyKind): boolean {
    const probe = this.keyProbe[kind];
    if (probe === undefined) return false;
    if (probe === null || text.includes('\\')) return true;
    return probe.test(text);
  }

  /** undefined: no body rules; null: no probe possible, always parse. */
  private probeFor(kind: BodyKind): RegExp | null | undefined {
    if (!this.hasBodyRules(kind)) return undefined;
    if (this.allow) return null;
    const keys = new Set([...this.deepKeys, ...(this.deny ?? [])]);
    for (const path of this.paths[kind]) {
      if (path.lastKey === undefined) return null;
      keys.add(path.lastKey.toLowerCase());
    }
    const alternatives = [...keys].map((k) => k.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|');
    return new RegExp(`"(?:${alternatives})"\\s*:`, 'i');
  }

  hasQueryRules(): boolean {
    return this.deepKeys.size > 0 || this.deny !== undefined || this.allow !== undefined;
  }

  /** A top-level key (header, query parameter, form field, JSON property) that must not keep its value. */
  private isDeniedKey(name: string): boolean {
    const key = name.toLowerCase();
    if (this.deny) return this.deny.has(key) || this.deepKeys.has(key);
    if (this.allow) return !this.allow.has(key);
    return this.deepKeys.has(key);
  }

  headers(headers: HarNameValue[]): HarNameValue[] {
    return headers.map((header) => {
      const name = header.name.toLowerCase();
      const rule = this.headerRules.get(name) ?? (this.isHeaderDenied(name) ? 'redact' : undefined);
      if (rule === 'mask') return { name: header.name, value: maskApiKey(header.value) };
      return rule === 'redact' ? { name: header.name, value: REDACTED } : header;
    });
  }

  private isHeaderDenied(name: string): boolean {
    if (this.deny) return this.deny.has(name);
    return this.allow ? !this.allow.has(name) : false;
  }

  /** Query or form parameters (names kept). */
  params<T extends { name: string; value?: string }>(params: T[]): T[] {
    return params.map((p) => (p.value !== undefined && this.isDeniedKey(p.name) ? { ...p, value: REDACTED } : p));
  }

  /** A URL with the values of redacted query parameters replaced; the URL string itself when nothing applies. */
  url(url: string): string {
    const q = url.indexOf('?');
    if (q < 0 || !this.hasQueryRules()) return url;
    const hash = url.indexOf('#', q);
    const query = url.slice(q + 1, hash < 0 ? undefined : hash);
    let changed = false;
    const parts = query.split('&').map((part) => {
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      if (eq < 0 || !this.isDeniedKey(safeDecode(rawName))) return part;
      changed = true;
      return `${rawName}=${encodeURIComponent(REDACTED)}`;
    });
    return changed ? `${url.slice(0, q + 1)}${parts.join('&')}${hash < 0 ? '' : url.slice(hash)}` : url;
  }

  /**
   * Serializes a body the app handed to its platform (an object, a Buffer sent as JSON…) as redacted JSON. One walk
   * over the JSON form (after `toJSON`) finds what the rules redact; only the objects on the way to a redacted value
   * are copied, and native `JSON.stringify` writes the result (cheaper than a replacer function, which V8 calls for
   * every value); nothing of the caller's is mutated. Undefined when a rule needs jsonpath-plus (slices, unions,
   * negative indexes): the caller then serializes, parses a private copy and uses `body()`. Throws what
   * `JSON.stringify` throws.
   */
  stringify(value: object, kind: BodyKind): string | undefined {
    const paths = this.pathSteps[kind];
    if (!paths) return undefined;
    if (!this.hasBodyRules(kind)) return JSON.stringify(value);
    if (paths.some((steps) => steps.length === 0)) return JSON.stringify(REDACTED); // "$": the whole document
    const form = jsonForm(value, '');
    if (form === null || typeof form !== 'object') return JSON.stringify(form);
    const states = paths.map((_, i) => i * STEPS_STRIDE);
    const copy = this.redactedCopy(form as object, states, paths, true, []);
    // An untouched document is serialized from the original, so JSON.stringify calls its toJSON itself.
    return JSON.stringify(copy ?? value);
  }

  /**
   * Walks one object of a JSON form. Returns a copy with the redactions made below it, or undefined when nothing
   * below it is redacted. `states` are the JSONPath rules' partial matches waiting for this object's keys.
   */
  private redactedCopy(
    node: object,
    states: readonly number[],
    paths: readonly (readonly PathStep[])[],
    isRoot: boolean,
    ancestors: object[],
  ): object | undefined {
    // A cycle: leave it to JSON.stringify, which throws on it.
    if (ancestors.includes(node) || node instanceof String) return undefined;
    ancestors.push(node);
    const isArray = Array.isArray(node);
    const keys = isArray ? undefined : Object.keys(node);
    // Values in one call: reading each key back would be a slow keyed lookup per property.
    const values = isArray ? (node as unknown[]) : Object.values(node);
    const length = keys ? keys.length : values.length;
    const deep = this.deepKeys.size > 0;
    let copy: Record<string, unknown> | undefined;
    for (let i = 0; i < length; i++) {
      // Array indexes only matter to JSONPath steps; most arrays are walked for the keys deeper down.
      const key = keys ? (keys[i] as string) : states.length ? String(i) : '';
      const original = values[i];
      const child = jsonForm(original, keys ? key : i);
      let replacement: unknown = UNCHANGED;
      if (keys) {
        // Properties JSON leaves out stay out: a redacted value must not make them appear.
        if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue;
        if ((isRoot && this.isDeniedKey(key)) || (deep && this.isDeepKey(key))) {
          replacement = REDACTED;
        }
      }
      const isObject = child !== null && typeof child === 'object';
      let next: number[] | undefined;
      if (replacement === UNCHANGED) {
        for (const state of states) {
          const steps = paths[Math.floor(state / STEPS_STRIDE)] as readonly PathStep[];
          const depth = state % STEPS_STRIDE;
          const step = steps[depth] as PathStep;
          if (step.key === undefined || step.key === key) {
            if (depth + 1 === steps.length) {
              replacement = REDACTED;
              break;
            }
            if (isObject) (next ??= []).push(state + 1);
          }
          // `..key` keeps looking at every depth below.
          if (step.descendant && isObject) (next ??= []).push(state);
        }
      }
      if (replacement === UNCHANGED && isObject && (next || deep)) {
        replacement = this.redactedCopy(child, next ?? NO_STATES, paths, false, ancestors) ?? UNCHANGED;
      }
      if (replacement !== UNCHANGED && !copy) {
        copy = (isArray ? (node as unknown[]).slice(0, i) : {}) as Record<string, unknown>;
        if (keys) for (let j = 0; j < i; j++) setOwn(copy, keys[j] as string, values[j]);
      }
      if (copy) setOwn(copy, keys ? key : i, replacement === UNCHANGED ? original : replacement);
    }
    ancestors.pop();
    return copy;
  }

  /** Whether a key is redacted at any depth. Bodies repeat their keys, so the case-folded answer is remembered. */
  private isDeepKey(key: string): boolean {
    // Most keys are rejected by their length alone. Lower-casing never shortens a string, and the one character it
    // lengthens (U+0130) yields a non-ASCII mark, so a key the (ASCII) deep keys could match has one of their lengths.
    if (this.deepKeyLengths[key.length] !== 1) return false;
    let deep = this.deepKeyCache.get(key);
    if (deep === undefined) {
      deep = this.deepKeys.has(key.toLowerCase());
      if (this.deepKeyCache.size >= DEEP_KEY_CACHE_SIZE) this.deepKeyCache.clear(); // bounded: keys can be data
      this.deepKeyCache.set(key, deep);
    }
    return deep;
  }

  /** Redacts a parsed JSON or form body in place (the caller owns it). Returns the new root and whether it changed. */
  body(value: unknown, kind: BodyKind): { value: unknown; changed: boolean } {
    let changed = false;
    if (value !== null && typeof value === 'object') {
      if (!Array.isArray(value)) {
        const record = value as Record<string, unknown>;
        for (const key of Object.keys(record)) {
          if (this.isDeniedKey(key) && record[key] !== REDACTED) {
            record[key] = REDACTED;
            changed = true;
          }
        }
      }
      if (this.deepKeys.size && this.redactDeep(value, 0)) changed = true;
    }
    for (const path of this.paths[kind]) {
      const result = path.replaceIn(value, REDACTED);
      value = result.value;
      changed ||= result.changed;
    }
    return { value, changed };
  }

  private redactDeep(node: object, depth: number): boolean {
    if (depth > 64) return false; // bounded: parsed JSON cannot be circular, but it can be deep
    let changed = false;
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (!Array.isArray(node) && this.isDeepKey(key)) {
        if (child !== REDACTED) {
          record[key] = REDACTED;
          changed = true;
        }
      } else if (child !== null && typeof child === 'object' && this.redactDeep(child, depth + 1)) {
        changed = true;
      }
    }
    return changed;
  }

  /** Text that claims to be JSON but does not parse: `"secretKey": value` pairs are still found and redacted. */
  text(text: string): { text: string; changed: boolean } {
    if (!this.textPattern) return { text, changed: false };
    const result = text.replace(this.textPattern, `$1"${REDACTED}"`);
    return { text: result, changed: result !== text };
  }
}

/** States are encoded as path index * STEPS_STRIDE + steps matched so far. */
const STEPS_STRIDE = 1024;
const NO_STATES: readonly number[] = [];
const DEEP_KEY_CACHE_SIZE = 4096;
const UNCHANGED = Symbol('unchanged');

/** Sets a property as JSON.parse would: a "__proto__" key is an ordinary property, never the prototype. */
function setOwn(target: Record<string, unknown>, key: string | number, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** What JSON.stringify serializes in place of a value: the result of its `toJSON(key)` when it has one. */
function jsonForm(value: unknown, key: string | number): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return (toJSON as (key: string) => unknown).call(value, String(key));
  }
  return value;
}

function compilePaths(option: string, expressions: string[]): CompiledJsonPath[] {
  return expressions.map((expression, i) => {
    const problem = jsonPathProblem(expression);
    if (problem) throw new MetricsOptionsError(`"${option}[${i}]" (${JSON.stringify(expression)}): ${problem}.`);
    return new CompiledJsonPath(expression);
  });
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
