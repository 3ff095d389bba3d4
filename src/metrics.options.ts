import { DEFAULT_BASE_URL } from './metrics.constants';
import type { MetricsGroupFn } from './interfaces/metrics-group.interface';
import type { MetricsExcludeRule, MetricsModuleOptions } from './interfaces/metrics-options.interface';
import type { ExchangeTransport, MetricsTransport } from './interfaces/metrics-transport.interface';
import { resolveTrafficOptions, type ResolvedTrafficOptions } from './traffic/traffic-options';
import { resolveGraphqlOptions, type ResolvedGraphqlOptions } from './graphql/graphql-options';
import { bool, describeValue, MetricsOptionsError, positiveInt } from './option-checks';

// Re-exported for the files that import the error from here (src/redact/redactor.ts).
export { MetricsOptionsError } from './option-checks';
import { resolveDashboardOptions, type ResolvedDashboardOptions } from './dashboard/dashboard-options';

/** Options with every default filled in; what the rest of the module reads. */
export interface ResolvedMetricsOptions {
  apiKey?: string;
  baseUrl: string;
  /** `x-documentation-url` links go to `{baseLogUrl}/logs/{_id}` (no trailing slash); undefined: no header. */
  baseLogUrl?: string;
  /** undefined: from the environment. */
  proxy?: string | false;
  group?: MetricsGroupFn;
  bufferLength: number;
  flushInterval: number;
  developmentMode: boolean;
  backgroundWorkerMode: boolean;
  timeout: number;
  /** Lower-cased host names, or undefined for "all hosts". */
  allowedHttpHosts?: ReadonlySet<string>;
  serviceVersion?: string;
  tags?: string[];
  debug: boolean;
  captureOutgoing: boolean;
  transport?: MetricsTransport | ExchangeTransport;
  denylist?: string[];
  allowlist?: string[];
  redactHeaders: string[];
  redactRequestBody: string[];
  redactResponseBody: string[];
  redactDefaults: boolean;
  maxBodyBytes: number;
  maxQueueSize: number;
  maxQueueBytes: number;
  maxConcurrentRequests: number;
  shutdownTimeout: number;
  /** false: nothing is registered on the request path and nothing is recorded. */
  enabled: boolean;
  /** false: no global interceptor is registered. */
  interceptor: boolean;
  /** Validated `exclude` rules, compiled by `src/capture/route-rules.ts`. */
  exclude: readonly MetricsExcludeRule[];
  sampleRate: number;
  captureRequestBody: boolean;
  captureResponseBody: boolean;
  /** `'worker'`: format, redact and deliver in a worker thread (src/deliver/offload). */
  offload: false | 'worker';
  /** `trafficMetrics`, `maxConsumers`, `metricsInterval`, `metricsTemporality`, `prometheus` (src/traffic). */
  traffic: ResolvedTrafficOptions;
  /** GraphQL requests (src/graphql); false: recorded as plain HTTP exchanges. */
  graphql: ResolvedGraphqlOptions;
  /** The page (src/dashboard); false when off. */
  dashboard: ResolvedDashboardOptions;
}

/** Every option key, so unknown keys (typos) can be rejected; the type makes the compiler keep it complete. */
const KNOWN_OPTIONS: Record<keyof MetricsModuleOptions, true> = {
  apiKey: true,
  baseUrl: true,
  baseLogUrl: true,
  proxy: true,
  group: true,
  bufferLength: true,
  flushInterval: true,
  developmentMode: true,
  backgroundWorkerMode: true,
  timeout: true,
  allowedHttpHosts: true,
  serviceVersion: true,
  tags: true,
  debug: true,
  captureOutgoing: true,
  transport: true,
  denylist: true,
  allowlist: true,
  redactHeaders: true,
  redactRequestBody: true,
  redactResponseBody: true,
  redactDefaults: true,
  maxBodyBytes: true,
  maxQueueSize: true,
  maxQueueBytes: true,
  maxConcurrentRequests: true,
  shutdownTimeout: true,
  enabled: true,
  interceptor: true,
  exclude: true,
  sampleRate: true,
  captureRequestBody: true,
  captureResponseBody: true,
  offload: true,
  trafficMetrics: true,
  maxConsumers: true,
  metricsInterval: true,
  metricsTemporality: true,
  prometheus: true,
  graphql: true,
  dashboard: true,
};

