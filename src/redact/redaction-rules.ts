import { MetricsOptionsError } from '../option-checks';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { CompiledJsonPath, jsonPathProblem, type PathStep } from './jsonpath';
import { isAscii, KeySet } from './key-set';
import { DEFAULT_REDACTED_KEYS } from './redaction-defaults';

export type BodyKind = 'request' | 'response';
export type HeaderRule = 'redact' | 'mask';
export type RedactorOptions = Pick<
  ResolvedMetricsOptions,
  'denylist' | 'allowlist' | 'redactHeaders' | 'redactRequestBody' | 'redactResponseBody' | 'redactDefaults'
>;

/**
 * The redaction options compiled once at startup, and the questions every redacting piece asks of them: is this
 * header, parameter or key one whose value goes, could this text hold such a key at all.
 */
export class RedactionRules {
  readonly headerRules = new Map<string, HeaderRule>();
  /** Top-level key rules (ReadMe's denylist/allowlist semantics); denylist wins. */
  readonly deny?: KeySet;
  readonly allow?: KeySet;
  /** Keys redacted at any depth (the defaults). */
  readonly deepKeys: KeySet;
  /** Whether top-level keys have rules of their own (denylist, allowlist). */
  readonly topLevelRules: boolean;
  readonly paths: Record<BodyKind, CompiledJsonPath[]>;
  /** The JSONPath rules as steps, when all of them are simple enough for the one-pass scanner. */
  readonly pathSteps: Record<BodyKind, (readonly PathStep[])[] | undefined>;
  /** Whether rules look below the top level (deep keys, JSONPath): then subtrees past MAX_REDACT_DEPTH are redacted. */
  readonly deepRules: Record<BodyKind, boolean>;
  /** The keys of the default list and the denylist, sought in texts that are not JSON. */
  readonly textKeys: string[];
  /** Finds, in JSON text, a key some rule names; null when every body must be parsed (allowlist, wildcard paths). */
  private readonly keyProbe: Record<BodyKind, RegExp | null | undefined>;

  constructor(options: RedactorOptions) {
    this.deny = options.denylist && new KeySet(options.denylist);
    this.allow = this.deny || !options.allowlist ? undefined : new KeySet(options.allowlist);
    this.deepKeys = new KeySet(options.redactDefaults ? DEFAULT_REDACTED_KEYS : []);
    this.topLevelRules = this.deny !== undefined || this.allow !== undefined;
    if (options.redactDefaults) {
      // One list for headers, query, form and JSON keys and text bodies; the Authorization header is masked instead.
      for (const name of DEFAULT_REDACTED_KEYS) this.headerRules.set(name, 'redact');
      this.headerRules.set('authorization', 'mask');
    }
    for (const name of options.redactHeaders) this.headerRules.set(name.toLowerCase(), 'redact');
    this.paths = {
      request: compilePaths('redactRequestBody', options.redactRequestBody),
      response: compilePaths('redactResponseBody', options.redactResponseBody),
    };
    this.keyProbe = { request: this.probeFor('request'), response: this.probeFor('response') };
    const stepsOf = (paths: CompiledJsonPath[]) =>
      paths.every((p) => p.steps && p.steps.length < MAX_SCANNED_STEPS)
        ? paths.map((p) => p.steps as readonly PathStep[])
        : undefined;
    this.pathSteps = { request: stepsOf(this.paths.request), response: stepsOf(this.paths.response) };
    this.deepRules = {
      request: this.deepKeys.size > 0 || this.paths.request.length > 0,
      response: this.deepKeys.size > 0 || this.paths.response.length > 0,
    };
    this.textKeys = [...new Set([...this.deepKeys.names, ...(this.deny?.names ?? [])])];
  }

  /** Whether a body of this kind could be changed at all (lets the formatter skip parsing). */
  hasBodyRules(kind: BodyKind): boolean {
    return this.deepKeys.size > 0 || this.topLevelRules || this.paths[kind].length > 0;
  }

