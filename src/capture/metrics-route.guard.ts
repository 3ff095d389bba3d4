import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ExchangeRecorder } from './exchange-recorder';

/**
 * Never rejects. As a global guard it runs before the app's own guards, so when one of those rejects a request the
 * exchange already knows its handler, and `@SkipMetrics()` / `@MetricsGroup()` still apply to the 401/403.
 */
@Injectable()
export class MetricsRouteGuard implements CanActivate {
  constructor(private readonly recorder: ExchangeRecorder) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') this.recorder.exchangeForHost(context);
    return true;
  }
}