/** Edit distance, to suggest the option a typo meant. Option names are short: the quadratic table is fine. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function rejectUnknownKeys(options: object): void {
  const known = Object.keys(KNOWN_OPTIONS);
  for (const key of Object.keys(options)) {
    if (key in KNOWN_OPTIONS) continue;
    const lower = key.toLowerCase();
    const [best] = known
      .map((name) => ({ name, d: name.toLowerCase() === lower ? 0 : distance(lower, name.toLowerCase()) }))
      .sort((x, y) => x.d - y.d);
    const hint = best && best.d <= Math.max(2, Math.floor(key.length / 4)) ? ` Did you mean "${best.name}"?` : '';
    throw new MetricsOptionsError(
      `unknown option "${key}".${hint} Known options are listed in the documentation (docs/options.md).`,
    );
  }
}

function stringList(options: MetricsModuleOptions, key: keyof MetricsModuleOptions): string[] | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw new MetricsOptionsError(`"${key}" must be an array of strings, got ${describeValue(value)}.`);
  }
  value.forEach((entry: unknown, i) => {
    if (typeof entry !== 'string' || entry === '') {
      throw new MetricsOptionsError(`"${key}[${i}]" must be a non-empty string, got ${describeValue(entry)}.`);
    }
  });
  return [...(value as string[])];
}

/** Validates user options and fills in defaults. Throws `MetricsOptionsError` on anything that cannot work. */
export function resolveMetricsOptions(options: MetricsModuleOptions | undefined): ResolvedMetricsOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new MetricsOptionsError(
      `MetricsModule.forRoot() needs an options object, e.g. { apiKey, group }, got ${describeValue(options)}.`,
    );
  }
  rejectUnknownKeys(options);
  const { apiKey, transport, group, baseUrl = DEFAULT_BASE_URL, serviceVersion } = options;
  const enabled = bool(options, 'enabled', true);
  if (transport !== undefined) {
    if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function') {
      throw new MetricsOptionsError(
        `"transport" must be an object with a send(records) method (MetricsTransport, or ExchangeTransport such as OtlpTransport), got ${describeValue(transport)}.`,
      );
    }
  } else if (apiKey !== undefined && typeof apiKey !== 'string') {
    throw new MetricsOptionsError(`"apiKey" must be a string, got ${describeValue(apiKey)}.`);
  } else if (enabled && (typeof apiKey !== 'string' || apiKey.trim() === '')) {
    throw new MetricsOptionsError(
      'no "apiKey" given. Pass your ReadMe project API key (e.g. apiKey: process.env.README_API_KEY), ' +
        'or a "transport" such as new HarFileTransport({ path: "./api-metrics.har" }) to record locally.',
    );
  }
  if (group !== undefined && typeof group !== 'function') {
    throw new MetricsOptionsError(
      `"group" must be a function (req) => ({ apiKey, label?, email? }), got ${describeValue(group)}.`,
    );
  }
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^/]+/i.test(baseUrl)) {
    throw new MetricsOptionsError(`"baseUrl" must be an http(s) URL, got ${describeValue(baseUrl)}.`);
  }
  const requestPath = /\/v1\/request\/*$/i.exec(baseUrl.replace(/[?#].*$/, ''));
  if (requestPath) {
    throw new MetricsOptionsError(
      `"baseUrl" is the server, without the path: records are POSTed to {baseUrl}/v1/request, so ` +
        `${JSON.stringify(baseUrl)} would post to .../v1/request/v1/request. ` +
        `Use ${JSON.stringify(baseUrl.slice(0, requestPath.index))}.`,
    );
  }
  const { proxy } = options;
  if (proxy !== undefined && proxy !== false && (typeof proxy !== 'string' || !/^https?:\/\/[^/]+/i.test(proxy))) {
    throw new MetricsOptionsError(`"proxy" must be an http(s) URL or false, got ${describeValue(proxy)}.`);
  }
  if (serviceVersion !== undefined && typeof serviceVersion !== 'string') {
    throw new MetricsOptionsError(`"serviceVersion" must be a string, got ${describeValue(serviceVersion)}.`);
  }
  const hosts = stringList(options, 'allowedHttpHosts');
  const dashboard = resolveDashboardOptions(options);
  // The page's own requests are neither recorded nor counted (on Express they never reach the recorder).
  const exclude = excludeRules(options.exclude);
  if (dashboard) exclude.push(dashboard.path, `${dashboard.path}/*`);
  return {
    apiKey,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    baseLogUrl: logUrl(options.baseLogUrl),
    proxy,
    group,
    bufferLength: positiveInt(options, 'bufferLength', 10),
    flushInterval: positiveInt(options, 'flushInterval', 1000),
    developmentMode: bool(options, 'developmentMode', false),
    backgroundWorkerMode: bool(options, 'backgroundWorkerMode', true),
    timeout: positiveInt(options, 'timeout', 3000),
    allowedHttpHosts: hosts && new Set(hosts.map((h) => h.toLowerCase())),
    serviceVersion,
    tags: stringList(options, 'tags'),
    debug: bool(options, 'debug', false),
    captureOutgoing: bool(options, 'captureOutgoing', true),
    transport,
    denylist: stringList(options, 'denylist'),
    allowlist: stringList(options, 'allowlist'),
    redactHeaders: stringList(options, 'redactHeaders') ?? [],
    redactRequestBody: stringList(options, 'redactRequestBody') ?? [],
    redactResponseBody: stringList(options, 'redactResponseBody') ?? [],
    redactDefaults: bool(options, 'redactDefaults', true),
    maxBodyBytes: positiveInt(options, 'maxBodyBytes', 64 * 1024),
    maxQueueSize: positiveInt(options, 'maxQueueSize', 10_000),
    maxQueueBytes: positiveInt(options, 'maxQueueBytes', 8 * 1024 * 1024),
    maxConcurrentRequests: positiveInt(options, 'maxConcurrentRequests', 4),
    shutdownTimeout: positiveInt(options, 'shutdownTimeout', 5000),
    enabled,
    interceptor: bool(options, 'interceptor', true),
    exclude,
    sampleRate: rate(options.sampleRate, '"sampleRate"', 1),
    captureRequestBody: bool(options, 'captureRequestBody', true),
    captureResponseBody: bool(options, 'captureResponseBody', true),
    offload: offloadMode(options.offload),
    traffic: resolveTrafficOptions(options),
    graphql: resolveGraphqlOptions(options.graphql),
    dashboard,
  };
}

/** `baseLogUrl`: an http(s) URL without query or fragment; the header's links are `{it}/logs/{_id}`. */
function logUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || /[?#]/.test(value as string) || url.username || url.password) {
    throw new MetricsOptionsError(
      `"baseLogUrl" must be your ReadMe project's http(s) URL without query or fragment, e.g. ` +
        `"https://example.readme.io", got ${describeValue(value)}.`,
    );
  }
  // Normalized (percent-encoded, punycode host): safe as a header value.
  return url.href.replace(/\/+$/, '');
}

