import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { Exchange } from './exchange';

/**
 * The current request's exchange. A plain AsyncLocalStorage rather than request-scoped providers: those would make
 * Nest rebuild every dependent provider per request.
 */
export const exchangeStorage = new AsyncLocalStorage<Exchange>();

/** Exchanges by the Node request object, for code that gets the request but runs outside the context. */
const exchangesByRequest = new WeakMap<IncomingMessage, Exchange>();

/** The Node request behind an Express or Fastify request. */
export function rawRequestOf(req: unknown): IncomingMessage {
  const raw = (req as { raw?: IncomingMessage }).raw;
  return raw ?? (req as IncomingMessage);
}

export function linkExchange(exchange: Exchange): void {
  exchangesByRequest.set(exchange.req, exchange);
}

export function exchangeOf(req: unknown): Exchange | undefined {
  return exchangesByRequest.get(rawRequestOf(req));
}

export function currentExchange(): Exchange | undefined {
  return exchangeStorage.getStore();
}
