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
import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { MetricsGroupFn, MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
import { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import {
  captureBytes,
  captureEncoded,
  captureString,
  isStream,
  omittedBody,
  snapshotParsed,
  uploadedFilesOf,
} from './body-capture';
import { Exchange } from './exchange';
import {
  clientIpOf,
  originalUrlOf,
  originOf,
  parsedBodyOf,
  pathParamsOf,
  rawBodyOf,
  rawResponseOf,
  routeTemplateOf,
} from './platform';
import { exchangeOf, exchangeStorage, linkExchange, rawRequestOf, unlinkExchange } from './request-context';
import { defaultRouteRules, ExcludeRules, drawSample, readRouteRules, type RouteRules } from './route-rules';
import { SkipLog } from './skip-log';
import { GraphqlCapture } from '../graphql/graphql-capture';

/** Status and headers of a response about to be written (backgroundWorkerMode false). */
export interface PendingResponse {
  status: number;
  headers: Record<string, number | string | string[] | undefined>;
}

const ANONYMOUS: MetricsGroupInfo = { apiKey: 'anonymous', label: 'Anonymous' };
const TIMED_OUT = Symbol('timed out');

type SettledResponse = Pick<CapturedExchange, 'status' | 'statusText' | 'responseHead' | 'responseHeaders' | 'aborted'>;

const STREAMED: CapturedBody = {
  text: '',
  size: -1,
  truncated: false,
  source: 'wire',
  comment: 'streamed body, not captured',
};

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function headerString(value: unknown): string {
  return Array.isArray(value)
    ? value.join(', ')
    : typeof value === 'string'
      ? value
      : value === undefined
        ? ''
        : String(value);
}

/**
 * Opens an exchange when a request arrives, takes the bodies as they cross the wire (cut to `maxBodyBytes` right
 * there), and closes the exchange exactly once: when the response is done or the client went away (background
 * mode), or just before the response is written (backgroundWorkerMode false).
 */
@Injectable()
export class ExchangeRecorder implements BeforeApplicationShutdown {
  private readonly logger = new MetricsLogger();
  private readonly rulesByHandler = new WeakMap<object, RouteRules>();
  private readonly noRules: RouteRules;
  private readonly exclude: ExcludeRules;
  private readonly skipLog = new SkipLog(this.logger);
  /** GraphQL requests: the operation is the endpoint (src/graphql); undefined with `graphql: false`. */
  private readonly graphql?: GraphqlCapture;
  /** Finished exchanges whose async group function has not answered yet. */
  private readonly pendingGroups = new Set<Promise<void>>();
  /** One listener function for every response (no closure per request); `this` is the response. */
  private readonly onClose: (this: ServerResponse) => void;

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly reflector: Reflector,
    private readonly dispatcher: Dispatcher,
  ) {
    this.noRules = defaultRouteRules(options);
    this.exclude = new ExcludeRules(options.exclude);
    if (options.graphql) this.graphql = new GraphqlCapture(options.graphql);
    const close = (exchange: Exchange) => this.close(exchange);
    this.onClose = function (this: ServerResponse) {
      const exchange = this.req && exchangeOf(this.req);
      if (!exchange) return;
      unlinkExchange(exchange);
      close(exchange);
    };
  }

  /** Starts recording a request; cheap: an id, two timestamps, a map entry and one listener. */
  open(req: IncomingMessage, res: ServerResponse): Exchange {
    const existing = exchangeOf(req);
    if (existing) return existing;
    const exchange = new Exchange(req, res);
    if ((res as { closed?: boolean }).closed) {
      // Seen only after the response closed (a filter running late): there is nothing left to record.
      exchange.settled = true;
      return exchange;
    }
    linkExchange(exchange);
    // `on`, not `once`: no wrapper per request; a second 'close' finds the exchange unlinked already.
    res.on('close', this.onClose);
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
   * The exchange of the request an HTTP guard, interceptor or filter is handling; opened late when no platform hook
   * ran. With an ExecutionContext, it also learns the handler.
   */
  exchangeForHost(host: ArgumentsHost): Exchange | undefined {
    try {
      const http = host.switchToHttp();
      const req: unknown = http.getRequest();
      const exchange = exchangeOf(req) ?? this.open(rawRequestOf(req), rawResponseOf(http.getResponse<unknown>()));
      exchange.platformRequest = req;
      // A filter's host answers getHandler() with undefined: keep what the route guard noted.
      exchange.noteHandler(host as Partial<ExecutionContext>);
      return exchange;
    } catch {
      return undefined;
    }
  }

  /**
   * Takes the request body once, before the handler runs (the route guard on Express, `preHandler` on Fastify; at
   * close when no handler ran): the raw bytes when the platform kept them, else a JSON snapshot of the parsed body,
   * cut to budget. Multipart bodies are parsed by a route interceptor, after this point: they are taken at close.
   */
  takeRequestBody(exchange: Exchange, atClose = false): void {
    if (exchange.requestBodyTaken) return;
    // Sampled out: no capture work now; should it end in a 5xx (always recorded), the body is taken at close.
    if (!atClose && !this.sampled(exchange)) return;
    try {
      const { req, platformRequest } = exchange;
      const headers = req.headers;
      const length = headers['content-length'];
      if ((length === undefined || length === '0') && headers['transfer-encoding'] === undefined) {
        exchange.requestBodyTaken = true;
        return;
      }
      const size = length === undefined ? -1 : Number(length) >= 0 ? Number(length) : -1;
      if (!this.rulesFor(exchange).captureRequestBody) {
        exchange.requestBody = omittedBody(size, 'captureRequestBody');
        exchange.requestBodyTaken = true;
        return;
      }
      const type = headers['content-type'] ?? '';
      const max = this.options.maxBodyBytes;
      if (/^multipart\/form-data\b/i.test(type)) {
        if (!atClose) return;
        const fields = parsedBodyOf(platformRequest);
        const body = snapshotParsed(fields ?? {}, max, size) ?? {
          text: '{}',
          size,
          truncated: false,
          source: 'parsed',
        };
        exchange.requestBody = { ...body, source: 'parsed', files: uploadedFilesOf(platformRequest) };
        exchange.requestBodyTaken = true;
        return;
      }
      const raw = rawBodyOf(platformRequest);
      if (raw) {
        exchange.requestBody = captureBytes(raw, type, max, raw.length);
      } else {
        const parsed = parsedBodyOf(platformRequest);
        if (parsed === undefined && !atClose) return; // maybe parsed later (a route interceptor)
        exchange.requestBody =
          parsed === undefined
            ? {
                text: '',
                size,
                truncated: false,
                source: 'wire',
                comment: 'body not parsed by the application, not captured',
              }
            : snapshotParsed(parsed, max, size);
      }
      exchange.requestBodyTaken = true;
    } catch (error) {
      exchange.requestBodyTaken = true;
      this.logger.errorOnce('request-body', 'Could not capture a request body', error);
    }
  }

  /**
   * The response body as the platform writes it: `chunk` is what goes to the socket (a string or bytes; a stream is
   * not read). `headersAlreadySent`: earlier writes already went out, so this is the end of a streamed body.
   */
  takeResponseBody(
    exchange: Exchange,
    chunk: unknown,
    headers: { status: number; contentType: string; contentEncoding?: string; contentLength?: string | number },
    headersAlreadySent = false,
  ): void {
    if (exchange.responseBodyTaken || exchange.settled) return;
    exchange.responseBodyTaken = true;
    if (headers.status < 500 && !this.sampled(exchange, true)) return; // sampled out and not an error: not recorded
    try {
      if (headersAlreadySent || isStream(chunk)) {
        exchange.responseBody = STREAMED;
        return;
      }
      if (chunk === undefined || chunk === null) return;
      const max = this.options.maxBodyBytes;
      const length = Number(headers.contentLength ?? NaN);
      const size = Number.isInteger(length) && length >= 0 ? length : -1;
      if (!this.rulesFor(exchange).captureResponseBody) {
        exchange.responseBody = omittedBody(size, 'captureResponseBody');
        return;
      }
      if (typeof chunk === 'string') {
        const body = captureString(chunk, max, 'wire', headers.contentEncoding ? -1 : size);
        exchange.responseBody = body;
      } else if (ArrayBuffer.isView(chunk)) {
        exchange.responseBody = headers.contentEncoding
          ? captureEncoded(chunk as Uint8Array, headers.contentEncoding, headers.contentType, max)
          : captureBytes(chunk as Uint8Array, headers.contentType, max);
      }
    } catch (error) {
      this.logger.errorOnce('response-body', 'Could not capture a response body', error);
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
  close(exchange: Exchange): void {
    if (exchange.settled) return;
    const { req, res } = exchange;
    const aborted = !res.writableFinished;
    // An upload the client abandoned mid-body got no answer, whatever the platform tried to write after it.
    const status = res.headersSent && !(aborted && !req.complete) ? res.statusCode : 0;
    const head = (res as unknown as { _header?: unknown })._header;
    void this.settle(exchange, {
      status,
      statusText: status ? res.statusMessage || STATUS_CODES[status] || '' : '',
      responseHead: typeof head === 'string' ? head : undefined,
      responseHeaders: typeof head === 'string' ? [] : pairsOf(res.getHeaders()),
      aborted,
    });
  }

  /** backgroundWorkerMode false: record and deliver before the response is written. Never rejects. */
  async deliverBeforeResponse(exchange: Exchange, pending: PendingResponse): Promise<void> {
    if (exchange.settled) return;
    await this.settle(
      exchange,
      {
        status: pending.status,
        statusText: STATUS_CODES[pending.status] ?? '',
        responseHeaders: pairsOf(pending.headers),
        aborted: false,
      },
      true,
    );
  }

  /**
   * Builds the record (plain strings, now: nothing of the app is read later), decides whether and under which
   * group it is recorded, and hands it over. Synchronous unless the group function returns a promise, which gets
   * `timeout` ms to settle. Never throws or rejects.
   */
  private settle(exchange: Exchange, response: SettledResponse, awaitDelivery = false): Promise<void> | undefined {
    exchange.settled = true;
    try {
      const rules = this.rulesFor(exchange);
      if (rules.skip || !this.isAllowedHost(exchange.req) || this.isExcluded(exchange)) {
        return this.decide(exchange, null);
      }
      if (!this.sampled(exchange, true) && response.status < 500) {
        this.dispatcher.countSampledOut();
        return this.decide(exchange, null);
      }
      // Introspection queries and WebSocket upgrades on a GraphQL path are not recorded.
      if (this.graphql?.applies(exchange) && !this.readGraphql(exchange)) return this.decide(exchange, null);
      const group = this.resolveGroup(rules.group, exchange);
      if (group === undefined) return this.decide(exchange, null);
      const captured = this.snapshot(exchange, response);
      if (!isPromiseLike(group)) return this.handOver(exchange, captured, group, awaitDelivery);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(resolve, this.options.timeout, TIMED_OUT);
        timer.unref();
      });
      const pending: Promise<void> = Promise.race([group, deadline])
        .then(
          (resolved) => {
            if (resolved === TIMED_OUT) return this.groupTimedOut(exchange);
            return this.handOver(exchange, captured, resolved as MetricsGroupInfo | undefined, awaitDelivery);
          },
          (error: unknown) => this.groupFailed(exchange, error),
        )
        .finally(() => {
          clearTimeout(timer);
          this.pendingGroups.delete(pending);
        });
      this.pendingGroups.add(pending);
      return pending;
    } catch (error) {
      // Nothing from the module may reach the app: the record is lost, the request is not.
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
      this.decide(exchange, null);
      return undefined;
    }
  }

  /** A path the app's GraphQL driver serves (src/graphql/graphql-path-discovery.ts). */
  addGraphqlPath(path: string): void {
    this.graphql?.addPath(path);
  }

  private readGraphql(exchange: Exchange): boolean {
    this.takeRequestBody(exchange, true);
    return this.graphql!.read(exchange);
  }

  private handOver(
    exchange: Exchange,
    captured: Omit<CapturedExchange, 'group'>,
    group: MetricsGroupInfo | undefined,
    awaitDelivery: boolean,
  ): Promise<void> | undefined {
    try {
      if (!group) return this.decide(exchange, null);
      const record: CapturedExchange = { ...captured, group, outgoing: exchange.outgoing };
      if (this.options.debug) {
        this.logger.debug(
          `captured ${record.method} ${record.url} -> ${record.status} (${record.durationMs.toFixed(2)} ms)`,
        );
      }
      if (awaitDelivery) {
        const delivered = this.dispatcher.deliverNow(record);
        this.decide(exchange, group);
        return delivered;
      }
      this.dispatcher.enqueue(record);
      this.decide(exchange, group);
    } catch (error) {
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
      this.decide(exchange, null);
    }
    return undefined;
  }

  /**
   * Records the group decision; outgoing calls that finished after the response while it was pending follow it.
   * Drops the exchange's references to the app's request and response.
   */
  private decide(exchange: Exchange, group: MetricsGroupInfo | null): undefined {
    exchange.group = group;
    const late = exchange.lateOutgoing;
    exchange.lateOutgoing = undefined;
    if (group && late) for (const call of late) this.dispatcher.enqueue({ ...call, group });
    return undefined;
  }

  private groupFailed(exchange: Exchange, error: unknown): void {
    this.decide(exchange, null);
    this.logger.errorOnce('group', 'The group function threw; the exchange was not recorded', error);
    this.skipLog.note('the group function threw');
  }

  private groupTimedOut(exchange: Exchange): void {
    this.decide(exchange, null);
    this.dispatcher.countGroupTimeout();
    this.logger.errorOnce(
      'group-timeout',
      `The group function did not settle within ${this.options.timeout} ms (the "timeout" option); the exchange was not recorded`,
    );
  }

  /**
   * An outgoing call finished. While its request is open it joins that request's record; after, it is shipped as a
   * record of its own (with `_parentId`) under the request's final group; if the request is not recorded, neither
   * is it. Calls made outside any request are not recorded: there is nothing to link them to.
   */
  recordOutgoing(parent: Exchange | undefined, call: Omit<CapturedExchange, 'group'>): void {
    if (!parent) return;
    if (!parent.settled) {
      (parent.outgoing ??= []).push({ ...call, group: ANONYMOUS });
      return;
    }
    if (parent.group === null) return;
    if (parent.group === undefined) {
      (parent.lateOutgoing ??= []).push(call); // the group function is still running: wait for its answer
      return;
    }
    this.dispatcher.enqueue({ ...call, group: parent.group });
  }

  /** `exclude`: matched against the route template, or the path for requests no route matched. */
  private isExcluded(exchange: Exchange): boolean {
    if (this.exclude.empty) return false;
    const { req, platformRequest } = exchange;
    return this.exclude.isExcluded(req.method, routeTemplateOf(platformRequest), originalUrlOf(req));
  }

  /**
   * Whether the exchange is sampled in (`sampleRate`, `@MetricsSample()`). The draw is made once, as soon as the
   * handler is known (`final`: now, at the end, for unmatched routes), before any body is taken for it.
   */
  private sampled(exchange: Exchange, final = false): boolean {
    if (exchange.sampled === undefined && (exchange.handler || final)) {
      exchange.sampled = drawSample(this.rulesFor(exchange));
    }
    return exchange.sampled !== false;
  }

  /** The decorators of the exchange's handler with the module options (route-rules.ts), read once per handler. */
  rulesFor(exchange: Exchange): RouteRules {
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
      this.logger.errorOnce('group', 'The group function threw; the exchange was not recorded', error);
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

  /** The record, from what capture took: strings and numbers only. */
  private snapshot(exchange: Exchange, response: SettledResponse): Omit<CapturedExchange, 'group'> {
    const { req, platformRequest } = exchange;
    this.takeRequestBody(exchange, true);
    let responseBody = exchange.responseBody;
    if (responseBody && responseBody.size < 0 && response.responseHead) {
      const length = /\r\ncontent-length: *(\d+)/i.exec(response.responseHead)?.[1];
      if (length !== undefined) responseBody = { ...responseBody, size: Number(length) };
    }
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
      requestBody: exchange.requestBody,
      responseBody,
      route: routeTemplateOf(platformRequest),
      pathParams: pathParamsOf(platformRequest),
      clientIp: clientIpOf(platformRequest, req),
      errors: exchange.errors,
      ...(exchange.graphql && { graphql: exchange.graphql }),
      ...response,
      // captureRequestBody / captureResponseBody / @MetricsCapture(): the bodies are never handed on.
      ...(!rules.captureRequestBody &&
        exchange.requestBody && { requestBody: omittedBody(exchange.requestBody.size, 'captureRequestBody') }),
      ...(!rules.captureResponseBody &&
        responseBody && { responseBody: omittedBody(responseBody.size, 'captureResponseBody') }),
    };
  }
}

/** Node's header object (`getHeaders()`) as name, value pairs. */
export function pairsOf(headers: Record<string, number | string | string[] | undefined>): string[] {
  const pairs: string[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) pairs.push(name, String(item));
    else pairs.push(name, headerString(value));
  }
  return pairs;
}
