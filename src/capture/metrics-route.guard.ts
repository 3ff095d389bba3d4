import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Exchange } from './exchange';
import { exchangeOf } from './request-context';

/**
 * Never rejects. As a global guard it runs before the app's own guards, so when one of those rejects a request the
 * exchange already knows its handler, and `@SkipMetrics()` / `@MetricsGroup()` still apply to the 401/403.
 */
@Injectable()
export class MetricsRouteGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req: unknown = context.switchToHttp().getRequest();
    const exchange = exchangeOf(req);
    if (exchange) {
      exchange.platformRequest = req;
      exchange.handler = context.getHandler() as Exchange['handler'];
      exchange.controller = context.getClass() as Exchange['controller'];
    }
    return true;
  }
}
