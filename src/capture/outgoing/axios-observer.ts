import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { METRICS_RESOLVED_OPTIONS } from '../../metrics.constants';
import { MetricsLogger } from '../../metrics.logger';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import type { CapturedExchange } from '../../interfaces/captured-exchange.interface';
import { captureBytes, captureEncoded, omittedBody, snapshotParsed } from '../body-capture';
import type { Exchange } from '../exchange';
import { ExchangeRecorder } from '../exchange-recorder';
import { pairsOf } from '../snapshot';
import { currentExchange } from '../request-context';

const OBSERVED = Symbol.for('nestjs-api-metrics:observed-adapter');

/** The config axios hands its adapter: every request interceptor and default already applied. */
export interface AxiosRequestConfigLike {
  method?: string;
  url?: string;
  headers?: unknown;
  data?: unknown;
  [key: string]: unknown;
}
interface AxiosResponseLike {
  status: number;
  statusText: string;
  headers: unknown;
  data: unknown;
}
type AdapterFn = (config: AxiosRequestConfigLike) => Promise<AxiosResponseLike>;

/**
 * What the module needs of an axios instance (structural, so the package does not depend on axios' types: `axios`
 * is an optional peer). Any `AxiosInstance`, e.g. `HttpService.axiosRef`, fits.
 */
export interface ObservableAxiosInstance {
  defaults: object;
  interceptors: { request: object };
  request: (...args: never[]) => unknown;
}

/** The statics of the axios module an instance was created by (its `default` export). */
interface AxiosStatics {
  getAdapter(adapters: unknown, config?: unknown): AdapterFn;
  getUri(config: AxiosRequestConfigLike): string;
  AxiosHeaders: { from(headers: unknown): { toJSON(): Record<string, unknown> } };
  interceptors: { request: object };
}

/**
 * Observes outgoing calls by wrapping an axios instance's adapter: it sees the request as sent (after every
 * request interceptor) and the response as received (before any response interceptor), so the app's interceptors,
 * their order, results, errors and timing are untouched. The wrapped adapter is the instance's own, resolved by the
 * axios module that created the instance (never a copy of our own: the app's requests keep going through the app's
 * axios, its version and its User-Agent).
 */
