import { Inject, Injectable, Optional } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mayAccess } from './dashboard/dashboard-access';
import { DASHBOARD_HEADERS, DashboardApi, type DashboardAnswer } from './dashboard/dashboard-api';
import type { DashboardFeed } from './dashboard/dashboard-feed';
import { METRICS_RESOLVED_OPTIONS } from './metrics.constants';
import { MetricsLogger } from './metrics.logger';
import type { ResolvedMetricsOptions } from './metrics.options';
import { MetricsService } from './metrics.service';

/** The injection token of the module's DashboardFeed (undefined while the dashboard is off). */
export const DASHBOARD_FEED = Symbol('nestjs-api-metrics.dashboard-feed');

type Next = () => void;
interface ExpressLike {
  use(handler: (req: IncomingMessage, res: ServerResponse, next: Next) => void): unknown;
}
interface FastifyRequestLike {
  raw: IncomingMessage;
  url: string;
}
interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  headers(headers: Record<string, string | number>): FastifyReplyLike;
  send(body?: unknown): unknown;
  callNotFound(): void;
}
interface FastifyLike {
  route(route: {
    method: string;
    url: string;
    handler: (req: FastifyRequestLike, reply: FastifyReplyLike) => void;
  }): unknown;
}

/**
 * The shell of the dashboard (src/dashboard): serves its URLs on the app's own HTTP server, behind the access rule.
 * Express: one app-level handler, registered before the module's hooks and Nest's router, so the page's requests never
 * open a record; every other request pays one `startsWith`. Fastify: two routes (the path and everything under it),
 * so other requests pay nothing; their exchanges are dropped by the `exclude` rules the dashboard adds. A request the
 * rule refuses, or a URL under the path that is none of the page's, goes on to the app's own 404.
 */
@Injectable()
export class MetricsDashboard {
  private readonly logger = new MetricsLogger();
  private api?: DashboardApi;

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    private readonly service: MetricsService,
    @Optional() @Inject(DASHBOARD_FEED) private readonly feed: DashboardFeed | undefined,
  ) {}

  /** Serves the page on the app's HTTP server (`express` or `fastify` instance). */
  install(type: string, instance: unknown): void {
    const dashboard = this.options.dashboard;
    if (!dashboard || !this.feed || this.api) return;
    this.api = new DashboardApi({
      path: dashboard.path,
      traffic: () => this.service.traffic(),
      trafficEnabled: this.options.traffic.enabled,
      stats: () => this.service.stats(),
      records: this.feed.records,
      deliveryLog: this.feed.deliveryLog,
    });
    const path = dashboard.path;
    if (type === 'express') {
      (instance as ExpressLike).use((req, res, next) => {
        const url = req.url ?? '';
        if (!url.startsWith(path) || !isUnder(url, path.length)) return next();
        this.serve(req, req, url, next, (answer) => write(res, req.method === 'HEAD', answer));
      });
    } else if (type === 'fastify') {
      const handler = (req: FastifyRequestLike, reply: FastifyReplyLike) =>
        this.serve(
          req.raw,
          req,
          req.url,
          () => reply.callNotFound(),
          (answer) =>
            reply
              .code(answer.status)
              .headers({ ...DASHBOARD_HEADERS, 'content-type': answer.type })
              .send(answer.body),
        );
      const fastify = instance as FastifyLike;
      fastify.route({ method: 'GET', url: path, handler });
      fastify.route({ method: 'GET', url: `${path}/*`, handler });
    } else {
      this.logger.warn(`dashboard: the ${type} platform is not supported (Express and Fastify are); it is not served`);
    }
  }

  private serve(
    raw: IncomingMessage,
    req: unknown,
    url: string,
    notFound: Next,
    send: (answer: DashboardAnswer) => void,
  ): void {
    const dashboard = this.options.dashboard;
    if (!dashboard || (raw.method !== 'GET' && raw.method !== 'HEAD')) return notFound();
    void mayAccess(dashboard.allow, req, raw.socket?.remoteAddress, this.options.timeout).then(async (allowed) => {
      if (!allowed) return notFound();
      let answer: DashboardAnswer | undefined;
      try {
        answer = await this.api!.answer(url);
      } catch (error) {
        this.logger.errorOnce('dashboard', 'The dashboard could not answer', error);
        answer = { status: 500, type: 'text/plain; charset=utf-8', body: 'The dashboard could not answer' };
      }
      if (!answer) return notFound();
      try {
        send(answer);
      } catch (error) {
        this.logger.errorOnce('dashboard-send', 'The dashboard could not send its answer', error);
      }
    });
  }
}

/** `/api-metrics`, `/api-metrics/…` and `/api-metrics?…` are the page's; `/api-metricsX` is not. */
function isUnder(url: string, length: number): boolean {
  const c = url.charCodeAt(length);
  return Number.isNaN(c) || c === 0x2f || c === 0x3f;
}

function write(res: ServerResponse, head: boolean, answer: DashboardAnswer): void {
  res.writeHead(answer.status, {
    ...DASHBOARD_HEADERS,
    'content-type': answer.type,
    'content-length': Buffer.byteLength(answer.body),
  });
  res.end(head ? undefined : answer.body);
}
