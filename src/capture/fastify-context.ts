import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ExchangeRecorder } from './exchange-recorder';
import { exchangeOf, exchangeStorage } from './request-context';

type Hook = (req: { raw: IncomingMessage }, reply: { raw: ServerResponse }, done: () => void) => void;
interface FastifyLike {
  addHook(name: 'onRequest' | 'preHandler', hook: Hook): void;
}

/**
 * On Fastify, exchanges are opened by an `onRequest` hook rather than Nest middleware: middleware runs through
 * middie, which costs Fastify about a fifth of its throughput even when it does nothing (measured, bench/).
 * Fastify parses request bodies in stream callbacks, which run outside the context opened there, so a `preHandler`
 * hook (after parsing, before guards) enters it again. On Express, `CaptureMiddleware` does the opening.
 */
@Injectable()
export class FastifyContextHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly recorder: ExchangeRecorder,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'fastify') return;
    const fastify = adapter.getInstance() as FastifyLike;
    fastify.addHook('onRequest', (req, reply, done) => this.recorder.openAndRun(req.raw, reply.raw, req, done));
    fastify.addHook('preHandler', (req, _reply, done) => {
      const exchange = exchangeOf(req.raw);
      if (!exchange) return done();
      exchange.platformRequest = req;
      exchangeStorage.run(exchange, done);
    });
  }
}
