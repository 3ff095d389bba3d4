import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { Exchange } from './exchange';

/**
 * The current request's exchange. A plain AsyncLocalStorage rather than request-scoped providers: those would make
 * Nest rebuild every dependent provider per request.
 */
export const exchangeStorage = new AsyncLocalStorage<Exchange>();

/**
 * Exchanges by the Node request object, for code that gets the request but runs outside the context. A Map with
 * the entry removed when the response closes, not a WeakMap: V8's scavenger keeps WeakMap (ephemeron) entries of
 * young keys alive and rescans them, which took garbage collection from 2 to 16 µs per request (`--trace-gc`,
 * Node 24, Express GET); with the Map it is 4.5.
 */
const exchangesByRequest = new Map<IncomingMessage, Exchange>();

/** The Node request behind an Express or Fastify request. */
export function rawRequestOf(req: unknown): IncomingMessage {
  const raw = (req as { raw?: IncomingMessage }).raw;
  return raw ?? (req as IncomingMessage);
}

export function linkExchange(exchange: Exchange): void {
  exchangesByRequest.set(exchange.req, exchange);
}

/** The response closed: nothing will look the exchange up by its request any more. */
export function unlinkExchange(exchange: Exchange): void {
  exchangesByRequest.delete(exchange.req);
}

/** Exchanges linked now (tests check that none is left behind). */
export function linkedExchangeCount(): number {
  return exchangesByRequest.size;
}

export function exchangeOf(req: unknown): Exchange | undefined {
  return exchangesByRequest.get(rawRequestOf(req));
}

export function currentExchange(): Exchange | undefined {
  return exchangeStorage.getStore();
}
