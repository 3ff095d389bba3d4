import {
  Inject,
  Injectable,
  type ArgumentsHost,
  type BeforeApplicationShutdown,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import { RECORD_SINK, type RecordSink } from '../interfaces/record-sink.interface';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
import { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { TrafficCounter } from '../traffic/traffic-counter';
import { GraphqlCapture } from '../graphql/graphql-capture';
import { BodyTaker, type ResponseHeadOf } from './body-taker';
import { Exchange } from './exchange';
import { ExchangeSettler, type PendingResponse } from './exchange-settler';
import { GroupResolver } from './group-resolver';
import { rawResponseOf } from './platform';
import { exchangeOf, exchangeStorage, linkExchange, rawRequestOf, unlinkExchange } from './request-context';
import { RoutePolicy } from './route-policy';
import type { RouteRules } from './route-rules';
import { SkipLog } from './skip-log';

export type { PendingResponse } from './exchange-settler';

/**
 * The request path's entry points, for the platform hooks and Nest's guard, interceptor and filter: opens an
 * exchange when a request arrives, has its bodies taken as they cross the wire (body-taker.ts) and closes it exactly
 * once (exchange-settler.ts), under the route's rules (route-policy.ts).
 */
@Injectable()
export class ExchangeRecorder implements BeforeApplicationShutdown {
  private readonly logger = new MetricsLogger();
  private readonly policy: RoutePolicy;
  private readonly bodies: BodyTaker;
  private readonly settler: ExchangeSettler;
  /** GraphQL requests: the operation is the endpoint (src/graphql); undefined with `graphql: false`. */
  private readonly graphql?: GraphqlCapture;
  /** One listener function for every response (no closure per request); `this` is the response. */
  private readonly onClose: (this: ServerResponse) => void;

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    reflector: Reflector,
    @Inject(RECORD_SINK) dispatcher: RecordSink,
    traffic: TrafficCounter,
  ) {
    const skipLog = new SkipLog(this.logger);
    if (options.graphql) this.graphql = new GraphqlCapture(options.graphql);
    this.policy = new RoutePolicy(options, reflector);
    this.bodies = new BodyTaker(options, this.policy, traffic, this.graphql, this.logger);
    const groups = new GroupResolver(options.group, this.logger, skipLog);
    this.settler = new ExchangeSettler(
      options,
      this.policy,
      this.bodies,
      dispatcher,
      traffic,
      groups,
      this.graphql,
      this.logger,
      skipLog,
    );
    const settler = this.settler;
    this.onClose = function (this: ServerResponse) {
      const exchange = this.req && exchangeOf(this.req);
      if (!exchange) return;
      unlinkExchange(exchange);
      settler.close(exchange);
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
      if (req !== exchange.req) this.policy.noteRoute(exchange); // Fastify: see RoutePolicy.adoptRoute
      return exchange;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the exchange is sampled in: the draw, made now if not yet (as the response's head is about to be
   * written, so that a response header can name a record that will be shipped, with its `exchange.id`).
   */
  sampled(exchange: Exchange): boolean {
    return this.policy.sampled(exchange, true);
  }

  /** Fastify's `preHandler`: the handler Nest routes this route to, when known (RoutePolicy.adoptRoute). */
  adoptRoute(exchange: Exchange): void {
    this.policy.adoptRoute(exchange);
  }

  /**
   * Takes the request body once, before the handler runs (the route guard on Express, `preHandler` on Fastify; at
   * close when no handler ran). See BodyTaker.
   */
  takeRequestBody(exchange: Exchange, atClose = false): void {
    this.bodies.takeRequestBody(exchange, atClose);
  }

  /** The response body as the platform writes it (see BodyTaker). */
  takeResponseBody(exchange: Exchange, chunk: unknown, headers: ResponseHeadOf, headersAlreadySent = false): void {
    this.bodies.takeResponseBody(exchange, chunk, headers, headersAlreadySent);
  }

  /**
   * Resolves once every finished exchange was handed to delivery (or dropped), so a flush includes requests whose
   * async group function is still running. Bounded by `timeoutMs`; never rejects.
   */
  whenHandedOver(timeoutMs: number): Promise<void> {
    return this.settler.whenHandedOver(timeoutMs);
  }

  /** Shutdown: requests that already finished reach the queue before the dispatcher's last flush. */
  beforeApplicationShutdown(): Promise<void> {
    return this.whenHandedOver(Math.min(this.options.timeout, this.options.shutdownTimeout));
  }

  /** Background mode: the response is complete (or abandoned); hand the exchange to delivery. */
  close(exchange: Exchange): void {
    this.settler.close(exchange);
  }

  /** backgroundWorkerMode false: record and deliver before the response is written. Never rejects. */
  deliverBeforeResponse(exchange: Exchange, pending: PendingResponse): Promise<void> {
    return this.settler.deliverBeforeResponse(exchange, pending);
  }

  /** An outgoing call finished (see ExchangeSettler.recordOutgoing). */
  recordOutgoing(parent: Exchange | undefined, call: Omit<CapturedExchange, 'group'>): void {
    this.settler.recordOutgoing(parent, call);
  }

  /** A path the app's GraphQL driver serves (src/graphql/graphql-path-discovery.ts). */
  addGraphqlPath(path: string): void {
    this.graphql?.addPath(path);
  }

  /** The decorators of the exchange's handler with the module options, read once per handler. */
  rulesFor(exchange: Exchange): RouteRules {
    return this.policy.rulesFor(exchange);
  }
}
