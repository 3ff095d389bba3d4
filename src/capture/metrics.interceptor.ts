import {
  HttpException,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import type { Exchange } from './exchange';
import { ExchangeRecorder } from './exchange-recorder';
import { exchangeOf, exchangeStorage } from './request-context';
import { graphqlExchangeOf } from '../graphql-context';

/**
 * Notes errors the handler throws (an app's own controller-scoped filter may answer instead of ours, and then our
 * filter never sees them). Bodies are not taken here: the platform hooks take them as they cross the wire, so this
 * interceptor adds one rxjs operator and nothing per value. Registered globally by `MetricsModule`; resolvers
 * (`graphql` contexts) are handled like handlers; other contexts pass through untouched.
 */
@Injectable()
export class MetricsInterceptor implements NestInterceptor {
  constructor(private readonly recorder: ExchangeRecorder) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const type = context.getType<string>();
    // The route guard already opened the exchange and noted the handler: a map lookup is all that is left.
    const exchange =
      type === 'http'
        ? (exchangeOf(context.switchToHttp().getRequest()) ?? this.recorder.exchangeForHost(context))
        : type === 'graphql'
          ? graphqlExchangeOf(context)
          : undefined;
    if (!exchange) return next.handle();
    const handled = next.handle().pipe(tap({ error: (error: unknown) => this.onHandlerError(exchange, error) }));
    // Fastify parses bodies in stream callbacks that may lose the context opened by the hooks: enter it again.
    return exchangeStorage.getStore() === exchange ? handled : runInExchange(exchange, handled);
  }

  /** Called with what the handler threw; override to change what is attached to the record. */
  protected onHandlerError(exchange: Exchange, error: unknown): void {
    exchange.reportError(error, 'interceptor', error instanceof HttpException);
  }
}

function runInExchange<T>(exchange: Exchange, source: Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => exchangeStorage.run(exchange, () => source.subscribe(subscriber)));
}
