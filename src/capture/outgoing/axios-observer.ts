import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import axios, { AxiosHeaders, type AxiosAdapter, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { METRICS_RESOLVED_OPTIONS } from '../../metrics.constants';
import { MetricsLogger } from '../../metrics.logger';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import type { CapturedExchange } from '../captured-exchange';
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
      const requestRawBody = typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : undefined;
      if (requestRawBody && !('content-length' in lowerKeys(headers))) {
        requestHeaders.push('content-length', String(requestRawBody.length));
      }
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
        requestBody: data,
        requestRawBody,
        requestFiles: [],
        status: response?.status ?? 0,
        statusText: response ? response.statusText || STATUS_CODES[response.status] || '' : '',
        responseHeaders: response
          ? (AxiosHeaders.from(response.headers as never).toJSON() as CapturedExchange['responseHeaders'])
          : {},
        responseBody: response?.data,
        hasResponseBody: response !== undefined,
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
