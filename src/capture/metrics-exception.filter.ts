import { Catch, Inject, Injectable, type ArgumentsHost, type HttpServer } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { createRequire } from 'node:module';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { Exchange } from './exchange';
import { ExchangeRecorder } from './exchange-recorder';
import { rawResponseOf } from './platform';
import { exchangeOf, rawRequestOf } from './request-context';

const requireOptional = createRequire(__filename);

/**
 * Records exceptions that end a request (including guard rejections and 404s, which never reach interceptors), then
 * lets Nest's own `BaseExceptionFilter` answer: status, body and headers are exactly what Nest sends without us.
 */
@Catch()
@Injectable()
export class MetricsExceptionFilter extends BaseExceptionFilter {
  /** The adapter as BaseExceptionFilter sees it: the real one, with `reply` noting the body it is given first. */
  private observedAdapter?: HttpServer;
  private replyingFor?: Exchange;

  constructor(
    private readonly recorder: ExchangeRecorder,
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
  ) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): unknown {
    const type = host.getType<string>();
    if (type !== 'http') return delegateNonHttp(type, exception, host);
    const exchange = this.exchangeFor(host);
    // BaseExceptionFilter replies through `applicationRef`; ours is the real adapter seen through `adapterFor()`.
    (this as unknown as { applicationRef?: HttpServer }).applicationRef = this.adapterFor();
    this.replyingFor = exchange;
    try {
      super.catch(exception, host);
    } finally {
      this.replyingFor = undefined;
    }
    return undefined;
  }

  private exchangeFor(host: ArgumentsHost): Exchange | undefined {
    try {
      const http = host.switchToHttp();
      const req: unknown = http.getRequest();
      const exchange =
        exchangeOf(req) ?? this.recorder.open(rawRequestOf(req), rawResponseOf(http.getResponse<unknown>()));
      exchange.platformRequest = req;
      return exchange;
    } catch {
      return undefined;
    }
  }

  private adapterFor(): HttpServer | undefined {
    const adapter = this.httpAdapterHost?.httpAdapter;
    if (!adapter) return undefined;
    if (this.observedAdapter && Object.getPrototypeOf(this.observedAdapter) === adapter) return this.observedAdapter;
    const reply = (response: unknown, body: unknown, status?: number): unknown => {
      const exchange = this.replyingFor;
      if (!exchange || exchange.settled) return adapter.reply(response, body, status);
      exchange.responseBody = body;
      exchange.hasResponseBody = true;
      if (this.options.backgroundWorkerMode) return adapter.reply(response, body, status);
      const statusCode = status ?? 500;
      void this.recorder
        .deliverBeforeResponse(exchange, {
          status: statusCode,
          headers: { ...rawResponseOf(response).getHeaders(), 'content-type': 'application/json; charset=utf-8' },
        })
        .then(() => adapter.reply(response, body, statusCode));
      return undefined;
    };
    this.observedAdapter = Object.create(adapter, { reply: { value: reply } }) as HttpServer;
    return this.observedAdapter;
  }
}

/** RPC, WebSocket and GraphQL errors get the answer their own platform would give, as if we were not there. */
function delegateNonHttp(type: string, exception: unknown, host: ArgumentsHost): unknown {
  if (type === 'rpc') {
    const { BaseRpcExceptionFilter } = requireOptional('@nestjs/microservices') as {
      BaseRpcExceptionFilter: new () => { catch(e: unknown, h: ArgumentsHost): unknown };
    };
    return new BaseRpcExceptionFilter().catch(exception, host);
  }
  if (type === 'ws') {
    const { BaseWsExceptionFilter } = requireOptional('@nestjs/websockets') as {
      BaseWsExceptionFilter: new () => { catch(e: unknown, h: ArgumentsHost): unknown };
    };
    return new BaseWsExceptionFilter().catch(exception, host);
  }
  // GraphQL and other contexts expect the exception back, to report it their own way.
  return exception;
}
