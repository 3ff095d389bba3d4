import {
  Inject,
  Injectable,
  type ArgumentsHost,
  type BeforeApplicationShutdown,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import { RECORD_SINK, type RecordSink } from '../interfaces/record-sink.interface';
import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
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
import { pairsOf, snapshotOf, type SettledResponse } from './snapshot';
import { originalUrlOf, parsedBodyOf, rawBodyOf, rawResponseOf, routeTemplateOf } from './platform';
import { exchangeOf, exchangeStorage, linkExchange, rawRequestOf, unlinkExchange } from './request-context';
import { defaultRouteRules, ExcludeRules, drawSample, readRouteRules, type RouteRules } from './route-rules';
import { ANONYMOUS, GroupResolver, isPromiseLike } from './group-resolver';
import { SkipLog } from './skip-log';
import { TrafficCounter } from '../traffic/traffic-counter';
import type { TrafficMeasure } from '../traffic/traffic-measure';
import { GraphqlCapture } from '../graphql/graphql-capture';

/** Status and headers of a response about to be written (backgroundWorkerMode false). */
export interface PendingResponse {
  status: number;
  headers: Record<string, number | string | string[] | undefined>;
}

const TIMED_OUT = Symbol('timed out');

const STREAMED: CapturedBody = {
  text: '',
  size: -1,
  truncated: false,
  source: 'wire',
  comment: 'streamed body, not captured',
};

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
  private readonly groups: GroupResolver;
  /** GraphQL requests: the operation is the endpoint (src/graphql); undefined with `graphql: false`. */
  private readonly graphql?: GraphqlCapture;
  /** Finished exchanges whose async group function has not answered yet. */
  private readonly pendingGroups = new Set<Promise<void>>();
  /** One listener function for every response (no closure per request); `this` is the response. */
  private readonly onClose: (this: ServerResponse) => void;

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly reflector: Reflector,
    @Inject(RECORD_SINK) private readonly dispatcher: RecordSink,
    private readonly traffic: TrafficCounter,
  ) {
    this.noRules = defaultRouteRules(options);
    this.exclude = new ExcludeRules(options.exclude);
    this.groups = new GroupResolver(options.group, this.logger, this.skipLog);
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
    this.traffic.noteResponse(exchange, chunk, headers.contentLength, headersAlreadySent);
    // Sampled out and not an error: not recorded (a counted GraphQL answer is still read for its errors).
    if (
      headers.status < 500 &&
      !this.sampled(exchange, true) &&
      !(this.traffic.enabled && this.graphql?.applies(exchange))
    ) {
      return;
    }
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
      const sampledOut = !this.sampled(exchange, true) && response.status < 500;
      // GraphQL: the operation is the endpoint, of the record and of its traffic series, so it is read before
      // counting (for sampled-out requests too when they are counted). Introspection queries and WebSocket
      // upgrades on a GraphQL path are neither recorded nor counted.
      if ((!sampledOut || this.traffic.enabled) && this.graphql?.applies(exchange) && !this.readGraphql(exchange)) {
        return this.decide(exchange, null);
      }
      // Counted whether sampled in or not (sampling decides what is shipped); the consumer needs the group.
      const measure = this.traffic.measure(exchange, response.status);
      if (sampledOut) {
        this.dispatcher.countSampledOut();
        this.decide(exchange, null);
        if (!measure) return undefined;
      }
      const group = this.groups.resolve(rules.group, exchange.platformRequest);
      if (group === undefined) {
        this.traffic.count(measure, undefined);
        return sampledOut ? undefined : this.decide(exchange, null);
      }
      let captured: ReturnType<typeof snapshotOf> | undefined;
      if (!sampledOut) {
        this.takeRequestBody(exchange, true);
        captured = snapshotOf(exchange, response, rules);
      }
      if (!isPromiseLike(group)) return this.handOver(exchange, captured, group, awaitDelivery, measure);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(resolve, this.options.timeout, TIMED_OUT);
        timer.unref();
      });
      const pending: Promise<void> = Promise.race([group, deadline])
        .then(
          (resolved) => {
            if (resolved !== TIMED_OUT) {
              return this.handOver(
                exchange,
                captured,
                resolved as MetricsGroupInfo | undefined,
                awaitDelivery,
                measure,
              );
            }
            this.traffic.count(measure, undefined);
            if (captured) this.groupTimedOut(exchange);
          },
          (error: unknown) => {
            this.traffic.count(measure, undefined);
            this.groupFailed(exchange, error);
          },
        )
        .finally(() => {
          clearTimeout(timer);
          this.pendingGroups.delete(pending);
        });
      this.pendingGroups.add(pending);
      // A sampled-out exchange waits for its group only to be counted: never the response (backgroundWorkerMode false).
      return captured ? pending : undefined;
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

  /** `captured` undefined: a sampled-out exchange, only counted. */
  private handOver(
    exchange: Exchange,
    captured: Omit<CapturedExchange, 'group'> | undefined,
    group: MetricsGroupInfo | undefined,
    awaitDelivery: boolean,
    measure?: TrafficMeasure,
  ): Promise<void> | undefined {
    // Without a group function (ANONYMOUS) the exchange has no consumer.
    this.traffic.count(measure, group === ANONYMOUS ? undefined : group);
    if (!captured) return undefined;
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
}
