import {
  Inject,
  Injectable,
  type ArgumentsHost,
  type BeforeApplicationShutdown,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Dispatcher } from '../deliver/dispatcher';
import type { MetricsGroupFn, MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
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
import { defaultRouteRules, ExcludeRules, isSampled, readRouteRules, type RouteRules } from './route-rules';
import { SkipLog } from './skip-log';

/** Status and headers of a response Nest is about to write (backgroundWorkerMode false). */
export interface PendingResponse {
  status: number;
  headers: Record<string, number | string | string[] | undefined>;
}

const ANONYMOUS: MetricsGroupInfo = { apiKey: 'anonymous', label: 'Anonymous' };

type SettledResponse = Pick<CapturedExchange, 'status' | 'statusText' | 'responseHead' | 'responseHeaders' | 'aborted'>;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Opens an exchange when a request arrives and closes it exactly once: when the response is done or the client
 * went away (background mode), or just before Nest writes the response (backgroundWorkerMode false).
 */
@Injectable()
export class ExchangeRecorder implements BeforeApplicationShutdown {
  private readonly logger = new MetricsLogger();
  private readonly rulesByHandler = new WeakMap<object, RouteRules>();
  private readonly noRules: RouteRules;
  private readonly exclude: ExcludeRules;
  private readonly skipLog = new SkipLog(this.logger);
  /** Finished exchanges whose async group function has not answered yet. */
  private readonly pendingGroups = new Set<Promise<void>>();

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly reflector: Reflector,
    private readonly dispatcher: Dispatcher,
  ) {
    this.noRules = defaultRouteRules(options);
    this.exclude = new ExcludeRules(options.exclude);
  }

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

  /**
   * Resolves once every finished exchange was handed to delivery (or dropped), so a flush includes requests whose
   * async group function is still running. Bounded by `timeoutMs`; never rejects.
   */
  async whenHandedOver(timeoutMs: number): Promise<void> {
    if (!this.pendingGroups.size) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.pendingGroups]), timeout]);
    clearTimeout(timer);
  }

  /** Shutdown: requests that already finished reach the queue before the dispatcher's last flush. */
  beforeApplicationShutdown(): Promise<void> {
    return this.whenHandedOver(Math.min(this.options.timeout, this.options.shutdownTimeout));
  }

  /** Background mode: the response is complete (or abandoned); hand the exchange to delivery. */
  private close(exchange: Exchange): void {
    if (exchange.settled) return;
    const { res } = exchange;
    const status = res.headersSent ? res.statusCode : 0;
    const head = (res as unknown as { _header?: unknown })._header;
    void this.settle(exchange, {
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

  /**
   * Decides whether and under which group the exchange is recorded, and hands it over. Synchronous unless the group
   * function returns a promise (a promise per request is measurable at full load). Never throws or rejects.
   */
  private settle(exchange: Exchange, response: SettledResponse, awaitDelivery = false): Promise<void> | undefined {
    exchange.settled = true;
    try {
      const rules = this.rulesFor(exchange);
      if (rules.skip || !this.isAllowedHost(exchange.req) || this.isExcluded(exchange)) {
        exchange.group = null;
        return undefined;
      }
      if (!isSampled(rules, response.status)) {
        exchange.group = null;
        this.dispatcher.countSampledOut();
        return undefined;
      }
      const group = this.resolveGroup(rules.group, exchange);
      if (!isPromiseLike(group)) return this.handOver(exchange, response, group, awaitDelivery);
      const pending: Promise<void> = Promise.resolve(group)
        .then(
          (resolved) => this.handOver(exchange, response, resolved, awaitDelivery),
          (error: unknown) => this.groupFailed(exchange, error),
        )
        .finally(() => this.pendingGroups.delete(pending));
      this.pendingGroups.add(pending);
      return pending;
    } catch (error) {
      // Nothing from the module may reach the app: the record is lost, the request is not.
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
      return undefined;
    }
  }

  private handOver(
    exchange: Exchange,
    response: SettledResponse,
    group: MetricsGroupInfo | undefined,
    awaitDelivery: boolean,
  ): Promise<void> | undefined {
    try {
      exchange.group = group ?? null;
      if (!group) return undefined;
      const captured = this.snapshot(exchange, response, group);
      if (this.options.debug) {
        this.logger.debug(
          `captured ${captured.method} ${captured.url} -> ${captured.status} (${captured.durationMs.toFixed(2)} ms)`,
        );
      }
      if (awaitDelivery) return this.dispatcher.deliverNow(captured);
      this.dispatcher.enqueue(captured);
    } catch (error) {
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
    }
    return undefined;
  }

  private groupFailed(exchange: Exchange, error: unknown): void {
    exchange.group = null;
    this.logger.errorOnce('group', 'The group function threw; the exchange was not recorded', error);
    this.skipLog.note('the group function threw');
  }

  /**
   * An outgoing call finished. While its request is open it joins that request's record; after, it is shipped as a
   * record of its own (with `_parentId`) under the request's group; if the request is not recorded, neither is it.
   * Calls made outside any request are not recorded: there is nothing to link them to.
   */
  recordOutgoing(parent: Exchange | undefined, call: Omit<CapturedExchange, 'group'>): void {
    if (!parent) return;
    if (!parent.settled) {
      (parent.outgoing ??= []).push({ ...call, group: ANONYMOUS });
      return;
    }
    if (parent.group === null) return;
    this.dispatcher.enqueue({ ...call, group: parent.group ?? ANONYMOUS });
  }

  /** `exclude`: matched against the route template, or the path for requests no route matched. */
  private isExcluded(exchange: Exchange): boolean {
    if (this.exclude.empty) return false;
    const { req, platformRequest } = exchange;
    return this.exclude.isExcluded(req.method, routeTemplateOf(platformRequest), originalUrlOf(req));
  }

  /** The decorators of the exchange's handler with the module options (route-rules.ts), read once per handler. */
  private rulesFor(exchange: Exchange): RouteRules {
    const { handler, controller } = exchange;
    if (!handler) return controller ? this.readRules([controller]) : this.noRules;
    let rules = this.rulesByHandler.get(handler);
    if (!rules) {
      rules = this.readRules(controller ? [handler, controller] : [handler]);
      this.rulesByHandler.set(handler, rules);
    }
    return rules;
  }

  private readRules(targets: (Exchange['handler'] | Exchange['controller'])[]): RouteRules {
    return readRouteRules(
      this.reflector,
      targets.filter((t) => t !== undefined),
      this.options,
    );
  }

  private isAllowedHost(req: IncomingMessage): boolean {
    const allowed = this.options.allowedHttpHosts;
    if (!allowed) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return allowed.has(host);
  }

  /** The group of the exchange, its promise when the group function is async; undefined: not recorded. */
  private resolveGroup(
    decorated: MetricsGroupFn | undefined,
    exchange: Exchange,
  ): MetricsGroupInfo | undefined | PromiseLike<MetricsGroupInfo | undefined> {
    const fn = decorated ?? this.options.group;
    if (!fn) return ANONYMOUS;
    let result: unknown;
    try {
      result = fn(exchange.platformRequest);
    } catch (error) {
      this.groupFailed(exchange, error);
      return undefined;
    }
    return isPromiseLike(result) ? Promise.resolve(result).then((r) => this.groupInfo(r)) : this.groupInfo(result);
  }

  private groupInfo(result: unknown): MetricsGroupInfo | undefined {
    if (result === null || result === undefined) return undefined;
    const info = result as Partial<MetricsGroupInfo>;
    if (typeof info !== 'object' || (typeof info.apiKey !== 'string' && typeof info.apiKey !== 'number')) {
      this.skipLog.note(
        typeof info === 'object' && info.apiKey === undefined
          ? 'the group function returned no apiKey (return { apiKey, label?, email? }, or null to skip on purpose)'
          : `the group function returned ${typeof info === 'object' ? 'an apiKey that is not a string' : `a ${typeof info}`} (expected { apiKey, label?, email? } or null)`,
      );
      return undefined;
    }
    return {
      apiKey: String(info.apiKey),
      label: info.label === undefined ? undefined : String(info.label),
      email: info.email === undefined ? undefined : String(info.email),
    };
  }

  private snapshot(exchange: Exchange, response: SettledResponse, group: MetricsGroupInfo): CapturedExchange {
    const { req, platformRequest } = exchange;
    const { body, rawBody } = requestBodyOf(platformRequest);
    const rules = this.rulesFor(exchange);
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
      errors: exchange.errors,
      outgoing: exchange.outgoing,
      ...response,
      // captureRequestBody / captureResponseBody / @MetricsCapture(): the bodies are never handed on.
      ...(!rules.captureRequestBody && {
        requestBody: undefined,
        requestRawBody: undefined,
        requestFiles: [],
        requestBodyOmitted: true,
      }),
      ...(!rules.captureResponseBody && { responseBody: undefined, responseBodyOmitted: true }),
    };
  }
}
