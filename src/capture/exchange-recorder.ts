import { Inject, Injectable, type ArgumentsHost, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Dispatcher } from '../deliver/dispatcher';
import type { MetricsGroupFn, MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import { METRICS_GROUP_KEY, METRICS_RESOLVED_OPTIONS, SKIP_METRICS_KEY } from '../metrics.constants';
import { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { CapturedExchange } from './captured-exchange';
import { Exchange } from './exchange';
import {
  clientIpOf,
  originalUrlOf,
  originOf,
  rawResponseOf,
  requestBodyOf,
  routeTemplateOf,
  uploadedFilesOf,
} from './platform';
import { exchangeOf, exchangeStorage, linkExchange, rawRequestOf } from './request-context';

/** Status and headers of a response Nest is about to write (backgroundWorkerMode false). */
export interface PendingResponse {
  status: number;
  headers: Record<string, number | string | string[] | undefined>;
}

const ANONYMOUS: MetricsGroupInfo = { apiKey: 'anonymous', label: 'Anonymous' };

/**
 * Opens an exchange when a request arrives and closes it exactly once: when the response is done or the client
 * went away (background mode), or just before Nest writes the response (backgroundWorkerMode false).
 */
@Injectable()
export class ExchangeRecorder {
  private readonly logger = new MetricsLogger();

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly reflector: Reflector,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** Starts recording a request; cheap: an id, two timestamps, a map entry and one listener. */
  open(req: IncomingMessage, res: ServerResponse): Exchange {
    const existing = exchangeOf(req);
    if (existing) return existing;
    const exchange = new Exchange(req, res);
    linkExchange(exchange);
    res.once('close', () => void this.close(exchange));
    return exchange;
  }

  /**
   * Opens the request's exchange and runs the rest of the request (`next`) in its context. Recording never stands
   * between the client and the app: if opening fails, the request goes on unrecorded.
   */
  openAndRun(req: IncomingMessage, res: ServerResponse, platformRequest: unknown, next: () => void): void {
    let exchange: Exchange;
    try {
      exchange = this.open(req, res);
      exchange.platformRequest = platformRequest;
    } catch {
      return next();
    }
    exchangeStorage.run(exchange, next);
  }

  /**
   * The exchange of the request an HTTP guard, interceptor or filter is handling; opened late when the middleware
   * did not run (a route outside the middleware's path). With an ExecutionContext, it also learns the handler.
   */
  exchangeForHost(host: ArgumentsHost): Exchange | undefined {
    try {
      const http = host.switchToHttp();
      const req: unknown = http.getRequest();
      const exchange = exchangeOf(req) ?? this.open(rawRequestOf(req), rawResponseOf(http.getResponse<unknown>()));
      exchange.platformRequest = req;
      // A filter's host answers getHandler() with undefined: keep what the route guard noted.
      const context = host as Partial<ExecutionContext>;
      const handler = context.getHandler?.();
      if (typeof handler === 'function') {
        exchange.handler = handler as Exchange['handler'];
        exchange.controller = context.getClass?.() as Exchange['controller'];
      }
      return exchange;
    } catch {
      return undefined;
    }
  }

  /** Background mode: the response is complete (or abandoned); hand the exchange to delivery. */
  private async close(exchange: Exchange): Promise<void> {
    if (exchange.settled) return;
    const { res } = exchange;
    const status = res.headersSent ? res.statusCode : 0;
    const head = (res as unknown as { _header?: unknown })._header;
    await this.settle(exchange, {
      status,
      statusText: res.statusMessage || STATUS_CODES[status] || '',
      responseHead: typeof head === 'string' ? head : undefined,
      responseHeaders: head ? {} : res.getHeaders(),
      aborted: !res.writableFinished,
    });
  }

  /** backgroundWorkerMode false: record and deliver before Nest writes the response. Never rejects. */
  async deliverBeforeResponse(exchange: Exchange, pending: PendingResponse): Promise<void> {
    if (exchange.settled) return;
    await this.settle(
      exchange,
      {
        status: pending.status,
        statusText: STATUS_CODES[pending.status] ?? '',
        responseHeaders: pending.headers,
        aborted: false,
      },
      true,
    );
  }

  private async settle(
    exchange: Exchange,
    response: Pick<CapturedExchange, 'status' | 'statusText' | 'responseHead' | 'responseHeaders' | 'aborted'>,
    awaitDelivery = false,
  ): Promise<void> {
    exchange.settled = true;
    try {
      if (this.isSkipped(exchange) || !this.isAllowedHost(exchange.req)) {
        exchange.group = null;
        return;
      }
      const group = await this.resolveGroup(exchange);
      exchange.group = group ?? null;
      if (!group) return;
      const captured = this.snapshot(exchange, response, group);
      if (this.options.debug) {
        this.logger.debug(
          `captured ${captured.method} ${captured.url} -> ${captured.status} (${captured.durationMs.toFixed(2)} ms)`,
        );
      }
      if (awaitDelivery) await this.dispatcher.deliverNow(captured);
      else this.dispatcher.enqueue(captured);
    } catch (error) {
      // Nothing from the module may reach the app: the record is lost, the request is not.
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
    }
  }

  /**
   * An outgoing call finished. While its request is open it joins that request's record; after, it is shipped as a
   * record of its own (with `_parentId`) under the request's group; if the request is not recorded, neither is it.
   * Calls made outside any request are not recorded: there is nothing to link them to.
   */
  recordOutgoing(parent: Exchange | undefined, call: Omit<CapturedExchange, 'group'>): void {
    if (!parent) return;
    if (!parent.settled) {
      parent.outgoing.push({ ...call, group: ANONYMOUS });
      return;
    }
    if (parent.group === null) return;
    this.dispatcher.enqueue({ ...call, group: parent.group ?? ANONYMOUS });
  }

  private metadata<T>(key: string, exchange: Exchange): T | undefined {
    const targets = [exchange.handler, exchange.controller].filter((t) => t !== undefined);
    return targets.length ? this.reflector.getAllAndOverride<T>(key, targets) : undefined;
  }

  private isSkipped(exchange: Exchange): boolean {
    return this.metadata<boolean>(SKIP_METRICS_KEY, exchange) === true;
  }

  private isAllowedHost(req: IncomingMessage): boolean {
    const allowed = this.options.allowedHttpHosts;
    if (!allowed) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return allowed.has(host);
  }

  private async resolveGroup(exchange: Exchange): Promise<MetricsGroupInfo | undefined> {
    const fn = this.metadata<MetricsGroupFn>(METRICS_GROUP_KEY, exchange) ?? this.options.group;
    if (!fn) return ANONYMOUS;
    let result: unknown;
    try {
      result = await fn(exchange.platformRequest);
    } catch (error) {
      this.logger.errorOnce('group', 'The group function threw; the exchange was not recorded', error);
      return undefined;
    }
    if (result === null || result === undefined) return undefined;
    const info = result as Partial<MetricsGroupInfo>;
    if (typeof info !== 'object' || (typeof info.apiKey !== 'string' && typeof info.apiKey !== 'number')) {
      this.logger.errorOnce('group-shape', 'The group function must return { apiKey, label?, email? } or null');
      return undefined;
    }
    return {
      apiKey: String(info.apiKey),
      label: info.label === undefined ? undefined : String(info.label),
      email: info.email === undefined ? undefined : String(info.email),
    };
  }

  private snapshot(
    exchange: Exchange,
    response: Pick<CapturedExchange, 'status' | 'statusText' | 'responseHead' | 'responseHeaders' | 'aborted'>,
    group: MetricsGroupInfo,
  ): CapturedExchange {
    const { req, platformRequest } = exchange;
    const { body, rawBody } = requestBodyOf(platformRequest);
    return {
      id: exchange.id,
      platform: platformRequest !== req && (platformRequest as { raw?: unknown }).raw === req ? 'fastify' : 'express',
      startedAt: exchange.startedAt,
      durationMs: performance.now() - exchange.startMark,
      method: req.method ?? 'GET',
      url: originOf(platformRequest, req) + originalUrlOf(req),
      httpVersion: `HTTP/${req.httpVersion}`,
      requestHeaders: req.rawHeaders,
      requestBody: body,
      requestRawBody: rawBody,
      requestFiles: uploadedFilesOf(platformRequest),
      responseBody: exchange.responseBody,
      hasResponseBody: exchange.hasResponseBody,
      route: routeTemplateOf(platformRequest),
      clientIp: clientIpOf(platformRequest, req),
      group,
      errors: exchange.errors.length ? exchange.errors : undefined,
      outgoing: exchange.outgoing.length ? exchange.outgoing : undefined,
      ...response,
    };
  }
}
