import { Inject, Module, type FactoryProvider, type InjectionToken, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { ExchangeRecorder } from './capture/exchange-recorder';
import { ExpressHooks } from './capture/express-hooks';
import { GraphqlPathDiscovery } from './graphql-path-discovery';
import { FastifyContextHook } from './capture/fastify-context';
import { AxiosObserver } from './capture/outgoing/axios-observer';
import { MetricsExceptionFilter } from './capture/metrics-exception.filter';
import { MetricsInterceptor } from './capture/metrics.interceptor';
import { MetricsRouteGuard } from './capture/metrics-route.guard';
import { Dispatcher } from './deliver/dispatcher';
import { OffloadDispatcher } from './deliver/offload/offload-dispatcher';
import { HarFileTransport } from './deliver/transports/har-file.transport';
import { ReadmeTransport, readmeTransportOptions } from './deliver/transports/readme.transport';
import { RecordFormatter } from './format/record-formatter';
import type { MetricsModuleOptions } from './interfaces/metrics-options.interface';
import type { AnyMetricsTransport } from './interfaces/metrics-transport.interface';
import { RECORD_SINK } from './interfaces/record-sink.interface';
import { METRICS_RESOLVED_OPTIONS, METRICS_TRANSPORT } from './metrics.constants';
import { ConfigurableMetricsModule, METRICS_CONFIGURED_BY, METRICS_MODULE_OPTIONS } from './metrics.module-definition';
import { MetricsOptionsError, resolveMetricsOptions, type ResolvedMetricsOptions } from './metrics.options';
import { MetricsLogger } from './metrics.logger';
import { MetricsService } from './metrics.service';
import { Redactor } from './redact/redactor';
import { DocumentationLink } from './documentation-link';
import { ShutdownWatch } from './shutdown-watch';
import { TRAFFIC_PROVIDERS } from './traffic-metrics';
import { DashboardFeed } from './dashboard/dashboard-feed';
import { DASHBOARD_FEED, MetricsDashboard } from './metrics-dashboard';

const FASTIFY_HOOK = 'nestjs-api-metrics:fastify-hook';

/** A provider that exists only when `enabled` (its value is undefined otherwise). */
function whenEnabled(
  provide: string | symbol,
  inject: InjectionToken[],
  create: (...args: never[]) => unknown,
): FactoryProvider {
  return {
    provide,
    inject: [METRICS_RESOLVED_OPTIONS, ...inject],
    useFactory: (options: ResolvedMetricsOptions, ...args: unknown[]) =>
      options.enabled ? create(...(args as never[])) : undefined,
  };
}

/**
 * Records every HTTP exchange of the app and ships it to ReadMe Metrics (or another transport).
 * `MetricsModule.forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`, once, in the root module.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: METRICS_RESOLVED_OPTIONS,
      inject: [
        { token: METRICS_MODULE_OPTIONS, optional: true },
        { token: METRICS_CONFIGURED_BY, optional: true },
      ],
      useFactory: (options: MetricsModuleOptions, configuredBy: string | undefined) => {
        if (configuredBy === undefined) {
          throw new MetricsOptionsError(
            'MetricsModule was imported without options. Import MetricsModule.forRoot({ apiKey, ... }) or ' +
              'MetricsModule.forRootAsync({ ... }) once, in the root module; it is global, so other modules need ' +
              'not import it to inject MetricsService.',
          );
        }
        return resolveMetricsOptions(options);
      },
    },
    {
      provide: METRICS_TRANSPORT,
      inject: [METRICS_RESOLVED_OPTIONS],
      useFactory: async (options: ResolvedMetricsOptions): Promise<AnyMetricsTransport | undefined> => {
        if (!options.enabled) return options.transport ?? { send: () => Promise.resolve() };
        // A file that cannot be written stops the app now, not with retries after the first request.
        // With offload the worker opens it (and reports a failure before the app starts).
        if (options.transport instanceof HarFileTransport && !options.offload) await options.transport.ready();
        // With offload and no `transport`, the worker builds the ReadMe transport: none is needed on this thread.
        if (options.offload === 'worker') return options.transport;
        return options.transport ?? new ReadmeTransport(readmeTransportOptions(options));
      },
    },
    {
      // The dashboard's feed, when on: the records as written, and the pipeline's last problem.
      provide: DASHBOARD_FEED,
      inject: [METRICS_RESOLVED_OPTIONS],
      useFactory: (options: ResolvedMetricsOptions) =>
        options.enabled && options.dashboard ? new DashboardFeed(options.dashboard.maxRecordBytes) : undefined,
    },
    {
      // `offload: 'worker'`: the recorder and MetricsService talk to OffloadDispatcher; a worker thread runs the core
      // (its own Redactor, RecordFormatter and transport): none of them is built on this thread.
      provide: RECORD_SINK,
      inject: [METRICS_RESOLVED_OPTIONS, METRICS_TRANSPORT, DASHBOARD_FEED],
      useFactory: (
        options: ResolvedMetricsOptions,
        transport: AnyMetricsTransport | undefined,
        feed: DashboardFeed | undefined,
      ) => {
        if (options.enabled && options.offload === 'worker') {
          const offloadFeed = feed && {
            tap: feed.records.push,
            logged: (level: string, message: string) => feed.deliveryLog.logged(level, message),
          };
          return OffloadDispatcher.start(options, transport, new MetricsLogger(), offloadFeed);
        }
        const formatter = new RecordFormatter(options, new Redactor(options));
        const logger = feed ? feed.deliveryLog.wrap(new MetricsLogger()) : new MetricsLogger();
        return new Dispatcher(options, transport!, formatter, logger, feed?.records.push);
      },
    },
    ...TRAFFIC_PROVIDERS,
    ExchangeRecorder,
    ExpressHooks,
    AxiosObserver,
    MetricsService,
    MetricsDashboard,
    MetricsRouteGuard,
    MetricsInterceptor,
    MetricsExceptionFilter,
    GraphqlPathDiscovery,
    ShutdownWatch,
    DocumentationLink,
    // With `enabled: false` nothing is registered on the request path: Nest skips a global enhancer whose factory
    // returns undefined (NestJS 11 and 12), and the Fastify hooks are never added.
    whenEnabled(
      FASTIFY_HOOK,
      [HttpAdapterHost, ExchangeRecorder, METRICS_RESOLVED_OPTIONS],
      (host: HttpAdapterHost, recorder: ExchangeRecorder, options: ResolvedMetricsOptions) =>
        new FastifyContextHook(host, recorder, options),
    ),
    whenEnabled(APP_GUARD, [MetricsRouteGuard], (guard: MetricsRouteGuard) => guard),
    {
      provide: APP_INTERCEPTOR,
      inject: [METRICS_RESOLVED_OPTIONS, MetricsInterceptor],
      useFactory: (options: ResolvedMetricsOptions, interceptor: MetricsInterceptor) =>
        options.enabled && options.interceptor ? interceptor : undefined,
    },
    whenEnabled(APP_FILTER, [MetricsExceptionFilter], (filter: MetricsExceptionFilter) => filter),
  ],
  exports: [MetricsService, METRICS_TRANSPORT],
})
export class MetricsModule extends ConfigurableMetricsModule implements NestModule {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly expressHooks: ExpressHooks,
    private readonly dashboard: MetricsDashboard,
  ) {
    super();
  }

  /**
   * Nest calls this while it registers middleware, before its router: the right moment for native Express hooks
   * (see ExpressHooks). No Nest middleware is applied: `forRoutes('*')` needed a path that every prefix and
   * path-to-regexp version read differently. Fastify gets its hooks in FastifyContextHook.
   */
  configure(): void {
    if (!this.options.enabled) return;
    const adapter = this.adapterHost.httpAdapter;
    // The page first: on Express its requests are answered before the hooks below open a record.
    if (adapter && this.options.dashboard) this.dashboard.install(adapter.getType(), adapter.getInstance());
    if (adapter?.getType() !== 'express') return;
    this.expressHooks.install(adapter.getInstance());
  }
}
