import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import axios, { AxiosHeaders, type AxiosAdapter, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { METRICS_RESOLVED_OPTIONS } from '../../metrics.constants';
import { MetricsLogger } from '../../metrics.logger';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import type { CapturedExchange } from '../../interfaces/captured-exchange.interface';
import { captureBytes, captureEncoded, snapshotParsed } from '../body-capture';
import { pairsOf } from '../exchange-recorder';
import type { Exchange } from '../exchange';
import { ExchangeRecorder } from '../exchange-recorder';
import { currentExchange } from '../request-context';

const OBSERVED = Symbol.for('nestjs-api-metrics:observed-adapter');

/**
 * Observes outgoing calls by wrapping an axios instance's adapter: it sees the request as sent (after every
 * request interceptor) and the response as received (before any response interceptor), so the app's interceptors,
 * their order, results, errors and timing are untouched.
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
  onModuleInit(): void {
    if (!this.options.captureOutgoing) return;
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.isDependencyTreeStatic() ? (wrapper.instance as unknown) : undefined;
      if (!isHttpServiceLike(instance)) continue;
      this.observe(instance.axiosRef);
    }
  }

  /** Observes one axios instance (idempotent). */
  observe(instance: AxiosInstance): void {
    const defaults = instance.defaults as { adapter?: unknown; [OBSERVED]?: true };
    if (defaults[OBSERVED]) return;
    const original = defaults.adapter;
    const observed: AxiosAdapter = async (config) => {
      const adapter = axios.getAdapter(original as Parameters<typeof axios.getAdapter>[0], config);
      const parent = currentExchange();
      const startedAt = Date.now();
      const mark = performance.now();
      try {
        const response = await adapter(config);
        this.record(parent, config, startedAt, mark, response);
        return response;
      } catch (error) {
        const response = (error as { response?: Parameters<AxiosObserver['record']>[4] }).response;
        this.record(parent, config, startedAt, mark, response, response ? undefined : error);
        throw error;
      }
    };
    defaults.adapter = observed;
    defaults[OBSERVED] = true;
  }

  private record(
    parent: Exchange | undefined,
    config: InternalAxiosRequestConfig,
    startedAt: number,
    mark: number,
    response?: { status: number; statusText: string; headers: unknown; data: unknown },
    error?: unknown,
  ): void {
    try {
      const durationMs = performance.now() - mark;
      const headers = AxiosHeaders.from(config.headers as never).toJSON() as Record<string, unknown>;
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
        ? (AxiosHeaders.from(response.headers as never).toJSON() as Record<string, string | string[] | undefined>)
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
        url: axios.getUri(config),
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
      this.recorder.recordOutgoing(parent, call);
    } catch (recordError) {
      this.logger.errorOnce('outgoing', 'Could not record an outgoing call', recordError);
    }
  }
}

function isHttpServiceLike(value: unknown): value is { axiosRef: AxiosInstance } {
  const ref = (value as { axiosRef?: { defaults?: unknown; request?: unknown } } | null | undefined)?.axiosRef;
  return typeof ref?.request === 'function' && typeof ref.defaults === 'object';
}

function lowerKeys(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
