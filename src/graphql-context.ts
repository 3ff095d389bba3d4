import type { ArgumentsHost, ExecutionContext } from '@nestjs/common';
import type { Exchange } from './capture/exchange';
import { exchangeOf } from './capture/request-context';

interface GraphqlContextLike {
  req?: unknown;
  request?: unknown;
  reply?: { request?: unknown };
}

/**
 * The platform request behind a `graphql` execution context, without importing @nestjs/graphql: the resolver's
 * third argument is the GraphQL context, where Apollo (Express and Fastify) and Mercurius put `req` (the drivers
 * assign it even to a context the app builds); `request` / `reply.request` as fallbacks for hand-made contexts.
 * Undefined for subscriptions over WebSockets (no HTTP request).
 */
export function graphqlRequestOf(host: ArgumentsHost): unknown {
  const context = host.getArgs()[2] as GraphqlContextLike | null | undefined;
  if (context === null || typeof context !== 'object') return undefined;
  return context.req ?? context.request ?? context.reply?.request;
}

/**
 * The exchange of the request a resolver, guard, interceptor or filter runs for in a `graphql` context. The first
 * root-field resolver seen becomes the exchange's handler, so `@SkipMetrics()` and the other decorators on resolvers
 * and resolver classes apply; field resolvers (`info.path.prev` set) never do.
 */
export function graphqlExchangeOf(host: ArgumentsHost): Exchange | undefined {
  try {
    const req = graphqlRequestOf(host);
    const exchange = req === undefined ? undefined : exchangeOf(req);
    if (!exchange || exchange.settled) return undefined;
    exchange.graphqlSeen = true;
    const info = host.getArgs()[3] as { path?: { prev?: unknown } } | undefined;
    if (!exchange.handler && info?.path?.prev === undefined) exchange.noteHandler(host as Partial<ExecutionContext>);
    return exchange;
  } catch {
    return undefined;
  }
}
