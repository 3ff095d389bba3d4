import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { METRICS_RESOLVED_OPTIONS } from '../metrics.constants';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { ExchangeRecorder } from './exchange-recorder';
import { exchangeOf, exchangeStorage } from './request-context';

interface RequestLike {
  raw: IncomingMessage;
}
interface ReplyLike {
  raw: ServerResponse;
  statusCode: number;
  getHeader(name: string): unknown;
  getHeaders(): Record<string, number | string | string[] | undefined>;
}
type Done = (error?: null, payload?: unknown) => void;
interface FastifyLike {
  addHook(name: 'onRequest' | 'preHandler', hook: (req: RequestLike, reply: ReplyLike, done: Done) => void): void;
  addHook(name: 'onSend', hook: (req: RequestLike, reply: ReplyLike, payload: unknown, done: Done) => void): void;
}

/**
 * Fastify's native hooks (middleware runs through middie, which costs Fastify about a fifth of its throughput even
 * when it does nothing):
 * - `onRequest` opens the exchange and its async context;
 * - `preHandler` (after body parsing, before guards and the handler) enters the context again, because Fastify
 *   parses bodies in stream callbacks outside it, and takes the request body while nothing of the app touched it;
 * - `onSend` sees the payload Fastify is about to write (the serialized string or bytes; streams are not read).
 */
@Injectable()
export class FastifyContextHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly recorder: ExchangeRecorder,
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'fastify') return;
    const fastify = adapter.getInstance() as FastifyLike;
    const recorder = this.recorder;
    const background = this.options.backgroundWorkerMode;
    fastify.addHook('onRequest', (req, reply, done) => recorder.openAndRun(req.raw, reply.raw, req, done));
    fastify.addHook('preHandler', (req, _reply, done) => {
      const exchange = exchangeOf(req.raw);
      if (!exchange) return done();
      exchange.platformRequest = req;
      // Routed here before: the route's rules and the sampling draw apply now, before the body is taken.
      recorder.adoptRoute(exchange);
      recorder.takeRequestBody(exchange);
      exchangeStorage.run(exchange, done);
    });
    fastify.addHook('onSend', (req, reply, payload, done) => {
      const exchange = exchangeOf(req.raw);
      if (!exchange || exchange.settled) return done(null, payload);
      exchange.platformRequest = req;
      recorder.takeResponseBody(exchange, req.raw.method === 'HEAD' ? undefined : payload, {
        status: reply.statusCode,
        contentType: String(reply.getHeader('content-type') ?? ''),
        contentEncoding: reply.getHeader('content-encoding') as string | undefined,
        contentLength: reply.getHeader('content-length') as string | number | undefined,
      });
      if (background) return done(null, payload);
      void recorder
        .deliverBeforeResponse(exchange, { status: reply.statusCode, headers: reply.getHeaders() })
        .then(() => done(null, payload));
    });
  }
}
