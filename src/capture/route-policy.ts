import type { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { Exchange } from './exchange';
import { originalUrlOf, routeTemplateOf } from './platform';
import { defaultRouteRules, drawSample, ExcludeRules, readRouteRules, type RouteRules } from './route-rules';

type HandlerOf = Pick<Exchange, 'handler' | 'controller'>;

/**
 * What capture may do with an exchange: its handler's rules (decorators and module options, read once per handler),
 * the sampling draw (once per exchange), `exclude` and `allowedHttpHosts`.
 */
export class RoutePolicy {
  private readonly rulesByHandler = new WeakMap<object, RouteRules>();
  private readonly noRules: RouteRules;
  private readonly exclude: ExcludeRules;
  /**
   * Fastify: the handler Nest routes each method and route template to, learnt from the first request it routed
   * there, so that the next ones know their rules at `preHandler`, before the sampling draw and the request body.
   * `null`: more than one handler serves it (header or media-type versioning): never guessed. Bounded by the app's
   * routes (templates as registered; unmatched requests have none).
   */
  private readonly handlersByRoute = new Map<string, Map<string, HandlerOf | null>>();

  constructor(
    private readonly options: ResolvedMetricsOptions,
    private readonly reflector: Reflector,
  ) {
    this.noRules = defaultRouteRules(options);
    this.exclude = new ExcludeRules(options.exclude);
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

  /** Remembers the handler Nest routed this exchange's method and route template to (see `handlersByRoute`). */
  noteRoute(exchange: Exchange): void {
    const template = routeTemplateOf(exchange.platformRequest);
    const { handler, controller } = exchange;
    if (template === undefined || !handler) return;
    const method = exchange.req.method ?? 'GET';
    let byTemplate = this.handlersByRoute.get(method);
    if (!byTemplate) this.handlersByRoute.set(method, (byTemplate = new Map()));
    const known = byTemplate.get(template);
    if (known === undefined) byTemplate.set(template, { handler, controller });
    else if (known && known.handler !== handler) byTemplate.set(template, null);
  }

  /** Fastify's `preHandler`: the exchange learns its handler from its route when Nest always routes it there. */
  adoptRoute(exchange: Exchange): void {
    if (exchange.handler || !this.handlersByRoute.size) return;
    const template = routeTemplateOf(exchange.platformRequest);
    if (template === undefined) return;
    const known = this.handlersByRoute.get(exchange.req.method ?? 'GET')?.get(template);
    if (!known) return;
    exchange.handler = known.handler;
    exchange.controller = known.controller;
  }

  /**
   * Whether the exchange is sampled in (`sampleRate`, `@MetricsSample()`). The draw is made once, as soon as the
   * handler is known (`final`: now, at the end, for unmatched routes), before any body is taken for it.
   */
  sampled(exchange: Exchange, final = false): boolean {
    if (exchange.sampled === undefined && (exchange.handler || final)) {
      exchange.sampled = drawSample(this.rulesFor(exchange));
    }
    return exchange.sampled !== false;
  }

  /** `exclude`: matched against the route template, or the path for requests no route matched. */
  isExcluded(exchange: Exchange): boolean {
    if (this.exclude.empty) return false;
    const { req, platformRequest } = exchange;
    return this.exclude.isExcluded(req.method, routeTemplateOf(platformRequest), originalUrlOf(req));
  }

  isAllowedHost(req: IncomingMessage): boolean {
    const allowed = this.options.allowedHttpHosts;
    if (!allowed) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return allowed.has(host);
  }

  private readRules(targets: (Exchange['handler'] | Exchange['controller'])[]): RouteRules {
    return readRouteRules(
      this.reflector,
      targets.filter((t) => t !== undefined),
      this.options,
    );
  }
}
