import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
import { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { ExchangeRecorder } from './exchange-recorder';
import { exchangeOf } from './request-context';

interface ExpressAppLike {
  use(handler: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): unknown;
  response?: { end?: (...args: unknown[]) => unknown };
}

const WRAPPED = Symbol.for('nestjs-api-metrics:end');

/**
 * Express: native hooks on the app Nest's adapter created (no Nest middleware, so no route path to convert: every
 * prefix, version and path-to-regexp version works, and Express's own 404s outside the prefix are recorded).
 *
 * - An app-level handler, registered before Nest's router, opens the exchange and its async context.
 * - `end` on the app's own response prototype (`app.response`, made per app by Express; Node's ServerResponse is
 *   untouched, and so is every req/res object) sees the bytes of the body as they go to the socket: `res.send`,
 *   `res.json` (which stringifies, then sends the string), redirects and `@Res()` answers all end there. Measured
 *   against wrapping `send`: the same cost per request (one Map lookup, `exchangeOf`), and `end` also sees redirects and
 *   direct `res.end()` answers, so it is the exact one.
 */
@Injectable()
export class ExpressHooks {
  private readonly logger = new MetricsLogger();

  constructor(
    private readonly recorder: ExchangeRecorder,
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
  ) {}

  install(app: ExpressAppLike): void {
    const recorder = this.recorder;
    app.use(function openExchange(req, res, next) {
      recorder.openAndRun(req, res, req, next);
    });
    const proto = app.response;
    if (!proto || typeof proto.end !== 'function' || (proto as Record<symbol, unknown>)[WRAPPED]) {
      if (!proto) this.logger.warn('Express response prototype not found: response bodies are not recorded');
      return;
    }
    const end = proto.end;
    const background = this.options.backgroundWorkerMode;
    const wrapped = function (this: ServerResponse, ...args: unknown[]): unknown {
      const exchange = this.req ? exchangeOf(this.req) : undefined;
      if (!exchange || exchange.settled) return end.apply(this, args);
      const chunk = typeof args[0] === 'function' ? undefined : args[0];
      recorder.takeResponseBody(
        exchange,
        this.req.method === 'HEAD' ? undefined : chunk,
        {
          status: this.statusCode,
          contentType: String(this.getHeader('content-type') ?? ''),
          contentEncoding: this.getHeader('content-encoding') as string | undefined,
          contentLength: this.getHeader('content-length') as string | number | undefined,
        },
        this.headersSent,
      );
      if (background) return end.apply(this, args);
      void recorder
        .deliverBeforeResponse(exchange, { status: this.statusCode, headers: this.getHeaders() })
        .then(() => end.apply(this, args));
      return this;
    };
    Object.defineProperty(proto, 'end', { value: wrapped, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(proto, WRAPPED, { value: true });
  }
}
