import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import { REDACTED } from '../metrics.constants';
import { maskApiKey } from '../redact/mask';
import { URL_HEADERS } from '../redact/redaction-defaults';
import type { Redactor } from '../redact/redactor';

/** What a header's value becomes: kept, replaced, masked (`Authorization`), or redacted as a URL (`Location`…). */
type HeaderRule = 'keep' | 'redact' | 'mask' | 'url';

/** Headers the entry reads a value of: the body's type, the request's length, the redirect. */
export type HeaderRole = '' | 'content-type' | 'content-length' | 'location';

/** One header name as the writer needs it: `{"name":<name>,"value":` rendered once, its rule and role. */
export interface HeaderName {
  readonly name: string;
  readonly open: string;
  readonly rule: HeaderRule;
  readonly role: HeaderRole;
  /** The last value written under this name and its whole `{"name":…,"value":…}` text: most values repeat. */
  lastValue?: string;
  lastPair?: string;
}

/** Bounds of the caches below: names, keys and routes come from requests, so their number is not ours to choose. */
const MAX_CACHED = 1000;

const ROLES = new Set<HeaderRole>(['content-type', 'content-length', 'location']);
const URL_HEADER_SET = new Set(URL_HEADERS);
/** 10000-01-01T00:00:00Z: from then on toISOString writes a six-digit year with a sign. */
const MAX_PLAIN_ISO_SECOND = 253402300800;
/** A value no rule leaves as it is unless the rule keeps it: `Redactor.headers` tells the rule it applies by it. */
const PROBE = 'x';

function remember<K, V>(cache: Map<K, V>, key: K, value: V): V {
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, value);
  return value;
}

/**
 * The parts of a record that repeat from one record to the next, rendered to JSON text once and cached (bounded):
 * a header name with its redaction rule, a group's JSON (the API key masked), an entry's `pageref`.
 */
export class FixedParts {
  private readonly headerNames = new Map<string, HeaderName>();
  private readonly groups = new Map<string, string>();
  /** pageref JSON by route, then by origin. */
  private readonly pagerefs = new Map<string, Map<string, string>>();
  private isoSecond = NaN;
  private isoPrefix = '';

  constructor(private readonly redactor: Redactor) {}

  /** A header name as written, by its exact spelling (clients repeat theirs). */
  header(name: string): HeaderName {
    return this.headerNames.get(name) ?? remember(this.headerNames, name, this.headerOf(name));
  }

  private headerOf(name: string): HeaderName {
    const lower = name.toLowerCase();
    // The rule is the Redactor's: asked once per name, through its public `headers`.
    const probed = this.redactor.headers([{ name, value: PROBE }])[0]?.value;
    const rule: HeaderRule =
      probed === REDACTED ? 'redact' : probed !== PROBE ? 'mask' : URL_HEADER_SET.has(lower) ? 'url' : 'keep';
    const role = ROLES.has(lower as HeaderRole) ? (lower as HeaderRole) : '';
    return {
      name,
      open: `{"name":${JSON.stringify(name)},"value":`,
      rule,
      role,
      lastValue: undefined,
      lastPair: undefined,
    };
  }

  /** A header's value as its rule leaves it. */
  redactedValue(header: HeaderName, value: string): string {
    switch (header.rule) {
      case 'keep':
        return value;
      case 'redact':
        return REDACTED;
      case 'url':
        return this.redactor.url(value);
      case 'mask':
        return this.redactor.headers([{ name: header.name, value }])[0]?.value ?? REDACTED;
    }
  }

  /** `startedDateTime`: the ISO text of a time in ms, its second's prefix rendered once a second. */
  isoTime(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.isoSecond) {
      this.isoSecond = second;
      this.isoPrefix = new Date(second * 1000).toISOString().slice(0, -4); // `2026-12-07T13:30:12.`
    }
    const millis = ms - second * 1000;
    // Whole milliseconds only (Date's own rounding otherwise), and within the years toISOString writes in this form.
    if (!Number.isInteger(millis) || second < 0 || second >= MAX_PLAIN_ISO_SECOND) return new Date(ms).toISOString();
    return `${this.isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }

  /** `{"id":<masked key>,"label":…,"email":…}`, as the record's `group` (and the HAR file's `_group`). */
  group(group: MetricsGroupInfo): string {
    const { apiKey, label, email } = group;
    // Each part prefixed by its length: no two groups share a key.
    const key =
      `${apiKey.length}:${apiKey}` +
      (label === undefined ? '-' : `${label.length}:${label}`) +
      (email === undefined ? '-' : `${email.length}:${email}`);
    let json = this.groups.get(key);
    if (json === undefined) {
      json = JSON.stringify({
        id: maskApiKey(apiKey),
        ...(label !== undefined && { label }),
        ...(email !== undefined && { email }),
      });
      remember(this.groups, key, json);
    }
    return json;
  }

  /** The JSON of origin + route template (ReadMe groups an endpoint's requests by it). */
  pageref(origin: string, route: string): string {
    let byOrigin = this.pagerefs.get(route);
    if (!byOrigin) byOrigin = remember(this.pagerefs, route, new Map<string, string>());
    return byOrigin.get(origin) ?? remember(byOrigin, origin, JSON.stringify(origin + route));
  }
}
