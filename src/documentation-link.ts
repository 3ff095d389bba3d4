import { Inject, Injectable } from '@nestjs/common';
import type { Exchange } from './capture/exchange';
import type { ExchangeRecorder } from './capture/exchange-recorder';
import { originalUrlOf, routeTemplateOf } from './capture/platform';
import { ExcludeRules } from './capture/route-rules';
import { METRICS_RESOLVED_OPTIONS } from './metrics.constants';
import type { ResolvedMetricsOptions } from './metrics.options';

/** The header ReadMe's SDKs add: where a response's log is in ReadMe. */
export const DOCUMENTATION_URL_HEADER = 'x-documentation-url';

/**
 * `baseLogUrl`: sets `x-documentation-url: {baseLogUrl}/logs/{record _id}` on a response whose exchange will be
 * recorded. Called once per request by the route guard, the earliest point where the handler, and so `@SkipMetrics()`
 * and `@MetricsSample()`, is known, and before anything of the app (its guards, handler) could write the response
 * head. It makes the sampling draw there if none was made (the recorder keeps it: one draw per exchange), so the link
 * never points at a sampled-out record. Requests no route handles (404s, answers of the app's middleware) get none.
 * A link can still point at a record that is not sent when the group function returns null or fails (it runs after
 * the response) or the collector refuses it. Without `baseLogUrl`: one comparison per request.
 */
@Injectable()
export class DocumentationLink {
  private readonly base?: string;
  private readonly exclude: ExcludeRules;

  constructor(@Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions) {
    this.base = options.baseLogUrl;
    this.exclude = new ExcludeRules(options.exclude);
  }

  /** Sets the header when the exchange will be recorded. Never throws: a link must not break the request. */
  set(exchange: Exchange, recorder: Pick<ExchangeRecorder, 'rulesFor' | 'sampled'>): void {
    if (this.base === undefined) return;
    try {
      const { req, res, platformRequest } = exchange;
      if (res.headersSent || exchange.settled || !exchange.handler) return;
      const rules = recorder.rulesFor(exchange);
      if (rules.skip || !this.hostAllowed(req.headers.host)) return;
      if (
        !this.exclude.empty &&
        this.exclude.isExcluded(req.method, routeTemplateOf(platformRequest), originalUrlOf(req))
      ) {
        return;
      }
      if (!recorder.sampled(exchange)) return;
      res.setHeader(DOCUMENTATION_URL_HEADER, `${this.base}/logs/${exchange.id}`);
    } catch {
      // a response that refuses the header (already written by a stream) goes on without it
    }
  }

  private hostAllowed(host: string | undefined): boolean {
    const allowed = this.options.allowedHttpHosts;
    return !allowed || allowed.has((host ?? '').replace(/:\d+$/, '').toLowerCase());
  }
}
