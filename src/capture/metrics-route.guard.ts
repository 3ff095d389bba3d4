import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ExchangeRecorder } from './exchange-recorder';
import { graphqlExchangeOf } from '../graphql-context';
import { DocumentationLink } from '../documentation-link';

/**
 * Never rejects. As a global guard it runs before the app's own guards, pipes and handler, so the exchange knows
 * its handler (`@SkipMetrics()` / `@MetricsGroup()` still apply to a 401/403 an app guard answers; for GraphQL, the
 * first root resolver), and the request body is taken here, before anything of the app could change it.
 */
@Injectable()
export class MetricsRouteGuard implements CanActivate {
  constructor(
    private readonly recorder: ExchangeRecorder,
    private readonly link: DocumentationLink,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const type = context.getType<string>();
    if (type !== 'http' && type !== 'graphql') return true;
    const exchange = type === 'http' ? this.recorder.exchangeForHost(context) : graphqlExchangeOf(context);
    if (exchange) this.recorder.takeRequestBody(exchange);
    if (exchange && type === 'http') this.link.set(exchange, this.recorder); // baseLogUrl (src/documentation-link.ts)
    return true;
  }
}
