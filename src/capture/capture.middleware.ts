import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ExchangeRecorder } from './exchange-recorder';

/**
 * Express: opens the exchange and its async context before guards run, for matched and unmatched routes.
 * (Fastify uses a native onRequest hook instead, see FastifyContextHook.)
 */
@Injectable()
export class CaptureMiddleware implements NestMiddleware {
  constructor(private readonly recorder: ExchangeRecorder) {}

  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    this.recorder.openAndRun(req, res, req, next);
  }
}
