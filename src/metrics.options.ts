import { DEFAULT_BASE_URL } from './metrics.constants';
import type { MetricsGroupFn } from './interfaces/metrics-group.interface';
import type { MetricsModuleOptions } from './interfaces/metrics-options.interface';
import type { ExchangeTransport, MetricsTransport } from './interfaces/metrics-transport.interface';

/** Options with every default filled in; what the rest of the module reads. */
export interface ResolvedMetricsOptions {
  apiKey?: string;
  baseUrl: string;
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
}

/** Thrown at startup for options that cannot work; the message says which option and what to do. */
export class MetricsOptionsError extends Error {
  constructor(message: string) {
    super(`nestjs-api-metrics: ${message}`);
    this.name = 'MetricsOptionsError';
  }
}

function positiveInt(options: MetricsModuleOptions, key: keyof MetricsModuleOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new MetricsOptionsError(`"${key}" must be a positive whole number, got ${String(value)}.`);
  }
  return value;
}

function bool(options: MetricsModuleOptions, key: keyof MetricsModuleOptions, fallback: boolean): boolean {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new MetricsOptionsError(`"${key}" must be true or false, got ${String(value)}.`);
  return value;
}

function stringList(options: MetricsModuleOptions, key: keyof MetricsModuleOptions): string[] | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new MetricsOptionsError(`"${key}" must be an array of strings.`);
  value.forEach((entry: unknown, i) => {
    if (typeof entry !== 'string' || entry === '') {
      throw new MetricsOptionsError(`"${key}[${i}]" must be a non-empty string, got ${JSON.stringify(entry)}.`);
    }
  });
  return [...(value as string[])];
}

/** Validates user options and fills in defaults. Throws `MetricsOptionsError` on anything that cannot work. */
export function resolveMetricsOptions(options: MetricsModuleOptions | undefined): ResolvedMetricsOptions {
  if (options === null || typeof options !== 'object') {
    throw new MetricsOptionsError('MetricsModule.forRoot() needs an options object, e.g. { apiKey, group }.');
  }
  const { apiKey, transport, group, baseUrl = DEFAULT_BASE_URL, serviceVersion } = options;
  if (transport !== undefined) {
    if (transport === null || typeof transport.send !== 'function') {
      throw new MetricsOptionsError(
        '"transport" must be an object with a send(records) method (MetricsTransport, or ExchangeTransport such as OtlpTransport).',
      );
    }
  } else if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new MetricsOptionsError(
      'no "apiKey" given. Pass your ReadMe project API key (e.g. apiKey: process.env.README_API_KEY), ' +
        'or a "transport" such as new HarFileTransport({ path: "./api-metrics.har" }) to record locally.',
    );
  }
  if (group !== undefined && typeof group !== 'function') {
    throw new MetricsOptionsError('"group" must be a function (req) => ({ apiKey, label?, email? }).');
  }
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^/]+/i.test(baseUrl)) {
    throw new MetricsOptionsError(`"baseUrl" must be an http(s) URL, got ${JSON.stringify(baseUrl)}.`);
  }
  const { proxy } = options;
  if (proxy !== undefined && proxy !== false && (typeof proxy !== 'string' || !/^https?:\/\/[^/]+/i.test(proxy))) {
    throw new MetricsOptionsError(`"proxy" must be an http(s) URL or false, got ${JSON.stringify(proxy)}.`);
  }
  if (serviceVersion !== undefined && typeof serviceVersion !== 'string') {
    throw new MetricsOptionsError('"serviceVersion" must be a string.');
  }
  const hosts = stringList(options, 'allowedHttpHosts');
  return {
    apiKey,
    baseUrl: baseUrl.replace(/\/+$/, ''),
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
  };
}