@Injectable()
export class AxiosObserver implements OnModuleInit {
  private readonly logger = new MetricsLogger();

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly recorder: ExchangeRecorder,
    private readonly discovery: DiscoveryService,
  ) {}

  /** With `captureOutgoing`, observes every `HttpService` (`@nestjs/axios`) provider of the app. */
  async onModuleInit(): Promise<void> {
    if (!this.options.captureOutgoing || !this.options.enabled) return;
    const pending: Promise<void>[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.isDependencyTreeStatic() ? (wrapper.instance as unknown) : undefined;
      if (!isHttpServiceLike(instance)) continue;
      pending.push(this.observe(instance.axiosRef));
    }
    await Promise.all(pending);
  }

  /**
   * Observes one axios instance (idempotent). Resolves once it is observed: at once when its axios module was
   * loaded with `require`, after a dynamic import when it was loaded as ES module. An instance whose axios module
   * cannot be found is left exactly as it was (logged once): its calls are then not recorded.
   */
  async observe(instance: ObservableAxiosInstance): Promise<void> {
    if (!this.options.enabled) return;
    const defaults = instance.defaults as { adapter?: unknown; [OBSERVED]?: true };
    if (defaults[OBSERVED]) return;
    // Non-enumerable: the app's code that spreads or copies its defaults (`{ ...instance.defaults }`) never sees it.
    Object.defineProperty(defaults, OBSERVED, { value: true, enumerable: false, configurable: true });
    try {
      const statics = loadedAxiosOf(instance) ?? (await importedAxiosOf(instance));
      if (statics) return this.install(instance, statics);
      this.logger.errorOnce(
        'axios-module',
        'Could not find the axios module of an observed axios instance; its calls are not recorded (the instance is unchanged)',
      );
    } catch (error) {
      this.logger.errorOnce('axios-module', 'Could not observe an axios instance (left unchanged)', error);
    }
  }

  private install(instance: ObservableAxiosInstance, statics: AxiosStatics): void {
    const defaults = instance.defaults as { adapter?: unknown };
    const original = defaults.adapter;
    const observed: AdapterFn = async (config) => {
      // Resolved by the instance's own axios, per call, as its dispatchRequest would (fetch needs the config).
      const adapter = statics.getAdapter(original, config);
      const parent = currentExchange();
      const startedAt = Date.now();
      const mark = performance.now();
      try {
        const response = await adapter(config);
        this.record(statics, parent, config, startedAt, mark, response);
        return response;
      } catch (error) {
        const response = (error as { response?: AxiosResponseLike }).response;
        this.record(statics, parent, config, startedAt, mark, response, response ? undefined : error);
        throw error;
      }
    };
    defaults.adapter = observed;
  }

  private record(
    statics: AxiosStatics,
    parent: Exchange | undefined,
    config: AxiosRequestConfigLike,
    startedAt: number,
    mark: number,
    response?: AxiosResponseLike,
    error?: unknown,
  ): void {
    try {
      const durationMs = performance.now() - mark;
      const headers = statics.AxiosHeaders.from(config.headers).toJSON();
      const requestHeaders: string[] = [];
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined && value !== null && value !== false) requestHeaders.push(name, String(value));
      }
      const data = config.data as unknown;
      const max = this.options.maxBodyBytes;
      const requestType = String(lowerKeys(headers)['content-type'] ?? '');
      const requestBytes =
        typeof data === 'string' ? Buffer.byteLength(data) : Buffer.isBuffer(data) ? data.length : -1;
      if (requestBytes >= 0 && !('content-length' in lowerKeys(headers))) {
        requestHeaders.push('content-length', String(requestBytes));
      }
      const responseHeaders = response
        ? (statics.AxiosHeaders.from(response.headers).toJSON() as Record<string, string | string[] | undefined>)
        : {};
      const responseType = String(lowerKeys(responseHeaders)['content-type'] ?? '');
      const responseData = response?.data as unknown;
      const encoding = lowerKeys(responseHeaders)['content-encoding'];
      const failure = error as { code?: string; message?: string } | undefined;
      const call: Omit<CapturedExchange, 'group'> = {
        id: randomUUID(),
        platform: 'http-client',
        startedAt,
        durationMs,
        aborted: false,
        method: (config.method ?? 'get').toUpperCase(),
        url: statics.getUri(config),
        httpVersion: 'HTTP/1.1',
        requestHeaders,
        requestBody:
          data === undefined || data === null
            ? undefined
            : Buffer.isBuffer(data)
              ? captureBytes(data, requestType, max)
              : snapshotParsed(data, max, requestBytes),
        status: response?.status ?? 0,
        statusText: response ? response.statusText || STATUS_CODES[response.status] || '' : '',
        responseHeaders: pairsOf(responseHeaders),
        responseBody:
          response === undefined
            ? undefined
            : ArrayBuffer.isView(responseData) && typeof encoding === 'string'
              ? captureEncoded(responseData as Uint8Array, encoding, responseType, max)
              : ArrayBuffer.isView(responseData)
                ? captureBytes(responseData as Uint8Array, responseType, max)
                : (snapshotParsed(responseData, max, -1) ?? { text: '', size: 0, truncated: false, source: 'wire' }),
        clientIp: '',
        parentId: parent?.id,
        failure: error === undefined ? undefined : { code: failure?.code, message: failure?.message ?? String(error) },
      };
      // The module's captureRequestBody / captureResponseBody apply to outgoing calls too.
      if (!this.options.captureRequestBody && call.requestBody) {
        call.requestBody = omittedBody(call.requestBody.size, 'captureRequestBody');
      }
      if (!this.options.captureResponseBody && call.responseBody) {
        call.responseBody = omittedBody(call.responseBody.size, 'captureResponseBody');
      }
      this.recorder.recordOutgoing(parent, call);
    } catch (recordError) {
      this.logger.errorOnce('outgoing', 'Could not record an outgoing call', recordError);
    }
  }
}