  hasQueryRules(): boolean {
    return this.deepKeys.size > 0 || this.topLevelRules;
  }

  /**
   * See Redactor.mayChangeJson. The Kelvin sign lower-cases to an ASCII k (`to\u212Aen` is a token) but `/token/i`
   * misses it: it makes a text scanned, as any escape does (two `includes` are cheaper than alternatives in the regex).
   */
  mayChangeJson(text: string, kind: BodyKind): boolean {
    const probe = this.keyProbe[kind];
    if (probe === undefined) return false;
    if (probe === null || text.includes('\\') || text.includes('\u212A')) return true;
    return probe.test(text);
  }

  /** undefined: no body rules; null: no probe possible, always parse. */
  private probeFor(kind: BodyKind): RegExp | null | undefined {
    if (!this.hasBodyRules(kind)) return undefined;
    if (this.allow) return null;
    const keys = new Set([...this.deepKeys.names, ...(this.deny?.names ?? [])]);
    // A regex's `i` flag does not fold as toLowerCase does beyond ASCII (a configured `ß` or `İd`): scan every body.
    if (![...keys].every((k) => isAscii(k))) return null;
    for (const path of this.paths[kind]) {
      if (path.lastKey === undefined) return null;
      keys.add(path.lastKey.toLowerCase());
    }
    return new RegExp([...keys].map(escapeRegExp).join('|'), 'i');
  }

  /** A top-level key (header, query parameter, form field, JSON property) that must not keep its value. */
  isDeniedKey(name: string): boolean {
    return this.isDeniedKeyAt(name, 0, name.length);
  }

  /** `isDeniedKey` of `text[start, end)`, read where it stands. */
  isDeniedKeyAt(text: string, start: number, end: number): boolean {
    if (this.deny) return this.deny.hasAt(text, start, end) || this.deepKeys.hasAt(text, start, end);
    if (this.allow) return !this.allow.hasAt(text, start, end);
    return this.deepKeys.hasAt(text, start, end);
  }

  /** A header name (lower-cased) that the denylist or allowlist takes the value of. */
  isHeaderDenied(name: string): boolean {
    if (this.deny) return this.deny.names.has(name);
    return this.allow ? !this.allow.names.has(name) : false;
  }

  /** See Redactor.isSecretName. */
  isSecretName(name: string): boolean {
    return this.deepKeys.has(name) || this.deny?.has(name) === true;
  }

  /**
   * A query or form parameter name that must not keep its value: by its base name and by each bracketed segment
   * (`password[]`, `user[password]`, `a[b][token]`), as qs-style parsers read them.
   */
  isDeniedParam(name: string): boolean {
    const bracket = name.indexOf('[');
    if (bracket < 0) return this.isDeniedKey(name);
    if (bracket > 0 && this.isDeniedKey(name.slice(0, bracket))) return true;
    BRACKET_SEGMENT.lastIndex = bracket;
    for (let m = BRACKET_SEGMENT.exec(name); m; m = BRACKET_SEGMENT.exec(name)) {
      const segment = m[1] as string;
      // `[]` and `[0]` are positions, not names (an allowlist does not have to list them).
      if (segment !== '' && !/^\d+$/.test(segment) && this.isDeniedKey(segment)) return true;
    }
    return false;
  }
}

/** Paths longer than this go to jsonpath-plus (the scanner's automaton has no use for them). */
const MAX_SCANNED_STEPS = 1024;
const BRACKET_SEGMENT = /\[([^\]]*)\]/g;

function compilePaths(option: string, expressions: string[]): CompiledJsonPath[] {
  return expressions.map((expression, i) => {
    const problem = jsonPathProblem(expression);
    if (problem) throw new MetricsOptionsError(`"${option}[${i}]" (${JSON.stringify(expression)}): ${problem}.`);
    return new CompiledJsonPath(expression);
  });
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}