/** `offload`: false (default) or 'worker'. Whether the transport can run in the worker is checked when it starts. */
function offloadMode(value: unknown): false | 'worker' {
  if (value === undefined || value === false) return false;
  if (value === 'worker') return value;
  throw new MetricsOptionsError(`"offload" must be false or 'worker', got ${describeValue(value)}.`);
}

/** A sampling rate: a number from 0 to 1 (`@MetricsSample()` checks its argument itself, at decoration time). */
function rate(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new MetricsOptionsError(`${name} must be a number from 0 to 1, got ${describeValue(value)}.`);
  }
  return value;
}

const METHODS = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|SEARCH|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|LOCK|UNLOCK|ALL)$/;

function excludeRules(value: unknown): MetricsExcludeRule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new MetricsOptionsError(
      `"exclude" must be an array of paths or { path, method? }, e.g. ['/health'], got ${describeValue(value)}.`,
    );
  }
  return value.map((entry: unknown, i): MetricsExcludeRule => {
    const rule = typeof entry === 'string' ? { path: entry } : (entry as { path?: unknown; method?: unknown } | null);
    const path = rule?.path;
    if (typeof rule !== 'object' || rule === null || typeof path !== 'string' || !path.startsWith('/')) {
      throw new MetricsOptionsError(
        `"exclude[${i}]" must be a path starting with "/" or { path, method? }, got ${describeValue(entry)}.`,
      );
    }
    const extra = Object.keys(rule).find((k) => k !== 'path' && k !== 'method');
    if (extra !== undefined) throw new MetricsOptionsError(`"exclude[${i}]" has an unknown key "${extra}".`);
    const methods = rule.method === undefined ? undefined : Array.isArray(rule.method) ? rule.method : [rule.method];
    methods?.forEach((m: unknown) => {
      if (typeof m !== 'string' || !METHODS.test(m.toUpperCase())) {
        throw new MetricsOptionsError(`"exclude[${i}].method" must be an HTTP method, got ${describeValue(m)}.`);
      }
    });
    return { path, ...(methods && { method: methods.map((m) => (m as string).toUpperCase()) }) };
  });
}