function isHttpServiceLike(value: unknown): value is { axiosRef: ObservableAxiosInstance } {
  const ref = (value as { axiosRef?: { defaults?: unknown; request?: unknown } } | null | undefined)?.axiosRef;
  return typeof ref?.request === 'function' && typeof ref.defaults === 'object';
}

/** Whether `candidate` is the axios module (default export) that created `instance`: same InterceptorManager. */
function isAxiosOf(candidate: unknown, instance: ObservableAxiosInstance): candidate is AxiosStatics {
  // Own data properties only: other modules' exports may have getters (lazy loading) we must not trigger.
  const getAdapter = ownValue(candidate, 'getAdapter');
  const interceptors = ownValue(candidate, 'interceptors') as { request?: unknown } | undefined;
  return (
    typeof getAdapter === 'function' &&
    typeof ownValue(candidate, 'getUri') === 'function' &&
    typeof (ownValue(candidate, 'AxiosHeaders') as { from?: unknown } | undefined)?.from === 'function' &&
    typeof interceptors?.request === 'object' &&
    Object.getPrototypeOf(interceptors.request) === Object.getPrototypeOf(instance.interceptors?.request)
  );
}

function ownValue(target: unknown, key: string): unknown {
  if ((typeof target !== 'object' && typeof target !== 'function') || target === null) return undefined;
  try {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    return descriptor && 'value' in descriptor ? descriptor.value : undefined;
  } catch {
    return undefined; // a Proxy that throws
  }
}

/** The instance's axios module among those already loaded: the instance itself (the default export), or `require`d. */
function loadedAxiosOf(instance: ObservableAxiosInstance): AxiosStatics | undefined {
  if (isAxiosOf(instance, instance)) return instance;
  for (const mod of Object.values(require.cache)) {
    const exported = mod?.exports as unknown;
    if (isAxiosOf(exported, instance)) return exported;
    const fallback = ownValue(exported, 'default');
    if (isAxiosOf(fallback, instance)) return fallback;
  }
  return undefined;
}

/**
 * An axios loaded as ES module (e.g. by `@nestjs/axios` 12) is not in `require.cache`: import the entry points of the
 * axios packages the app resolves (from its folder and from `@nestjs/axios`'s); the ES module cache hands back the
 * very module instance the app uses, or one that fails the identity check.
 */
async function importedAxiosOf(instance: ObservableAxiosInstance): Promise<AxiosStatics | undefined> {
  const parents = [join(process.cwd(), 'package.json'), require.main?.filename].filter((p) => p !== undefined);
  const packageDirs = new Set<string>();
  for (const parent of parents) {
    const from = createRequire(parent);
    for (const via of [undefined, '@nestjs/axios']) {
      try {
        const resolver = via ? createRequire(from.resolve(via)) : from;
        packageDirs.add(dirname(resolver.resolve('axios/package.json')));
      } catch {
        // not installed there
      }
    }
  }
  for (const dir of packageDirs) {
    for (const entry of nodeEntries(dir)) {
      try {
        const ns = (await import(pathToFileURL(join(dir, entry)).href)) as { default?: unknown };
        if (isAxiosOf(ns.default, instance)) return ns.default;
      } catch {
        // not loadable here
      }
    }
  }
  return undefined;
}

/** The Node entry files of an axios package (its `exports["."]` minus browser and react-native builds). */
function nodeEntries(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      if (/\.(c|m)?js$/.test(value)) found.add(value);
    } else if (value && typeof value === 'object') {
      for (const [condition, nested] of Object.entries(value)) {
        if (!['browser', 'react-native', 'types', 'bun', 'deno'].includes(condition)) walk(nested);
      }
    }
  };
  walk((pkg.exports as Record<string, unknown> | undefined)?.['.'] ?? pkg.exports);
  if (pkg.main) found.add(pkg.main);
  return [...found];
}

function lowerKeys(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
