import {
  HttpException,
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, Observable, tap } from 'rxjs';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { Exchange } from './exchange';
import { ExchangeRecorder, type PendingResponse } from './exchange-recorder';
import { rawResponseOf } from './platform';
import { exchangeStorage } from './request-context';

// Nest's own metadata keys (stable across 11 and 12), read to predict what Nest is about to send.
const SSE_METADATA = '__sse__';
const HTTP_CODE_METADATA = '__httpCode__';
const HEADERS_METADATA = '__headers__';

/**
 * Notes which handler serves the request and keeps a reference to what it returned. Registered globally by
 * `MetricsModule`; non-HTTP contexts pass through untouched.
 */
@Injectable()
export class MetricsInterceptor implements NestInterceptor {
  constructor(
    private readonly recorder: ExchangeRecorder,
    private readonly reflector: Reflector,
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const exchange = this.recorder.exchangeForHost(context);
    if (!exchange) return next.handle();
    const isSse = this.reflector.get<boolean>(SSE_METADATA, context.getHandler()) === true;
    // Errors are noted here too: an app's own catch-all filter may answer instead of ours.
    let handled = next
      .handle()
      .pipe(
        tap({ error: (error: unknown) => exchange.reportError(error, 'interceptor', error instanceof HttpException) }),
      );
    // An event stream is passed through as it is: its events are not kept.
    if (!isSse) handled = handled.pipe(tap((body) => this.onResponseBody(exchange, body)));
    if (!this.options.backgroundWorkerMode && !isSse) {
      handled = handled.pipe(
        mergeMap((body) =>
          from(this.recorder.deliverBeforeResponse(exchange, this.pendingResponse(context, body)).then(() => body)),
        ),
      );
    }
    // Fastify parses bodies in stream callbacks that lose the context opened by the middleware: enter it again.
    return exchangeStorage.getStore() === exchange ? handled : runInExchange(exchange, handled);
  }

  /** Called with each value the handler emits; override to change what is kept as the response body. */
  protected onResponseBody(exchange: Exchange, body: unknown): void {
    exchange.responseBody = body;
    exchange.hasResponseBody = true;
  }

  /** Status and headers Nest will send for a handler's result (it applies @HttpCode and @Header when replying). */
  private pendingResponse(context: ExecutionContext, body: unknown): PendingResponse {
    const handler = context.getHandler();
    const res = context.switchToHttp().getResponse<{ getHeaders?: () => PendingResponse['headers'] }>();
    const raw = rawResponseOf(res);
    const method = context.switchToHttp().getRequest<{ method?: string }>().method;
    const status =
      this.reflector.get<number>(HTTP_CODE_METADATA, handler) ??
      (raw.statusCode !== 200 ? raw.statusCode : method === 'POST' ? 201 : 200);
    const headers: PendingResponse['headers'] = { ...raw.getHeaders(), ...(res.getHeaders?.() ?? {}) };
    for (const { name, value } of this.reflector.get<{ name: string; value: string }[]>(HEADERS_METADATA, handler) ??
      []) {
      headers[name.toLowerCase()] = value;
    }
    if (headers['content-type'] === undefined && body !== undefined && body !== null) {
      headers['content-type'] =
        typeof body === 'object' && !Buffer.isBuffer(body)
          ? 'application/json; charset=utf-8'
          : 'text/html; charset=utf-8';
    }
    return { status, headers };
  }
}

function runInExchange<T>(exchange: Exchange, source: Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => exchangeStorage.run(exchange, () => source.subscribe(subscriber)));
}
