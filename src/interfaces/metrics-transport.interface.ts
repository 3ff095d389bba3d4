import type { MetricsRecord } from './metrics-record.interface';
import type { RedactedExchange } from './redacted-exchange.interface';

/**
 * Where records go. Implement it to ship anywhere (a queue, a log, another vendor) and pass it as the `transport`
 * option. `send` is called off the request path with a batch; a rejection is logged and counted, never rethrown
 * into the app. Throw a `MetricsDeliveryError` with the HTTP status (and Retry-After) to steer retries.
 */
export interface MetricsTransport {
  send(records: MetricsRecord[]): Promise<void>;
  /** Called once on application shutdown, after the last flush. */
  close?(): Promise<void>;
}

/**
 * A transport that takes the redacted exchanges themselves rather than ReadMe records (the OpenTelemetry
 * transports build spans from them). Same contract as `MetricsTransport` otherwise.
 */
export interface ExchangeTransport {
  /** Tells the dispatcher to hand over `RedactedExchange`s. */
  readonly input: 'exchanges';
  send(exchanges: RedactedExchange[]): Promise<void>;
  close?(): Promise<void>;
}

export type AnyMetricsTransport = MetricsTransport | ExchangeTransport;

export function isExchangeTransport(transport: AnyMetricsTransport): transport is ExchangeTransport {
  return (transport as Partial<ExchangeTransport>).input === 'exchanges';
}
