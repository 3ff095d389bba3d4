import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { exchangeOf, exchangeStorage } from './request-context';

interface FastifyLike {
  addHook(name: 'preHandler', hook: (req: { raw: IncomingMessage }, reply: unknown, done: () => void) => void): void;
}

/**
 * Fastify parses request bodies in stream callbacks, which run outside the context our middleware opened.
 * A `preHandler` hook (after parsing, before guards) enters it again; Express needs nothing.
 */
@Injectable()
export class FastifyContextHook implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'fastify') return;
    (adapter.getInstance() as FastifyLike).addHook('preHandler', (req, _reply, done) => {
      const exchange = exchangeOf(req.raw);
      if (!exchange) return done();
      exchange.platformRequest = req;
      exchangeStorage.run(exchange, done);
    });
  }
}
