import { Catch, HttpException, Injectable, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ApplicationConfig, BaseExceptionFilter } from '@nestjs/core';
import { createRequire } from 'node:module';
import { ExchangeRecorder } from './exchange-recorder';
import { graphqlExchangeOf } from '../graphql-context';

const requireOptional = createRequire(__filename);
/** Where `@Catch(...types)` keeps its types (Nest's constant, the same in 11 and 12). */
const FILTER_CATCH_EXCEPTIONS = '__filterCatchExceptions__';

/**
 * Records exceptions that end a request (including guard rejections and 404s, which never reach interceptors), then
 * lets Nest's own `BaseExceptionFilter` answer: status, body and headers are exactly what Nest sends without us.
 */
@Catch()
@Injectable()
export class MetricsExceptionFilter extends BaseExceptionFilter {
  constructor(
    private readonly recorder: ExchangeRecorder,
    private readonly config: ApplicationConfig,
  ) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): unknown {
    const type = host.getType<string>();
    const next = this.nextGlobalFilter(exception);
    // A resolver's, guard's or pipe's exception: attached to its request; the GraphQL driver answers it.
    if (type === 'graphql') {
      graphqlExchangeOf(host)?.reportError(exception, 'filter', exception instanceof HttpException);
    }
    if (type !== 'http') return next ? next.catch(exception, host) : delegateNonHttp(type, exception, host);
    // Filters get no handler: the route guard noted it before any app guard could reject.
    const exchange = this.recorder.exchangeForHost(host);
    exchange?.reportError(exception, 'filter', exception instanceof HttpException);
    // The app's own global filter answers, as it would without us.
    if (next) return next.catch(exception, host);
    // Nest's own answer; the platform hooks see its body as it is written.
    super.catch(exception, host);
    return undefined;
  }

  /**
   * Nest asks global filters from the last registered to the first, and ours comes from an imported module, so it
   * is often asked before the app's own. The filters after ours in that line declined this exception; the first one
   * before ours that catches it is the one that would answer without us.
   */
  private nextGlobalFilter(exception: unknown): ExceptionFilter | undefined {
    const filters = this.config.getGlobalFilters();
    const position = filters.indexOf(this);
    for (let i = position - 1; i >= 0; i--) {
      const filter = filters[i]!;
      const types = (Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, filter.constructor) ?? []) as (new (
        ...args: never[]
      ) => unknown)[];
      if (types.length === 0 || types.some((t) => exception instanceof t)) return filter;
    }
    return undefined;
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
