import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ExchangeRecorder } from './exchange-recorder';
import { exchangeStorage } from './request-context';

/**
 * Opens the exchange and its async context before guards run, for matched and unmatched routes. Express and
 * Fastify (through middie) both hand middleware the Node req/res.
 */
@Injectable()
export class CaptureMiddleware implements NestMiddleware {
  constructor(private readonly recorder: ExchangeRecorder) {}

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    let exchange;
    try {
      exchange = this.recorder.open(req, res);
    } catch {
      return next(); // never let recording stand between the client and the app
    }
    exchangeStorage.run(exchange, next);
  }
}
