import { Module, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { ExchangeRecorder } from './capture/exchange-recorder';
import { ExpressHooks } from './capture/express-hooks';
import { FastifyContextHook } from './capture/fastify-context';
import { AxiosObserver } from './capture/outgoing/axios-observer';
import { MetricsExceptionFilter } from './capture/metrics-exception.filter';
import { MetricsInterceptor } from './capture/metrics.interceptor';
import { MetricsRouteGuard } from './capture/metrics-route.guard';
import { Dispatcher } from './deliver/dispatcher';
import { ReadmeTransport } from './deliver/transports/readme.transport';
import { RecordFormatter } from './format/record-formatter';
import type { MetricsModuleOptions } from './interfaces/metrics-options.interface';
import type { MetricsTransport } from './interfaces/metrics-transport.interface';
import { METRICS_RESOLVED_OPTIONS, METRICS_TRANSPORT } from './metrics.constants';
import { ConfigurableMetricsModule, METRICS_MODULE_OPTIONS } from './metrics.module-definition';
import { resolveMetricsOptions, type ResolvedMetricsOptions } from './metrics.options';
import { MetricsService } from './metrics.service';
import { Redactor } from './redact/redactor';

/**
 * Records every HTTP exchange of the app and ships it to ReadMe Metrics (or another transport).
 * `MetricsModule.forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`, once, in the root module.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: METRICS_RESOLVED_OPTIONS,
      inject: [METRICS_MODULE_OPTIONS],
      useFactory: (options: MetricsModuleOptions) => resolveMetricsOptions(options),
    },
    {
      provide: Redactor,
      inject: [METRICS_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedMetricsOptions) => new Redactor(options),
    },
    {
      provide: METRICS_TRANSPORT,
      inject: [METRICS_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedMetricsOptions): MetricsTransport =>
        options.transport ??
        new ReadmeTransport({
          apiKey: options.apiKey ?? '',
          baseUrl: options.baseUrl,
          proxy: options.proxy,
          timeout: options.timeout,
          maxSockets: options.maxConcurrentRequests,
        }),
    },
    RecordFormatter,
    Dispatcher,
    ExchangeRecorder,
    ExpressHooks,
    FastifyContextHook,
    AxiosObserver,
    MetricsService,
    { provide: APP_GUARD, useClass: MetricsRouteGuard },
    { provide: APP_INTERCEPTOR, useClass: MetricsInterceptor },
    { provide: APP_FILTER, useClass: MetricsExceptionFilter },
  ],
  exports: [MetricsService, METRICS_TRANSPORT],
})
export class MetricsModule extends ConfigurableMetricsModule implements NestModule {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly expressHooks: ExpressHooks,
  ) {
    super();
  }

  /**
   * Nest calls this while it registers middleware, before its router: the right moment for native Express hooks
   * (see ExpressHooks). No Nest middleware is applied: `forRoutes('*')` needed a path that every prefix and
   * path-to-regexp version read differently. Fastify gets its hooks in FastifyContextHook.
   */
  configure(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'express') return;
    this.expressHooks.install(adapter.getInstance());
  }
}
